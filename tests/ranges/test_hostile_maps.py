"""Issue 23, High: map endpoints amplified anonymous requests (shuffled codes missed the cache, ~37
tolerances accepted, kingdom ranges drawn, unbounded entries in the broker's Redis, no throttle)."""

import io
import logging
import re
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

import ranges.map_features
from ranges.geojson import MAP_TOLERANCES_DEG
from ranges.geometry import clean_polygonal
from ranges.models import RangePolygon, RegionOutline
from tests.factories import TaxonFactory, box, region, status

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def countries():
    return [region(f"C{i:02d}", "country", (i, 0, i + 1, 1), name=f"Country {i}") for i in range(8)]


@pytest.fixture
def builds(monkeypatch):
    """Every simplification on the request path, with its arguments (the costly part): region outlines
    not found stored, and a taxon's range polygons."""
    calls = []
    real_regions, real_range = ranges.map_features._computed_outlines, ranges.map_features.range_polygon_features

    def regions_spy(region_ids, tolerance):
        calls.append(("regions", {"regions": sorted(region_ids), "tolerance": tolerance}))
        return real_regions(region_ids, tolerance)

    def range_spy(taxon_ids, **kwargs):
        calls.append(("range", kwargs))
        return real_range(taxon_ids, **kwargs)

    monkeypatch.setattr(ranges.map_features, "_computed_outlines", regions_spy)
    monkeypatch.setattr(ranges.map_features, "range_polygon_features", range_spy)
    return calls


@pytest.fixture
def nutria():
    taxon = TaxonFactory(scientific_name="Myocastor coypus")
    RangePolygon.objects.create(
        taxon=taxon, origin="native", geometry=clean_polygonal(box(-70, -40, -55, -25)).wkb, source="test range"
    )
    status(taxon, region("US-LA", "admin1", (-94, 29, -89, 33)), "invasive")
    return taxon


# A column named "geometry" of any table but the range polygons' (a taxon's own, cached per tolerance).
REGION_GEOMETRY = re.compile(r'(?<!"ranges_rangepolygon")\."geometry"')


def geometry_reads(queries) -> list[str]:
    return [q["sql"] for q in queries if REGION_GEOMETRY.search(q["sql"])]


def drawn(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [f["properties"]["region"] for f in response.json()["features"]]


def test_high_map_flood_shuffled_or_repeated_codes_read_stored_outlines(client, countries, builds):
    with CaptureQueriesContext(connection) as queries:
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C01,C02,C03,C04")) == ["C01", "C02", "C03", "C04"]
        # The same regions shuffled, repeated, a subset: the answer keeps the order asked.
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C04,C02,C01,C03")) == ["C04", "C02", "C01", "C03"]
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C03,C03,C01,C03")) == ["C03", "C01"]
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C02,NOPE")) == ["C02"]
        assert drawn(client.get("/api/v1/regions/geojson/?codes=NOPE,C04&simplify=1")) == ["C04"]
    # Nothing simplified on the request path, no whole outline read: one query of the stored ones each.
    assert builds == []
    assert geometry_reads(queries.captured_queries) == []
    outline_reads = [q["sql"] for q in queries.captured_queries if "ranges_regionoutline" in q["sql"]]
    assert len(outline_reads) == 5


def test_high_map_flood_species_map_reads_stored_region_outlines(client, nutria, builds):
    for tolerance in ("0.01", "0.2"):
        with CaptureQueriesContext(connection) as queries:
            features = client.get(f"/api/v1/species/{nutria.pk}/range/?simplify={tolerance}").json()["features"]
        assert [f["properties"]["kind"] for f in features] == ["range_polygon", "region"]
        assert geometry_reads(queries.captured_queries) == []
    assert [kind for kind, _ in builds] == ["range", "range"]  # the taxon's own polygons, once per tolerance


def test_high_map_flood_without_stored_outlines_the_map_is_computed_and_logged(client, countries, builds, caplog):
    stored = drawn(client.get("/api/v1/regions/geojson/?codes=C02,C01&simplify=0.1"))
    RegionOutline.objects.all().delete()  # a database from before them
    with caplog.at_level(logging.WARNING, logger="ranges.map_features"), CaptureQueriesContext(connection) as queries:
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C02,C01&simplify=0.1")) == stored == ["C02", "C01"]
    assert len(geometry_reads(queries.captured_queries)) == 1  # the whole outlines: what stored ones spare
    assert [kwargs for _, kwargs in builds] == [{"regions": sorted(r.pk for r in countries[1:3]), "tolerance": 0.1}]
    assert "build_region_outlines" in caplog.text
    call_command("build_region_outlines", stdout=io.StringIO())
    builds.clear()
    assert drawn(client.get("/api/v1/regions/geojson/?codes=C02,C01&simplify=0.1")) == stored and builds == []


def test_high_map_flood_tolerances_are_a_small_fixed_set(client, nutria, builds):
    asked = [f"{d}e{e}" for e in range(-4, 0) for d in range(1, 10)] + ["1"]  # 37 forms were accepted
    for value in asked:
        assert client.get(f"/api/v1/species/{nutria.pk}/range/?simplify={value}").status_code == 200
        assert client.get(f"/api/v1/regions/geojson/?codes=US-LA&simplify={value}").status_code == 200
    built = {kwargs["tolerance"] for _, kwargs in builds}
    assert built <= set(MAP_TOLERANCES_DEG) and len(builds) == len(built) <= 7
    assert {kind for kind, _ in builds} == {"range"}  # the region outlines were all stored


def test_high_map_flood_range_above_a_family_is_refused(client):
    kingdom = TaxonFactory(scientific_name="Animalia", rank="kingdom")
    order = TaxonFactory(scientific_name="Rodentia", rank="order", parent=kingdom)
    family = TaxonFactory(scientific_name="Myocastoridae", rank="family", parent=order)
    status(
        TaxonFactory(scientific_name="Myocastor coypus", parent=family),
        region("TZA", "country", (29, -12, 41, -1)),
        "native",
    )
    for broad in (kingdom, order):
        response = client.get(f"/api/v1/species/{broad.pk}/range/")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "range_too_broad"
    assert client.get(f"/api/v1/species/{family.pk}/range/").status_code == 200


def test_high_map_flood_an_entry_over_the_size_cap_is_served_but_not_kept(client, nutria, builds, settings):
    settings.RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES = 100  # one range polygon is more than this
    for _ in range(2):
        assert client.get(f"/api/v1/species/{nutria.pk}/range/").status_code == 200
    assert len(builds) == 2  # built for each request, kept by none
    assert not caches["maps"]._cache  # noqa: SLF001 - LocMemCache's store: nothing was kept


def test_high_map_flood_range_polygons_are_cached_per_taxon_and_tolerance(client, nutria, builds):
    for _ in range(3):
        assert client.get(f"/api/v1/species/{nutria.pk}/range/?simplify=0.05").status_code == 200
    assert len(builds) == 1


def test_high_map_flood_map_cache_is_apart_from_the_broker_and_capped():
    assert "maps" in settings.CACHES and settings.CACHES["maps"] != settings.CACHES["default"]
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    app_env = compose["services"]["web"]["environment"]
    cache_host = app_env["MAP_CACHE_URL"].split("//")[1].split(":")[0]
    assert cache_host != app_env["CELERY_BROKER_URL"].split("//")[1].split(":")[0]
    command = compose["services"][cache_host]["command"]
    assert "--maxmemory 256mb" in command and "--maxmemory-policy allkeys-lru" in command


def test_high_map_flood_anonymous_map_requests_are_throttled(client, countries, settings):
    settings.RANGEWATCH_MAP_ANON_RATE = "3/minute"
    for _ in range(3):
        assert client.get("/api/v1/regions/geojson/?codes=C01").status_code == 200
    refused = client.get("/api/v1/regions/geojson/?codes=C02")
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    taxon = TaxonFactory(scientific_name="Myocastor coypus")
    assert client.get(f"/api/v1/species/{taxon.pk}/range/").status_code == 429
    # A signed-in user is not counted as an anonymous address.
    client.force_login(User.objects.create_user("mapper"))
    assert client.get("/api/v1/regions/geojson/?codes=C02").status_code == 200
