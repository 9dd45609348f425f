"""The verdict rules one by one (DESIGN §5), on a tiny in-memory world (no database)."""

import pytest
import shapely

from ml.taxonomy import TaxonTree
from ranges.range_index import RangeIndex, RangeRecord, RegionRecord, StatusRecord
from ranges.verdict import (
    DOMESTIC,
    INTRODUCED,
    INVASIVE,
    NATIVE,
    OUT_OF_RANGE,
    UNCERTAIN,
    UNKNOWN,
    CompleteChecklist,
    expected_here,
    verdict,
    verdicts_many,
)

# A country 0..10 x 0..10 with two states (west 0..5, east 5..10); a county inside the east state;
# a second country 20..30; a third 40..50.
REGIONS = [
    (RegionRecord("AAA", "country", "Aland"), shapely.box(0, 0, 10, 10)),
    (RegionRecord("AA-W", "admin1", "West", "AAA"), shapely.box(0, 0, 5, 10)),
    (RegionRecord("AA-E", "admin1", "East", "AAA"), shapely.box(5, 0, 10, 10)),
    (RegionRecord("AA-E1", "admin2", "East County", "AA-E"), shapely.box(6, 6, 8, 8)),
    (RegionRecord("BBB", "country", "Bland"), shapely.box(20, 0, 30, 10)),
    (RegionRecord("CCC", "country", "Cland"), shapely.box(40, 0, 50, 10)),
]


def make_index(statuses=(), ranges=()):
    return RangeIndex(
        regions=[r for r, _ in REGIONS],
        region_geometries=[g for _, g in REGIONS],
        statuses=[StatusRecord(t, code, s, f"src-{t}-{code}", "https://example.org") for t, code, s in statuses],
        ranges=[RangeRecord(t, origin, "polygon source") for t, origin, _ in ranges],
        range_geometries=[g for *_, g in ranges],
        snap_tolerance_deg=0.5,
    )


def status(taxon, statuses, x, y, ranges=(), taxa=None) -> str:
    return verdict(taxon, x, y, make_index(statuses, ranges), taxa).status


# -- rule 1: regions, most specific first; coastal snap ------------------------------------------


def test_rule1_regions_at_lists_most_specific_first():
    assert [h.region.code for h in make_index().regions_at(7, 7)] == ["AA-E1", "AA-E", "AAA"]


def test_rule1_coastal_point_snaps_to_nearest_region():
    index = make_index([("Iguana iguana", "AA-E", INVASIVE), ("Iguana iguana", "BBB", NATIVE)])
    found = verdict("Iguana iguana", 10.2, 5, index)  # 0.2 deg off the east coast
    assert found.status == INVASIVE and found.snapped
    assert verdict("Iguana iguana", 12, 5, index).status == OUT_OF_RANGE  # beyond the tolerance


def test_rule1_a_synonym_answers_for_its_accepted_name():
    taxa = TaxonTree(synonyms={"Herpestes javanicus": "Urva auropunctata"})
    found = verdict("Herpestes javanicus", 2, 2, make_index([("Urva auropunctata", "AAA", INVASIVE)]), taxa)
    assert found.status == INVASIVE and found.taxon_key == "Urva auropunctata"


# -- rule 2: regional statuses -----------------------------------------------------------------


def test_rule2_most_specific_region_wins():
    statuses = [("Sus scrofa", "AAA", NATIVE), ("Sus scrofa", "AA-E1", INVASIVE)]
    assert status("Sus scrofa", statuses, 7, 7) == INVASIVE  # in the county
    assert status("Sus scrofa", statuses, 9, 1) == NATIVE  # elsewhere in the country


def test_rule2_invasive_and_introduced_status_with_sources():
    index = make_index(
        [
            ("Pterois volitans", "AA-W", INVASIVE),
            ("Pterois volitans", "AA-E", INTRODUCED),
            ("Pterois volitans", "BBB", NATIVE),
        ]
    )
    west = verdict("Pterois volitans", 2, 2, index)
    assert west.status == INVASIVE and west.region_code == "AA-W" and west.is_alert
    assert west.sources == ({"name": "src-Pterois volitans-AA-W", "url": "https://example.org"},)
    assert verdict("Pterois volitans", 9, 2, index).status == INTRODUCED
    assert verdict("Pterois volitans", 25, 5, index).status == NATIVE


def test_rule2_two_alien_registers_report_the_more_alarming():
    statuses = [
        ("Rattus rattus", "AAA", INTRODUCED),
        ("Rattus rattus", "AAA", INVASIVE),
        ("Rattus rattus", "BBB", NATIVE),
    ]
    assert status("Rattus rattus", statuses, 2, 2) == INVASIVE


def test_rule2_state_list_overrides_country_native():
    # Native to the country, but the state-level list names only the east state.
    statuses = [("Sciurus carolinensis", "AAA", NATIVE), ("Sciurus carolinensis", "AA-E", NATIVE)]
    assert status("Sciurus carolinensis", statuses, 7, 2) == NATIVE
    west = verdict("Sciurus carolinensis", 2, 2, make_index(statuses))
    assert west.status == OUT_OF_RANGE and "outside" in west.explanation


def test_rule2_country_level_invasive_is_not_overridden_by_missing_states():
    statuses = [("Sus scrofa", "AAA", INVASIVE), ("Sus scrofa", "AA-E", INVASIVE)]
    assert status("Sus scrofa", statuses, 2, 2) == INVASIVE


# -- rule 3: a native source and an alien register disagree ----------------------------------------


def test_rule3_native_source_beats_a_country_wide_alien_register_and_both_are_named():
    # e.g. GRIIS lists a whole country for a species alien only on its islands; MDD: native there.
    index = make_index([("Vulpes vulpes", "AAA", NATIVE), ("Vulpes vulpes", "AAA", INVASIVE)])
    found = verdict("Vulpes vulpes", 2, 2, index)
    assert found.status == NATIVE and not found.is_alert
    assert "src-Vulpes vulpes-AAA" in found.explanation and "invasive" in found.explanation
    assert {s["name"] for s in found.sources} == {"src-Vulpes vulpes-AAA"}  # one label here; both records cited


def test_rule3_a_more_specific_alien_record_still_wins():
    # Native to the country, invasive in one county (an island population): the county decides.
    statuses = [("Vulpes vulpes", "AAA", NATIVE), ("Vulpes vulpes", "AA-E1", INVASIVE)]
    assert status("Vulpes vulpes", statuses, 7, 7) == INVASIVE
    assert status("Vulpes vulpes", statuses, 2, 2) == NATIVE


def test_rule3_native_range_polygon_at_the_point_is_never_an_alert():
    statuses = [("Canis aureus", "AAA", INTRODUCED)]
    ranges = [("Canis aureus", "native", shapely.box(0, 0, 3, 3))]
    found = verdict("Canis aureus", 1, 1, make_index(statuses, ranges))
    assert found.status == NATIVE and "polygon source" in found.explanation and "introduced" in found.explanation
    assert status("Canis aureus", statuses, 8, 8, ranges) == INTRODUCED  # outside the polygon: the register stands


# -- rule 4: range polygons --------------------------------------------------------------------


def test_rule4_range_polygons_native_and_introduced_and_hole():
    ring = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], holes=[[(1, 1), (2, 1), (2, 2), (1, 2)]])
    index = make_index(
        ranges=[("Vulpes vulpes", "native", ring), ("Vulpes vulpes", "introduced", shapely.box(20, 0, 30, 10))]
    )
    assert verdict("Vulpes vulpes", 3, 3, index).status == NATIVE
    assert verdict("Vulpes vulpes", 4, 2, index).status == NATIVE  # on the boundary: covers
    assert verdict("Vulpes vulpes", 25, 5, index).status == INTRODUCED
    assert verdict("Vulpes vulpes", 1.5, 1.5, index).status == OUT_OF_RANGE  # in the hole: not native
    assert verdict("Vulpes vulpes", 8, 8, index).status == OUT_OF_RANGE


# -- rule 5: out_of_range needs a known native range -----------------------------------------------


def test_rule5_out_of_range_when_the_native_range_is_known_elsewhere():
    found = verdict("Lynx rufus", 2, 2, make_index([("Lynx rufus", "BBB", NATIVE)]))
    assert found.status == OUT_OF_RANGE and found.is_alert
    assert "native to Bland" in found.explanation
    assert found.sources == ({"name": "src-Lynx rufus-BBB", "url": "https://example.org"},)


def test_rule5_alien_records_elsewhere_never_make_out_of_range():
    # The emu case: its only record is "alien in one country"; elsewhere it is unknown, not an alert.
    found = verdict("Dromaius novaehollandiae", 2, 2, make_index([("Dromaius novaehollandiae", "BBB", INTRODUCED)]))
    assert found.status == UNKNOWN and not found.is_alert


def test_rule5_an_introduced_polygon_alone_is_not_a_native_range():
    ranges = [("Cervus elaphus", "introduced", shapely.box(20, 0, 30, 10))]
    assert status("Cervus elaphus", (), 2, 2, ranges) == UNKNOWN


# -- rule 6: unknown says what is known ----------------------------------------------------------


def test_rule6_unknown_without_any_data_never_invasive():
    found = verdict("Nullus datus", 2, 2, make_index())
    assert found.status == UNKNOWN and not found.is_alert and "no range data" in found.explanation


def test_rule6_unknown_names_where_it_is_alien():
    statuses = [("Dromaius novaehollandiae", "BBB", INTRODUCED), ("Dromaius novaehollandiae", "CCC", INVASIVE)]
    found = verdict("Dromaius novaehollandiae", 2, 2, make_index(statuses))
    assert found.status == UNKNOWN
    assert (
        "recorded as alien in Bland and Cland" in found.explanation
        and "native range is not in our data" in found.explanation
    )
    assert len(found.sources) == 2


# -- rule 7: genus and family answers --------------------------------------------------------------

ELEPHANTS = TaxonTree(
    parents={
        "Loxodonta africana": "Loxodonta",
        "Loxodonta cyclotis": "Loxodonta",
        "Elephas maximus": "Elephas",
        "Loxodonta": "Elephantidae",
        "Elephas": "Elephantidae",
        "Elephantidae": "Proboscidea",
        "Proboscidea": "Mammalia",
    },
    ranks={
        "Loxodonta africana": "species",
        "Loxodonta cyclotis": "species",
        "Elephas maximus": "species",
        "Loxodonta": "genus",
        "Elephas": "genus",
        "Elephantidae": "family",
        "Proboscidea": "order",
        "Mammalia": "class",
    },
)


@pytest.fixture
def complete_mammals(monkeypatch):
    """The tiny world's statuses ("src-...") stand for a complete mammal checklist of 3 species."""
    monkeypatch.setattr("ranges.verdict.COMPLETE_CHECKLISTS", (CompleteChecklist("Mammalia", "src-", 3),))


BOTH_NATIVE = [
    ("Loxodonta africana", "BBB", NATIVE),
    ("Loxodonta cyclotis", "BBB", NATIVE),
    ("Elephas maximus", "AAA", NATIVE),
]


def test_rule7_group_is_native_when_the_members_recorded_here_are_native():
    assert status("Elephantidae", BOTH_NATIVE, 25, 5, taxa=ELEPHANTS) == NATIVE  # only Loxodonta is known in Bland
    assert status("Loxodonta", BOTH_NATIVE, 25, 5, taxa=ELEPHANTS) == NATIVE


def test_rule7_group_out_of_range_only_when_every_member_has_a_known_native_range(complete_mammals):
    assert status("Loxodonta", BOTH_NATIVE, 45, 5, taxa=ELEPHANTS) == OUT_OF_RANGE
    # L. cyclotis has no native range in the data: it might be the one native here.
    partial = [("Loxodonta africana", "BBB", NATIVE)]
    found = verdict("Loxodonta", 45, 5, make_index(partial), ELEPHANTS)
    assert found.status == UNKNOWN and not found.is_alert
    assert "1 of the 2 member species of Loxodonta in our data have a known native range" in found.explanation


def test_rule7_group_is_never_an_alert_when_its_taxonomy_is_not_known_complete():
    """Issue 21: a starter pack knows a few members of a family, none native here; the family has
    many members we lack. Every member we know has a native range elsewhere: still no alert."""
    found = verdict("Loxodonta", 45, 5, make_index(BOTH_NATIVE), ELEPHANTS)  # no complete checklist loaded
    assert found.status == UNKNOWN and not found.is_alert
    assert "2 of the 2 member species" in found.explanation and "not known to be complete" in found.explanation
    assert verdict("Elephantidae", 45, 5, make_index(BOTH_NATIVE), ELEPHANTS).status == UNKNOWN


def test_rule7_a_checklist_counts_as_complete_only_when_nearly_all_of_it_is_loaded(monkeypatch):
    monkeypatch.setattr("ranges.verdict.COMPLETE_CHECKLISTS", (CompleteChecklist("Mammalia", "src-", 100),))
    assert status("Loxodonta", BOTH_NATIVE, 45, 5, taxa=ELEPHANTS) == UNKNOWN  # 3 of 100 species loaded
    monkeypatch.setattr("ranges.verdict.COMPLETE_CHECKLISTS", (CompleteChecklist("Aves", "src-", 3),))
    assert status("Loxodonta", BOTH_NATIVE, 45, 5, taxa=ELEPHANTS) == UNKNOWN  # complete for another class


def test_an_open_world_native_list_answers_native_but_never_out_of_range():
    """BirdLife's country lists omit countries: a bird listed in Aland only is native there, and
    unknown (not out_of_range) in Bland."""
    index = RangeIndex(
        regions=[r for r, _ in REGIONS],
        region_geometries=[g for _, g in REGIONS],
        statuses=[StatusRecord("Branta canadensis", "AAA", NATIVE, "BirdLife", closed_world=False)],
    )
    assert verdict("Branta canadensis", 2, 2, index).status == NATIVE
    assert verdict("Branta canadensis", 25, 5, index).status == UNKNOWN


def test_expected_here_has_three_values():
    assert [expected_here(s) for s in (NATIVE, INTRODUCED, INVASIVE)] == [True, True, True]
    assert expected_here(OUT_OF_RANGE) is False
    assert [expected_here(s) for s in (UNKNOWN, UNCERTAIN, DOMESTIC)] == [None, None, None]


DOGS = TaxonTree(
    parents={"Canis familiaris": "Canis", "Canis lupus": "Canis"},
    ranks={"Canis familiaris": "species", "Canis lupus": "species", "Canis": "genus"},
    synonyms={"Canis lupus familiaris": "Canis familiaris"},
    domestic=frozenset({"Canis familiaris"}),
)


def test_rule8_a_domestic_animal_is_domestic_never_an_alert_even_where_a_register_lists_it():
    index = make_index([("Canis familiaris", "AA-E", INVASIVE)])
    found = verdict(
        "Canis lupus familiaris", 8, 2, index, DOGS
    )  # a pet dog in the state whose register lists feral dogs
    assert found.status == DOMESTIC and not found.is_alert
    assert "domestic animal" in found.explanation and "feral" in found.explanation and found.sources
    assert verdict("Canis familiaris", 25, 5, index, DOGS).status == DOMESTIC  # and anywhere else
    assert expected_here(found.status) is None


def test_rule8_a_reviewer_confirmed_free_roaming_dog_alerts_only_where_a_register_lists_it():
    index = make_index([("Canis familiaris", "AA-E", INVASIVE)])
    assert verdict("Canis familiaris", 8, 2, index, DOGS, free_roaming=True).status == INVASIVE
    assert verdict("Canis familiaris", 2, 2, index, DOGS, free_roaming=True).status == DOMESTIC


def test_rule7_group_with_disagreeing_members_is_uncertain():
    rats = TaxonTree(
        parents={"Rattus rattus": "Rattus", "Rattus norvegicus": "Rattus"},
        ranks={"Rattus": "genus", "Rattus rattus": "species", "Rattus norvegicus": "species"},
    )
    statuses = [
        ("Rattus rattus", "AAA", NATIVE),
        ("Rattus norvegicus", "AAA", INVASIVE),
        ("Rattus norvegicus", "BBB", NATIVE),
    ]
    assert status("Rattus", statuses, 2, 2, taxa=rats) == UNCERTAIN


def test_rule7_group_is_alien_only_when_no_member_could_be_native_here(monkeypatch):
    monkeypatch.setattr("ranges.verdict.COMPLETE_CHECKLISTS", (CompleteChecklist("Mammalia", "src-", 2),))
    rats = TaxonTree(
        parents={"Rattus rattus": "Rattus", "Rattus norvegicus": "Rattus", "Rattus": "Mammalia"},
        ranks={"Rattus": "genus", "Rattus rattus": "species", "Rattus norvegicus": "species", "Mammalia": "class"},
    )
    known = [("Rattus rattus", "AAA", INVASIVE), ("Rattus rattus", "BBB", NATIVE), ("Rattus norvegicus", "CCC", NATIVE)]
    assert status("Rattus", known, 2, 2, taxa=rats) == INVASIVE
    # R. norvegicus's native range unknown: it could be native here, so no group alert.
    assert (
        status("Rattus", [("Rattus rattus", "AAA", INVASIVE), ("Rattus rattus", "BBB", NATIVE)], 2, 2, taxa=rats)
        == UNCERTAIN
    )


def test_rule7_without_a_taxonomy_a_group_name_is_judged_on_its_own_records():
    assert status("Loxodonta", BOTH_NATIVE, 45, 5) == UNKNOWN


# -- the bulk path ---------------------------------------------------------------------------------


def test_verdicts_many_matches_verdict_for_groups_statuses_and_polygons(complete_mammals):
    ranges = [("Canis aureus", "native", shapely.box(0, 0, 3, 3))]
    index = make_index(
        BOTH_NATIVE + [("Canis aureus", "AAA", INTRODUCED), ("Dromaius novaehollandiae", "BBB", INTRODUCED)], ranges
    )
    taxa = [
        "Loxodonta",
        "Elephantidae",
        "Canis aureus",
        "Canis aureus",
        "Dromaius novaehollandiae",
        "Elephas maximus",
    ] * 2
    lons = [25, 45, 1, 8, 2, 2, 45, 25, 1.5, 9, 25, 10.2]
    lats = [5, 5, 1, 8, 2, 2, 5, 5, 1.5, 9, 5, 5]
    singles = [verdict(t, x, y, index, ELEPHANTS) for t, x, y in zip(taxa, lons, lats)]
    assert verdicts_many(taxa, lons, lats, index, ELEPHANTS) == singles
    assert {v.status for v in singles} >= {NATIVE, OUT_OF_RANGE, INTRODUCED, UNKNOWN}


def test_verdicts_many_on_many_shared_and_distinct_points_says_what_verdict_says(complete_mammals):
    """Input: 3,000 pairs of six taxa (a range polygon, registers, a group, an unknown name) at points
    drawn from 300 sites (most shared by several records) and 600 one-off points, some outside
    every region (snapped or not)."""
    import random

    ranges = [("Canis aureus", "native", shapely.box(0, 0, 3, 3))]
    index = make_index(
        BOTH_NATIVE + [("Canis aureus", "AAA", INTRODUCED), ("Dromaius novaehollandiae", "BBB", INTRODUCED)], ranges
    )
    rng = random.Random(26)
    sites = [(rng.uniform(-1, 52), rng.uniform(-1, 11)) for _ in range(300)]
    points = [rng.choice(sites) for _ in range(2400)] + [(rng.uniform(-1, 52), rng.uniform(-1, 11)) for _ in range(600)]
    rng.shuffle(points)
    names = ["Loxodonta", "Elephantidae", "Canis aureus", "Dromaius novaehollandiae", "Elephas maximus", "Nomen nescio"]
    taxa = [rng.choice(names) for _ in points]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    found = verdicts_many(taxa, lons, lats, index, ELEPHANTS)
    assert found == [verdict(t, x, y, index, ELEPHANTS) for t, x, y in zip(taxa, lons, lats)]
    assert len({v.status for v in found}) >= 4
