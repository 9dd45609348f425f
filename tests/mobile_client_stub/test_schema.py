"""The client follows the published contract: every path, method and field it uses is in the live
server's OpenAPI schema."""

import pytest

from mobile_client_stub.api import CONTRACT, RESULT_FIELDS, RangeWatchClient

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].split("/")[-1]]
    for combinator in ("allOf", "oneOf", "anyOf"):  # nullable nested objects come wrapped
        if combinator in node:
            merged = {"properties": {}}
            for part in node[combinator]:
                part = _resolve(schema, part)
                merged["properties"].update(part.get("properties", {}))
                if part.get("type") == "array":
                    return part
            return merged
    return node


def _field_exists(schema: dict, component: str, dotted: str) -> bool:
    node = _resolve(schema, {"$ref": f"#/components/schemas/{component}"})
    for name in dotted.split("."):
        node = _resolve(schema, node)
        if node.get("type") == "array":
            node = _resolve(schema, node["items"])
        properties = node.get("properties", {})
        if name not in properties:
            return False
        node = properties[name]
    return True


@pytest.fixture(scope="module")
def schema(live_stack):
    return RangeWatchClient(live_stack.base_url).schema()


def _check(schema: dict, entry: dict) -> list[str]:
    problems = []
    operation = schema["paths"].get(entry["path"], {}).get(entry["method"])
    if operation is None:
        return [f"{entry['method'].upper()} {entry['path']} is not in the schema"]
    params = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
    for name in entry.get("query", []):
        if ("query", name) not in params:
            problems.append(f"{entry['path']}: no query parameter {name}")
    for name in entry.get("headers", []):
        if ("header", name.lower()) not in params:
            problems.append(f"{entry['path']}: no header {name}")
    content = operation.get("requestBody", {}).get("content", {})
    for kind, media in (("form", "multipart/form-data"), ("json", "application/json")):
        if entry.get(kind):
            body = _resolve(schema, content.get(media, {}).get("schema", {}))
            for name in entry[kind]:
                if name not in body.get("properties", {}):
                    problems.append(f"{entry['path']}: no {media} field {name}")
    if entry.get("response"):
        answers = {
            code: r.get("content", {}).get("application/json", {}).get("schema", {})
            for code, r in operation["responses"].items()
        }
        if not any(s.get("$ref", "").split("/")[-1] in entry["response"] for s in answers.values()):
            problems.append(f"{entry['path']}: does not answer {entry['response']}")
    return problems


def test_every_call_the_client_makes_matches_the_schema(schema):
    """Observations, auth, the list, camera-trap projects: all of CONTRACT, none skipped."""
    problems = [p for entry in CONTRACT for p in _check(schema, entry)]
    assert not problems, problems


def test_result_fields_the_client_reads_exist(schema):
    missing = [f for f in RESULT_FIELDS if not _field_exists(schema, "ObservationOutput", f)]
    assert not missing, missing
