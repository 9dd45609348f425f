"""Stored map outlines (issue 23, round two): every write of region geometry stores the region's outline
at each map tolerance, so that map requests never simplify a whole outline."""

import io
import json

import pytest
import shapely
from django.core.management import call_command

from ranges.geojson import MAP_TOLERANCES_DEG
from ranges.importers import ImportConfig, data_import
from ranges.models import Region, RegionOutline
from ranges.services import region_group_upsert
from tests.factories import region

pytestmark = pytest.mark.django_db


def write_countries(path, boxes: dict[str, tuple]):
    features = [
        {
            "type": "Feature",
            "properties": {"ISO_A3": code, "ADM0_A3": code, "NAME_EN": f"Country {code}", "ISO_A2": code[:2]},
            "geometry": shapely.geometry.mapping(shapely.box(*bounds)),
        }
        for code, bounds in boxes.items()
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def import_countries(path, dry_run=False):
    return data_import(ImportConfig(fmt="natural-earth", paths=(path,), dry_run=dry_run, progress=False))


def outlines(code) -> dict[float, object]:
    rows = RegionOutline.objects.filter(region__code=code).values_list("tolerance", "geojson")
    return {t: shapely.geometry.shape(json.loads(text)) if text else None for t, text in rows}


def test_an_import_stores_each_outline_at_every_map_tolerance(tmp_path):
    import_countries(write_countries(tmp_path / "ne_10m_admin_0_countries.json", {"XXA": (10, 0, 20, 5)}))
    stored = outlines("XXA")
    assert sorted(stored) == sorted(MAP_TOLERANCES_DEG)
    assert all(shape.bounds == pytest.approx((10, 0, 20, 5)) for shape in stored.values())


def test_an_import_changing_a_region_outline_rewrites_its_stored_outlines(tmp_path):
    path = tmp_path / "ne_10m_admin_0_countries.json"
    import_countries(write_countries(path, {"XXA": (10, 0, 20, 5), "XXB": (30, 0, 31, 1)}))
    untouched = set(RegionOutline.objects.filter(region__code="XXB").values_list("pk", flat=True))
    import_countries(write_countries(path, {"XXA": (-5, -5, 0, 0), "XXB": (30, 0, 31, 1)}))
    assert all(shape.bounds == pytest.approx((-5, -5, 0, 0)) for shape in outlines("XXA").values())
    assert len(outlines("XXA")) == len(MAP_TOLERANCES_DEG)
    # A region whose geometry did not change keeps the outlines it had.
    assert set(RegionOutline.objects.filter(region__code="XXB").values_list("pk", flat=True)) == untouched


def test_a_dry_run_stores_no_outline(tmp_path):
    import_countries(write_countries(tmp_path / "ne_10m_admin_0_countries.json", {"XXA": (10, 0, 20, 5)}), True)
    assert not RegionOutline.objects.exists()


def test_an_outline_that_vanishes_at_a_tolerance_is_stored_as_nothing_to_draw():
    region("TINY", "country", (0, 0, 0.001, 0.001))
    stored = outlines("TINY")
    assert stored[0.01] is not None and stored[1.0] is None


def test_a_group_outline_is_its_members_and_follows_their_changes(tmp_path):
    path = tmp_path / "ne_10m_admin_0_countries.json"
    import_countries(write_countries(path, {"XXA": (0, 0, 5, 5), "XXB": (5, 0, 10, 5)}))
    region_group_upsert(code="X-G", name="Both", parent_code="XXA", member_codes=["XXA", "XXB"], source="test")
    assert outlines("X-G")[0.01].bounds == pytest.approx((0, 0, 10, 5))
    import_countries(write_countries(path, {"XXA": (0, 0, 5, 5), "XXB": (5, 0, 12, 5)}))
    assert outlines("X-G")[0.01].bounds == pytest.approx((0, 0, 12, 5))


def test_the_command_builds_what_is_missing_or_outdated_only(tmp_path):
    import_countries(write_countries(tmp_path / "ne_10m_admin_0_countries.json", {"XXA": (0, 0, 5, 5)}))
    region("XXC", "country", (1, 1, 2, 2))
    RegionOutline.objects.filter(region__code="XXC").delete()
    Region.objects.create(code="001", kind="country", name="World")  # no outline: stored as nothing to draw
    out = io.StringIO()
    call_command("build_region_outlines", stdout=out)
    assert "2 regions built" in out.getvalue()
    assert outlines("XXC")[0.1].bounds == pytest.approx((1, 1, 2, 2))
    assert set(outlines("001").values()) == {None}
    out = io.StringIO()
    call_command("build_region_outlines", stdout=out)
    assert "0 regions built" in out.getvalue()
