"""GET /api/v1/regions/geojson/: region outlines for maps (the regions of a verdict, the country base map)."""

import pytest
import shapely

from tests.factories import RegionFactory, region

pytestmark = pytest.mark.django_db


@pytest.fixture
def places():
    usa = region("USA", "country", (-125, 25, -66, 49), name="United States")
    florida = region("US-FL", "admin1", (-87, 25, -80, 31), parent=usa, name="Florida")
    region("US-GA", "admin1", (-85, 30, -81, 35), parent=usa, name="Georgia")
    region("TZA", "country", (29, -12, 41, -1), name="Tanzania")
    group = RegionFactory(code="US-SE", kind="group", name="South-east", geometry=b"")
    group.members.add(florida)
    return usa


def get(client, query):
    return client.get(f"/api/v1/regions/geojson/?{query}")


def test_regions_by_code_in_the_order_asked(client, places):
    response = get(client, "codes=US-FL,USA,NOPE")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/geo+json")
    features = response.json()["features"]
    assert [f["properties"]["region"] for f in features] == ["US-FL", "USA"]  # an unknown code is left out
    assert features[0]["properties"] == {
        "kind": "region",
        "region": "US-FL",
        "region_name": "Florida",
        "region_kind": "admin1",
    }
    assert shapely.geometry.shape(features[0]["geometry"]).bounds == pytest.approx((-87, 25, -80, 31))


def test_every_country_for_the_base_map(client, places):
    features = get(client, "kind=country&simplify=0.2").json()["features"]
    assert [f["properties"]["region"] for f in features] == ["TZA", "USA"]


def test_a_group_is_drawn_as_its_members(client, places):
    (feature,) = get(client, "codes=US-SE").json()["features"]
    assert shapely.geometry.shape(feature["geometry"]).bounds == pytest.approx((-87, 25, -80, 31))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "codes=USA&kind=country",
        "kind=admin2",
        "codes=,",
        "codes=" + ",".join(f"X{i}" for i in range(21)),
        "codes=USA&simplify=2",
        "codes=USA&simplify=nan",
    ],
)
def test_bad_queries_are_400_with_field_errors(client, places, query):
    response = get(client, query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and response.json()["error"]["fields"]
