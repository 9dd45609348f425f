"""The range index internals behind the verdict: subdivided pieces, bulk lookups, exact snapping, caches."""

import numpy as np
import shapely

from ranges.range_index import MAX_PIECE_VERTICES, RangeIndex, RangeRecord, RegionRecord, StatusRecord, subdivide
from ranges.verdict import INVASIVE, NATIVE, OUT_OF_RANGE, verdict, verdicts_many


def wiggly(cx, cy, radius, n=5000, holes=()):
    """A polygon with many vertices (a coast-like outline), optionally with holes."""
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = radius * (1 + 0.05 * np.sin(angles * 97))
    return shapely.Polygon(np.column_stack([cx + r * np.cos(angles), cy + r * np.sin(angles)]), holes=holes)


def test_subdivide_pieces_are_small_and_cover_exactly_the_polygon():
    hole = shapely.box(-1, -1, 1, 1).exterior.coords
    geoms = np.array([wiggly(0, 0, 5, holes=[hole]), shapely.box(20, 0, 21, 1)], dtype=object)
    pieces, owner = subdivide(geoms)
    assert (shapely.get_num_coordinates(pieces) <= MAX_PIECE_VERTICES).all()
    assert set(owner.tolist()) == {0, 1} and (owner == 1).sum() == 1  # a small polygon stays whole
    for i, geom in enumerate(geoms):
        mine = shapely.union_all(pieces[owner == i])
        assert abs(mine.area - geom.area) < 1e-9 and shapely.symmetric_difference(mine, geom).area < 1e-9
    assert not any(p.covers(shapely.Point(0, 0)) for p in pieces)  # the hole stays a hole


def big_world():
    regions = [
        (RegionRecord("AAA", "country", "Aland"), wiggly(0, 0, 5)),
        (
            RegionRecord("AA-N", "admin1", "North", "AAA"),
            shapely.intersection(wiggly(0, 0, 5), shapely.box(-6, 0, 6, 6)),
        ),
        (
            RegionRecord("AA-S", "admin1", "South", "AAA"),
            shapely.intersection(wiggly(0, 0, 5), shapely.box(-6, -6, 6, 0)),
        ),
        (RegionRecord("BBB", "country", "Bland"), wiggly(20, 0, 3)),
    ]
    return RangeIndex(
        regions=[r for r, _ in regions],
        region_geometries=[g for _, g in regions],
        statuses=[
            StatusRecord("Sus scrofa", "AA-N", INVASIVE, "src"),
            StatusRecord("Sus scrofa", "BBB", NATIVE, "src"),
        ],
        ranges=[RangeRecord("Vulpes vulpes", "native", "poly")],
        range_geometries=[shapely.box(-2, -2, 2, 2)],
        snap_tolerance_deg=0.5,
    ), {r.code: g for r, g in regions}


def test_bulk_and_single_lookups_agree_and_snap_distances_are_exact():
    index, geoms = big_world()
    rng = np.random.default_rng(3)
    lons, lats = rng.uniform(-7, 25, 3000), rng.uniform(-7, 7, 3000)
    many = index.regions_at_many(lons, lats)
    snapped = 0
    for lon, lat, hits in zip(lons, lats, many):
        single = index.regions_at(lon, lat)
        assert [(h.region.code, h.snapped) for h in single] == [(h.region.code, h.snapped) for h in hits]
        point = shapely.Point(lon, lat)
        inside = [code for code, g in geoms.items() if g.intersects(point)]
        if inside:
            assert sorted(h.region.code for h in hits) == sorted(inside) and not any(h.snapped for h in hits)
        for h in hits:
            if h.snapped:
                snapped += 1
                assert abs(h.distance_deg - geoms[h.region.code].distance(point)) < 1e-12
                assert h.distance_deg <= index.snap_tolerance_deg
    assert snapped > 50


def test_verdicts_many_matches_verdict_including_point_dependent_range_polygons():
    index, _ = big_world()
    rng = np.random.default_rng(5)
    lons, lats = rng.uniform(-7, 25, 2000), rng.uniform(-7, 7, 2000)
    taxa = [("Sus scrofa", "Vulpes vulpes", "Nullus datus")[i % 3] for i in range(len(lons))]
    cold = verdicts_many(taxa, lons, lats, index)
    warm = verdicts_many(taxa, lons, lats, index)
    singles = [verdict(t, x, y, index) for t, x, y in zip(taxa, lons, lats)]
    assert cold == warm == singles
    # Range polygons decide per point, never from a cached region-set verdict.
    assert verdict("Vulpes vulpes", 1, 1, index).status == NATIVE
    assert verdict("Vulpes vulpes", 4, 1, index).status == OUT_OF_RANGE
    assert (
        verdict("Sus scrofa", 0, 3, index).status == INVASIVE and verdict("Sus scrofa", 20, 0, index).status == NATIVE
    )


def test_empty_index_answers():
    index = RangeIndex(regions=[], region_geometries=[])
    assert index.regions_at(1, 1) == [] and index.regions_at_many([1, 2], [1, 2]) == [[], []]
    assert [v.status for v in verdicts_many(["Sus scrofa"], [1.0], [1.0], index)] == ["unknown"]
