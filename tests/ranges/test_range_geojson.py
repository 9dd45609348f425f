"""GET /api/v1/species/{id}/range/: an RFC 7946 FeatureCollection in lon/lat, and its display form (?simplify=)."""

import gzip
import json

import pytest
import shapely

from ranges.geometry import clean_polygonal
from ranges.models import RangePolygon
from tests.conftest import shared_path
from tests.factories import RegionFactory, TaxonFactory, box, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def nutria():
    taxon = TaxonFactory(scientific_name="Myocastor coypus")
    # Native range in South America; lon -70..-55 cannot be a latitude, so the order is testable.
    RangePolygon.objects.create(
        taxon=taxon,
        origin="native",
        geometry=clean_polygonal(box(-70, -40, -55, -25)).wkb,
        source="test range",
        source_url="https://example.org/range",
    )
    louisiana = region("US-LA", "admin1", (-94, 29, -89, 33), name="Louisiana")
    status(taxon, louisiana, "invasive", source="US-RIIS")
    status(taxon, louisiana, "introduced", source="other list")
    return taxon


def get_range(client, pk):
    return client.get(f"/api/v1/species/{pk}/range/")


def test_feature_collection_per_rfc_7946(client, nutria):
    response = get_range(client, nutria.pk)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/geo+json")
    body = response.json()
    assert body["type"] == "FeatureCollection" and "crs" not in body  # RFC 7946 §4: WGS 84 only, no crs member
    assert body["taxon"] == {"id": nutria.pk, "scientific_name": "Myocastor coypus"}
    assert len(body["features"]) == 2
    for feature in body["features"]:
        assert feature["type"] == "Feature" and set(feature) >= {"type", "geometry", "properties"}
        geometry = feature["geometry"]
        assert geometry["type"] in ("Polygon", "MultiPolygon")
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            for ring in rings:
                assert ring[0] == ring[-1] and len(ring) >= 4  # closed linear rings
                assert all(len(position) == 2 for position in ring)


def test_exterior_rings_are_counter_clockwise(client, nutria):
    # RFC 7946 §3.1.6: exteriors counter-clockwise, holes clockwise.
    for feature in get_range(client, nutria.pk).json()["features"]:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for rings in polygons:
            assert shapely.LinearRing(rings[0]).is_ccw
            assert not any(shapely.LinearRing(hole).is_ccw for hole in rings[1:])


def test_coordinates_are_lon_lat(client, nutria):
    features = {f["properties"]["kind"]: f for f in get_range(client, nutria.pk).json()["features"]}
    native = shapely.geometry.shape(features["range_polygon"]["geometry"])
    assert native.bounds == pytest.approx((-70, -40, -55, -25))
    assert native.contains(shapely.Point(-60, -34))  # Argentina, as (lon, lat)
    louisiana = shapely.geometry.shape(features["region"]["geometry"])
    assert louisiana.bounds == pytest.approx((-94, 29, -89, 33))


def test_properties_status_and_sources(client, nutria):
    features = {f["properties"]["kind"]: f["properties"] for f in get_range(client, nutria.pk).json()["features"]}
    assert features["range_polygon"]["status"] == "native"
    assert features["range_polygon"]["sources"] == [{"name": "test range", "url": "https://example.org/range"}]
    # Two lists disagree about Louisiana: the more alarming one is shown, both are cited.
    assert features["region"]["status"] == "invasive" and features["region"]["region"] == "US-LA"
    assert {s["name"] for s in features["region"]["sources"]} == {"US-RIIS", "other list"}


def test_group_region_is_drawn_as_its_members(client):
    taxon = TaxonFactory(scientific_name="Sciurus carolinensis")
    group = RegionFactory(code="US-TEST", kind="group", name="Two states", geometry=b"")
    group.members.add(region("US-OH", "admin1", (-85, 38, -80, 42)), region("US-IN", "admin1", (-88, 38, -85, 42)))
    status(taxon, group, "native")
    (feature,) = get_range(client, taxon.pk).json()["features"]
    assert feature["properties"]["region"] == "US-TEST"
    assert shapely.geometry.shape(feature["geometry"]).bounds == pytest.approx((-88, 38, -80, 42))


def test_taxon_without_range_data_is_an_empty_collection(client):
    taxon = TaxonFactory(scientific_name="Nullus datus")
    body = get_range(client, taxon.pk).json()
    assert body["type"] == "FeatureCollection" and body["features"] == []


def test_unknown_taxon_is_404(client):
    response = get_range(client, 999999)
    assert response.status_code == 404


@pytest.fixture
def beaver_in_canada():
    """A real country outline (Natural Earth 1:50m Canada) under a native status."""
    path = shared_path("geo", "natural_earth", "ne_50m_admin_0_countries.json")
    (canada,) = [f for f in json.loads(path.read_text())["features"] if f["properties"]["ADM0_A3"] == "CAN"]
    taxon = TaxonFactory(scientific_name="Castor canadensis")
    outline = clean_polygonal(shapely.geometry.shape(canada["geometry"]))
    row = RegionFactory(code="CAN", kind="country", name="Canada", geometry=outline.wkb)
    status(taxon, row, "native")
    return taxon


def vertices(body) -> int:
    return sum(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"])) for f in body["features"])


def test_simplify_gives_a_lighter_display_form_of_the_same_range(client, beaver_in_canada):
    full = get_range(client, beaver_in_canada.pk)
    shown = client.get(f"/api/v1/species/{beaver_in_canada.pk}/range/?simplify=0.05")
    assert shown.status_code == 200
    assert len(shown.content) < 0.5 * len(full.content)
    assert vertices(shown.json()) < 0.5 * vertices(full.json())
    (feature,) = shown.json()["features"]
    assert feature["properties"]["region"] == "CAN" and feature["properties"]["status"] == "native"
    assert shapely.geometry.shape(feature["geometry"]).contains(shapely.Point(-75.7, 45.4))  # Ottawa


@pytest.mark.parametrize("value", ["0", "-1", "5", "nan", "inf", "a lot"])
def test_bad_simplify_is_a_400_naming_the_field(client, nutria, value):
    response = client.get(f"/api/v1/species/{nutria.pk}/range/?simplify={value}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and "simplify" in response.json()["error"]["fields"]


def test_the_map_follows_a_data_change(client, nutria):
    def regions_drawn():
        return {f["properties"].get("region") for f in get_range(client, nutria.pk).json()["features"]}

    assert regions_drawn() == {None, "US-LA"}
    # region() moves the data version, as every service and import does: the cached map is not served.
    status(nutria, region("US-TX", "admin1", (-106, 26, -94, 36), name="Texas"), "invasive")
    assert regions_drawn() == {None, "US-LA", "US-TX"}


def test_gzip_when_the_browser_accepts_it(client, nutria):
    response = client.get(f"/api/v1/species/{nutria.pk}/range/", HTTP_ACCEPT_ENCODING="gzip")
    assert response["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.content))["type"] == "FeatureCollection"


def test_a_family_shows_the_ranges_of_its_members(client):
    # An answer rolled up to the family (a photo that could be either elephant) links to this map.
    family = TaxonFactory(scientific_name="Elephantidae", rank="family")
    loxodonta = TaxonFactory(scientific_name="Loxodonta", rank="genus", parent=family)
    elephas = TaxonFactory(scientific_name="Elephas", rank="genus", parent=family)
    african = TaxonFactory(scientific_name="Loxodonta africana", parent=loxodonta)
    asian = TaxonFactory(scientific_name="Elephas maximus", parent=elephas)
    tanzania, india = region("TZA", "country", (29, -12, 41, -1)), region("IND", "country", (68, 7, 97, 35))
    status(african, tanzania, "native")
    status(asian, india, "native")
    status(asian, tanzania, "introduced", source="a register")  # a member alien where another is native
    features = {f["properties"]["region"]: f["properties"] for f in get_range(client, family.pk).json()["features"]}
    assert features["IND"]["status"] == "native" and features["IND"]["taxa"] == ["Elephas maximus"]
    # The family belongs in Tanzania: native wins across members, every record is cited.
    assert features["TZA"]["status"] == "native"
    assert features["TZA"]["taxa"] == ["Elephas maximus", "Loxodonta africana"]
    assert {s["status"] for s in features["TZA"]["sources"]} == {"native", "introduced"}
    # A species shows only its own range.
    asian_range = [f["properties"] for f in get_range(client, asian.pk).json()["features"]]
    assert {p["region"]: p["status"] for p in asian_range} == {"IND": "native", "TZA": "introduced"}


def test_simplify_is_rounded_to_one_significant_digit(client, nutria):
    rounded = client.get(f"/api/v1/species/{nutria.pk}/range/?simplify=0.047")
    assert rounded.status_code == 200
    assert rounded.content == client.get(f"/api/v1/species/{nutria.pk}/range/?simplify=0.05").content


def test_a_browser_with_the_current_data_gets_304(client, nutria):
    first = get_range(client, nutria.pk)
    assert first.status_code == 200 and first["ETag"]
    again = client.get(f"/api/v1/species/{nutria.pk}/range/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    # New range data, a new version: the full map again.
    status(nutria, region("US-TX", "admin1", (-106, 26, -94, 36), name="Texas"), "invasive")
    assert client.get(f"/api/v1/species/{nutria.pk}/range/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_the_map_forms_chained_from_finer_ones_stay_within_twice_their_tolerance():
    """Input: Norway at 1:50m (fjords and islands, ../shared/data), its 7 map forms each simplified
    from the finer one (stored outlines are built so, in about half the CPU of 7 passes over the
    whole outline): the finest is what display_geometry gives, every form lies within twice its
    tolerance of the real coastline and keeps its area to within a few percent."""
    from ranges.geojson import MAP_TOLERANCES_DEG, display_geometries, display_geometry

    countries = json.loads(shared_path("geo", "natural_earth", "ne_50m_admin_0_countries.json").read_text())
    norway = next(f for f in countries["features"] if f["properties"]["ADM0_A3"] == "NOR")
    outline = shapely.geometry.shape(norway["geometry"])
    forms = display_geometries(outline, MAP_TOLERANCES_DEG)
    assert forms[0] == display_geometry(outline, MAP_TOLERANCES_DEG[0])
    for tolerance, form in zip(MAP_TOLERANCES_DEG, forms):
        if form is None:
            continue
        shape = shapely.geometry.shape(form)
        assert shapely.hausdorff_distance(shape, outline) <= 2 * tolerance + 1e-9, tolerance
        if tolerance <= 0.1:
            assert abs(shape.area - outline.area) / outline.area < 0.05, tolerance
