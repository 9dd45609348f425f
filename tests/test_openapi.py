"""The published OpenAPI schema is usable from Swagger UI: the upload is a file picker, the examples
are a real case that answers, operations are grouped by area, and one auth scheme is documented."""

import pytest
from rest_framework.test import APIClient

from backend.openapi import REAL_EXAMPLES


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return APIClient().get("/api/schema/", {"format": "json"}).json()


def _resolve(schema, node):
    return schema["components"]["schemas"][node["$ref"].split("/")[-1]] if "$ref" in node else node


def test_upload_is_a_binary_file_with_the_elephants_coordinates_as_examples(schema):
    body = schema["paths"]["/api/v1/observations/"]["post"]["requestBody"]["content"]
    fields = _resolve(schema, body["multipart/form-data"]["schema"])["properties"]

    assert fields["photo"] == {**fields["photo"], "type": "string", "format": "binary"}
    assert (fields["latitude"]["example"], fields["longitude"]["example"]) == (-2.33, 34.83)


def test_bounded_coordinates_in_queries_carry_real_examples_not_their_maximum(schema):
    for path in ("/api/v1/check/", "/api/v1/regions/lookup/"):
        params = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}
        assert (params["lat"]["example"], params["lon"]["example"]) == (-2.33, 34.83), path
        assert params["lat"]["schema"]["maximum"] == 90  # the bound stays documented
    check = {p["name"]: p for p in schema["paths"]["/api/v1/check/"]["get"]["parameters"]}
    assert check["taxon"]["example"] == "Loxodonta africana"


def test_every_operation_has_one_declared_area_tag(schema):
    declared = {tag["name"] for tag in schema["tags"]}
    used = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, (method, path, operation["tags"])
            used.add(operation["tags"][0])
    assert used == declared and "v1" not in used


def test_one_auth_scheme_the_knox_token(schema):
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes) == ["knoxTokenAuth"]
    assert schemes["knoxTokenAuth"]["in"] == "header" and '"Token <key>"' in schemes["knoxTokenAuth"]["description"]
    for operations in schema["paths"].values():
        for operation in operations.values():
            assert {name for requirement in operation.get("security", []) for name in requirement} <= {"knoxTokenAuth"}


@pytest.mark.slow(reason="loads the whole starter pack: about 30 s")
@pytest.mark.django_db
def test_the_check_example_answers_native_on_the_real_starter_data(schema):
    """What "Try it out" sends with the schema's examples, on the data `manage.py bootstrap` loads
    (Natural Earth countries from their registry package, kept to East Africa here for speed, and
    the starter pack): the elephant is native in the Serengeti."""
    from backend.installation import NATURAL_EARTH, _region_sources
    from ranges.importers.regions import natural_earth_countries
    from ranges.services import regions_upsert
    from ranges.starter import load_statuses_and_contacts
    from species.starter import load_taxa_and_facts

    countries, _ = natural_earth_countries(_region_sources()[0], NATURAL_EARTH)
    regions_upsert(rows=[row for row in countries if row.code in {"TZA", "KEN", "UGA"}])
    load_taxa_and_facts()
    load_statuses_and_contacts()
    params = {p["name"]: p["example"] for p in schema["paths"]["/api/v1/check/"]["get"]["parameters"]}

    answer = APIClient().get("/api/v1/check/", params)

    assert params == {"lat": REAL_EXAMPLES["lat"], "lon": REAL_EXAMPLES["lon"], "taxon": REAL_EXAMPLES["taxon"]}
    assert answer.status_code == 200, answer.content
    assert answer.json()["verdict"]["status"] == "native" and answer.json()["verdict"]["region"]["code"] == "TZA"
