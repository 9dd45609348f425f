"""Issue 23, High: map endpoints amplified anonymous requests (shuffled codes missed the cache, ~37
tolerances accepted, kingdom ranges drawn, unbounded entries in the broker's Redis, no throttle)."""

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import caches

import ranges.map_features
from ranges.geojson import MAP_TOLERANCES_DEG
from tests.factories import TaxonFactory, region, status

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def countries():
    return [region(f"C{i:02d}", "country", (i, 0, i + 1, 1), name=f"Country {i}") for i in range(8)]


@pytest.fixture
def builds(monkeypatch):
    """Every call of the real region / range builders, with its arguments (the costly part)."""
    calls = []
    real_regions, real_range = ranges.map_features.region_features, ranges.map_features.species_range_features

    def regions_spy(**kwargs):
        calls.append(("regions", kwargs))
        return real_regions(**kwargs)

    def range_spy(taxon, **kwargs):
        calls.append(("range", kwargs))
        return real_range(taxon, **kwargs)

    monkeypatch.setattr(ranges.map_features, "region_features", regions_spy)
    monkeypatch.setattr(ranges.map_features, "species_range_features", range_spy)
    return calls


def drawn(response) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [f["properties"]["region"] for f in response.json()["features"]]


def test_high_map_flood_shuffled_or_repeated_codes_hit_the_cache(client, countries, builds):
    assert drawn(client.get("/api/v1/regions/geojson/?codes=C01,C02,C03,C04")) == ["C01", "C02", "C03", "C04"]
    builds.clear()
    # The same regions shuffled, repeated, a subset: the answer keeps the order asked, nothing is rebuilt.
    assert drawn(client.get("/api/v1/regions/geojson/?codes=C04,C02,C01,C03")) == ["C04", "C02", "C01", "C03"]
    assert drawn(client.get("/api/v1/regions/geojson/?codes=C03,C03,C01,C03")) == ["C03", "C01"]
    assert drawn(client.get("/api/v1/regions/geojson/?codes=C02,NOPE")) == ["C02"]
    assert drawn(client.get("/api/v1/regions/geojson/?codes=NOPE,C04")) == ["C04"]  # an unknown code: one read
    assert [kwargs["codes"] for _, kwargs in builds] == [["NOPE"]]


def test_high_map_flood_tolerances_are_a_small_fixed_set(client, builds):
    taxon = TaxonFactory(scientific_name="Myocastor coypus")
    status(taxon, region("US-LA", "admin1", (-94, 29, -89, 33)), "invasive")
    asked = [f"{d}e{e}" for e in range(-4, 0) for d in range(1, 10)] + ["1"]  # 37 forms were accepted
    for value in asked:
        assert client.get(f"/api/v1/species/{taxon.pk}/range/?simplify={value}").status_code == 200
    built = {kwargs["tolerance"] for _, kwargs in builds}
    assert built <= set(MAP_TOLERANCES_DEG) and len(builds) == len(built) <= 7


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


def test_high_map_flood_an_entry_over_the_size_cap_is_served_but_not_kept(client, countries, builds, settings):
    settings.RANGEWATCH_MAP_CACHE_ENTRY_MAX_BYTES = 100  # one country outline is more than this
    for _ in range(2):
        assert drawn(client.get("/api/v1/regions/geojson/?codes=C01")) == ["C01"]
        assert drawn(client.get("/api/v1/regions/geojson/?kind=country&simplify=0.2"))
    assert len(builds) == 4  # built for each request, kept by none
    assert not caches["maps"]._cache  # noqa: SLF001 - LocMemCache's store: nothing was kept


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
