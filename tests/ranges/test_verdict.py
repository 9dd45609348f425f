"""The verdict rules one by one, on a tiny in-memory world (no database)."""
import shapely

from ranges.range_index import RangeIndex, RangeRecord, RegionRecord, StatusRecord
from ranges.verdict import INTRODUCED, INVASIVE, NATIVE, OUT_OF_RANGE, UNCERTAIN, UNKNOWN, verdict

# A country 0..10 x 0..10 with two states (west 0..5, east 5..10); a county inside the east state;
# a second country 20..30.
REGIONS = [
    (RegionRecord("AAA", "country", "Aland"), shapely.box(0, 0, 10, 10)),
    (RegionRecord("AA-W", "admin1", "West", "AAA"), shapely.box(0, 0, 5, 10)),
    (RegionRecord("AA-E", "admin1", "East", "AAA"), shapely.box(5, 0, 10, 10)),
    (RegionRecord("AA-E1", "admin2", "East County", "AA-E"), shapely.box(6, 6, 8, 8)),
    (RegionRecord("BBB", "country", "Bland"), shapely.box(20, 0, 30, 10)),
]


def make_index(statuses=(), ranges=(), parents=None):
    return RangeIndex(
        regions=[r for r, _ in REGIONS],
        region_geometries=[g for _, g in REGIONS],
        statuses=[StatusRecord(t, code, s, f"src-{t}-{code}", "https://example.org") for t, code, s in statuses],
        ranges=[RangeRecord(t, origin, "polygon source") for t, origin, _ in ranges],
        range_geometries=[g for *_, g in ranges],
        taxon_parents=parents or {},
        snap_tolerance_deg=0.5,
    )


def test_most_specific_region_wins():
    index = make_index([("Sus scrofa", "AAA", NATIVE), ("Sus scrofa", "AA-E1", INVASIVE)])
    assert verdict("Sus scrofa", 7, 7, index).status == INVASIVE  # in the county
    assert verdict("Sus scrofa", 9, 1, index).status == NATIVE  # elsewhere in the country


def test_invasive_and_introduced_status_with_sources():
    index = make_index([("Pterois volitans", "AA-W", INVASIVE), ("Pterois volitans", "AA-E", INTRODUCED), ("Pterois volitans", "BBB", NATIVE)])
    west = verdict("Pterois volitans", 2, 2, index)
    assert west.status == INVASIVE and west.region_code == "AA-W"
    assert west.sources == ({"name": "src-Pterois volitans-AA-W", "url": "https://example.org"},)
    assert verdict("Pterois volitans", 9, 2, index).status == INTRODUCED
    assert verdict("Pterois volitans", 25, 5, index).status == NATIVE


def test_state_list_overrides_country_native():
    # Native to the country, but the state-level list names only the east state.
    index = make_index([("Sciurus carolinensis", "AAA", NATIVE), ("Sciurus carolinensis", "AA-E", NATIVE)])
    assert verdict("Sciurus carolinensis", 7, 2, index).status == NATIVE
    west = verdict("Sciurus carolinensis", 2, 2, index)
    assert west.status == OUT_OF_RANGE
    assert "outside" in west.explanation


def test_country_level_invasive_is_not_overridden_by_missing_states():
    index = make_index([("Sus scrofa", "AAA", INVASIVE), ("Sus scrofa", "AA-E", INVASIVE)])
    assert verdict("Sus scrofa", 2, 2, index).status == INVASIVE


def test_out_of_range_when_taxon_has_data_elsewhere():
    index = make_index([("Lynx rufus", "BBB", NATIVE)])
    found = verdict("Lynx rufus", 2, 2, index)
    assert found.status == OUT_OF_RANGE and found.is_alert


def test_unknown_without_any_data_never_invasive():
    found = verdict("Nullus datus", 2, 2, make_index())
    assert found.status == UNKNOWN and not found.is_alert


def test_range_polygons_native_and_introduced_and_hole():
    ring = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (2, 1), (2, 2), (1, 2)]])
    index = make_index(ranges=[("Vulpes vulpes", "native", ring), ("Vulpes vulpes", "introduced", shapely.box(20, 0, 30, 10))])
    assert verdict("Vulpes vulpes", 3, 3, index).status == NATIVE
    assert verdict("Vulpes vulpes", 4, 2, index).status == NATIVE  # on the boundary: covers
    assert verdict("Vulpes vulpes", 25, 5, index).status == INTRODUCED
    assert verdict("Vulpes vulpes", 1.5, 1.5, index).status == OUT_OF_RANGE  # in the hole: not native
    assert verdict("Vulpes vulpes", 8, 8, index).status == OUT_OF_RANGE


def test_coastal_point_snaps_to_nearest_region():
    index = make_index([("Iguana iguana", "AA-E", INVASIVE)])
    found = verdict("Iguana iguana", 10.2, 5, index)  # 0.2 deg off the east coast
    assert found.status == INVASIVE and found.snapped
    assert verdict("Iguana iguana", 12, 5, index).status == OUT_OF_RANGE  # beyond the tolerance


def test_genus_verdict_when_all_members_known_here_agree():
    parents = {"Loxodonta africana": "Loxodonta", "Elephas maximus": "Elephas", "Loxodonta": "Elephantidae", "Elephas": "Elephantidae"}
    index = make_index([("Loxodonta africana", "BBB", NATIVE), ("Elephas maximus", "AAA", NATIVE)], parents=parents)
    assert verdict("Elephantidae", 25, 5, index).status == NATIVE  # only L. africana is known in Bland
    assert verdict("Loxodonta", 25, 5, index).status == NATIVE
    assert verdict("Loxodonta", 2, 2, index).status == OUT_OF_RANGE


def test_group_with_disagreeing_members_is_uncertain():
    parents = {"Rattus rattus": "Rattus", "Rattus norvegicus": "Rattus"}
    index = make_index([("Rattus rattus", "AAA", NATIVE), ("Rattus norvegicus", "AAA", INVASIVE)], parents=parents)
    assert verdict("Rattus", 2, 2, index).status == UNCERTAIN


def test_regions_at_lists_most_specific_first():
    index = make_index()
    assert [h.region.code for h in index.regions_at(7, 7)] == ["AA-E1", "AA-E", "AAA"]
