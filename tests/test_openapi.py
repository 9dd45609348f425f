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


def test_upload_is_a_binary_file_and_the_docs_page_fills_in_no_optional_field(schema):
    """Issue 22: "Try it out" with only a file stored accuracy_m = 20,037,509 m (the field's maximum) and
    observed_at = now instead of the photo's EXIF date. Every optional field of an upload form now has
    an empty example (an omitted field to the API); the real case is in the description."""
    body = schema["paths"]["/api/v1/observations/"]["post"]["requestBody"]["content"]
    form = _resolve(schema, body["multipart/form-data"]["schema"])
    fields = form["properties"]

    assert fields["photo"] == {**fields["photo"], "type": "string", "format": "binary"}
    for name in ("latitude", "longitude", "accuracy_m", "observed_at"):
        assert fields[name]["example"] == "", name
    assert "e.g. -2.33" in fields["latitude"]["description"]
    assert fields["geoprivacy"]["default"] == "open"  # what the server does anyway
    for name, component in schema["components"]["schemas"].items():
        if any(p.get("format") == "binary" for p in component.get("properties", {}).values()):
            optional = set(component["properties"]) - set(component.get("required", []))
            for field in optional:
                prop = component["properties"][field]
                assert prop.get("example") == "" or "default" in prop, f"{name}.{field}: {prop}"


@pytest.mark.django_db
def test_empty_optional_fields_from_the_docs_page_are_omitted_fields(tmp_path):
    """What Swagger UI sends for the empty examples: the photo's EXIF date is kept, no accuracy made up."""
    from observations.models import Observation
    from tests.conftest import shared_path
    from tests.factories import UserFactory
    from tests.world import api_for

    photo = shared_path("photos", "speciesnet_test_images", "african_elephants.jpg")
    client = api_for(UserFactory(username="swagger"))
    with open(photo, "rb") as fh:
        form = {"photo": fh, "latitude": "-2.33", "longitude": "34.83", "accuracy_m": "", "observed_at": ""}
        response = client.post("/api/v1/observations/", form, format="multipart")
    assert response.status_code in (200, 202), response.content
    stored = Observation.objects.get(uuid=response.json()["id"])
    assert stored.accuracy_m is None
    assert stored.observed_at is None or stored.observed_at.year < 2026


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

    assert params == {k: REAL_EXAMPLES[k] for k in ("lat", "lon", "taxon", "kingdom")}
    assert answer.status_code == 200, answer.content
    assert answer.json()["verdict"]["status"] == "native" and answer.json()["verdict"]["region"]["code"] == "TZA"
    assert answer.json()["expected_here"] is True
