"""OpenAPI post-processing: every operation documents the shared error responses."""

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "machine-readable, e.g. invalid, image_corrupt, not_found"},
                "detail": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "detail"],
        }
    },
    "required": ["error"],
}
ERRORS = {
    "400": "invalid input (field errors, or a photo that is corrupt / too large / not an accepted format)",
    "401": "authentication needed",
    "403": "not allowed for this role",
    "404": "no such object, or not yours",
    "405": "method not allowed",
    "406": "not acceptable",
    "413": "request body over the upload limit",
    "415": "unsupported media type",
    "429": "rate limited; see Retry-After",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for code, description in ERRORS.items():
                responses.setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result


# A real case, so that "Try it out" works as given: the African elephant photographed in the
# Serengeti (../shared/data/photos/speciesnet_test_images/african_elephants.jpg), native there.
# Without an example Swagger UI pre-fills a bounded number with its maximum (lat 90, lon 180).
REAL_EXAMPLES = {
    "latitude": -2.33,
    "lat": -2.33,
    "longitude": 34.83,
    "lon": 34.83,
    "taxon": "Loxodonta africana",
    "kingdom": "Animalia",
    "q": "elephant",
}


def _is_upload_form(component: dict) -> bool:
    return any(prop.get("format") == "binary" for prop in component.get("properties", {}).values())


def add_real_examples(result, generator, request, public):
    """Examples on the query parameters and request-body fields named in REAL_EXAMPLES.

    An upload form's optional fields get an empty example instead: Swagger UI's "Try it out" sends every
    field it shows a value for, so a made-up sample (accuracy_m = the field's maximum 20,037,509 m,
    observed_at = now, a place far from the photo's GPS) would be stored as if the user had said it. An
    empty form value is an omitted field to the API; the description still gives the real case."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "query" and parameter["name"] in REAL_EXAMPLES:
                    parameter.setdefault("example", REAL_EXAMPLES[parameter["name"]])
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if not name.endswith("Request"):  # request bodies only (COMPONENT_SPLIT_REQUEST)
            continue
        upload = _is_upload_form(component)
        required = set(component.get("required", []))
        for field, schema in component.get("properties", {}).items():
            if upload and field not in required and "default" not in schema:
                schema["example"] = ""
                if field in REAL_EXAMPLES:
                    hint = f"e.g. {REAL_EXAMPLES[field]}; leave empty to omit"
                    schema["description"] = f"{schema.get('description', '')} ({hint})".strip()
            elif field in REAL_EXAMPLES and "example" not in schema:
                schema["example"] = REAL_EXAMPLES[field]
    return result
