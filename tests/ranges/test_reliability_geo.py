"""Geography guarantees (docs/reliability.md R29-R31), on the functions every import path and verdict uses."""

import pytest
import shapely

from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.range_index import RangeIndex, RangeRecord, RegionRecord, StatusRecord
from ranges.verdict import INVASIVE, NATIVE, OUT_OF_RANGE, UNKNOWN, verdict


def test_r29_self_intersecting_polygon_is_repaired_with_a_message():
    bowtie = shapely.Polygon([(0, 0), (10, 10), (10, 0), (0, 10), (0, 0)])
    assert not bowtie.is_valid
    clean = clean_polygonal(bowtie, label="bowtie range")
    assert clean.repaired and clean.geometry.is_valid and "Self-intersection" in clean.message
    assert clean.geometry.area > 0


def test_r29_swapped_lat_lon_is_rejected_with_the_reason():
    # An Alaska range written as (lat, lon): "latitudes" of -160..-140 cannot be.
    swapped = shapely.box(55, -160, 65, -140)
    with pytest.raises(GeometryRejected, match="lat/lon"):
        clean_polygonal(swapped, label="alaska range")


def test_r29_antimeridian_ring_is_rejected():
    # A Fiji-like ring drawn from 179 to -179 the long way round.
    ring = shapely.Polygon([(179, -17), (-179, -17), (-179, -16), (179, -16), (179, -17)])
    with pytest.raises(GeometryRejected, match="antimeridian"):
        clean_polygonal(ring, label="fiji")


def _index(**kwargs):
    return RangeIndex(
        regions=[RegionRecord("AAA", "country", "Aland")],
        region_geometries=[shapely.box(0, 0, 10, 10)],
        snap_tolerance_deg=0.2,
        **kwargs,
    )


def test_r30_point_on_range_boundary_is_covered_and_point_in_hole_is_not_native():
    ring = shapely.Polygon([(0, 0), (6, 0), (6, 6), (0, 6)], holes=[[(2, 2), (4, 2), (4, 4), (2, 4)]])
    index = _index(ranges=[RangeRecord("Vulpes vulpes", "native", "test polygon")], range_geometries=[ring])
    assert verdict("Vulpes vulpes", 6, 3, index).status == NATIVE  # on the edge: covers
    assert verdict("Vulpes vulpes", 2, 3, index).status == NATIVE  # on the hole's edge: still covered
    assert verdict("Vulpes vulpes", 3, 3, index).status == OUT_OF_RANGE  # inside the hole


def test_r31_species_without_range_data_is_unknown_never_invasive():
    index = _index(statuses=[StatusRecord("Sus scrofa", "AAA", INVASIVE, "register")])
    found = verdict("Nullus datus", 5, 5, index)
    assert found.status == UNKNOWN and not found.is_alert and found.sources == ()
