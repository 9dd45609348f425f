"""Matching in bulk (ListIndex.wanted_pairs on whole arrays) says what the one-record rules
(criteria_hold) say, pair by pair; and a one-list index leaves the other lists' matches alone."""

from __future__ import annotations

import random

import pytest
import shapely

from watchlists.matching import (
    ListCriteria,
    ListIndex,
    MatchRecord,
    RecordBatch,
    build_list_index,
    criteria_hold,
    matches_sync,
    occurrences_match,
    occurrences_match_keys,
)
from watchlists.models import Match, Occurrence, OccurrenceVerdict, verdict_content_sha1
from watchlists.services import watch_list_create

TAXA = list(range(1, 30))
SOURCES = ["uploads", "camera_traps", "occurrences"]
VERDICTS = ["native", "invasive", "introduced", "out_of_range", "unknown", ""]


def _random_lists(rng: random.Random, n: int) -> tuple[list[ListCriteria], dict[int, object]]:
    lists, polygons = [], {}
    for i in range(1, n + 1):
        list_id = 1000 + i * 7
        if rng.random() < 0.5:
            x, y = rng.uniform(0, 8), rng.uniform(0, 8)
            polygons[list_id] = shapely.box(x, y, x + rng.uniform(0.5, 4), y + rng.uniform(0.5, 4))
        lists.append(
            ListCriteria(
                id=list_id,
                region_codes=frozenset(rng.sample(["AAA", "BBB", "CCC", "AAA-N"], rng.randint(0, 2))),
                taxon_ids=frozenset(rng.sample(TAXA, rng.choice([0, 0, 1, 5]))),
                rule=rng.choice(["", "invasive_here", "out_of_range"]),
                sources=frozenset(rng.sample(SOURCES, rng.choice([0, 0, 1, 2]))),
                datasets=frozenset(rng.sample(["ds1", "ds2", "ds3"], rng.choice([0, 0, 0, 1, 2]))),
                minimum_verification=rng.choice(["any", "community", "reviewer"]),
                visible_project_ids=frozenset(rng.sample([5, 6, 70, 800], rng.randint(0, 3))),
            )
        )
    return lists, polygons


def _random_records(rng: random.Random, kind: str, n: int) -> list[MatchRecord]:
    return [
        MatchRecord(
            kind=kind,
            pk=10 + i * 3,
            source="occurrences" if kind == "occurrence" else rng.choice(SOURCES[:2]),
            taxon_id=rng.choice([*TAXA, None]),
            longitude=rng.uniform(-1, 11),
            latitude=rng.uniform(-1, 11),
            region_codes=tuple(rng.sample(["AAA", "BBB", "CCC", "AAA-N", "ZZZ"], rng.randint(0, 3))),
            verdict_status=rng.choice(VERDICTS),
            verification=rng.choice(["rejected", "any", "community", "reviewer"]),
            dataset=rng.choice(["ds1", "ds2", "ds4"]) if kind == "occurrence" else "",
            project_id=rng.choice([None, 5, 70, 9]),
        )
        for i in range(n)
    ]


def _verdict(status: str = "invasive") -> OccurrenceVerdict:
    """The shared verdict row of a record in AAA (region codes are what matching reads from it)."""
    content = (status, ["AAA"], "", [])
    return OccurrenceVerdict.objects.get_or_create(
        content_sha1=verdict_content_sha1(*content), defaults={"status": status, "region_codes": ["AAA"]}
    )[0]


@pytest.mark.parametrize("kind", ["occurrence", "observation"])
def test_bulk_matching_takes_exactly_the_pairs_the_one_record_rules_take(kind):
    rng = random.Random(26)
    lists, polygons = _random_lists(rng, 60)
    index = ListIndex(lists, polygons)
    records = _random_records(rng, kind, 3000)
    expected = []
    for record in records:
        in_area = {c.id for c in lists if c.region_codes & set(record.region_codes)}
        point = shapely.Point(record.longitude, record.latitude)
        in_area |= {i for i, p in polygons.items() if p.intersects(point)}
        expected.append({c.id for c in lists if c.id in in_area and criteria_hold(c, record)})
    assert index.lists_for_many(records) == expected
    assert sum(map(len, expected)) > 300  # the draw exercises the rules, not only empty answers
    rows, pos = index.wanted_pairs(RecordBatch.from_records(records))
    assert sorted(zip(rows.tolist(), index.ids[pos].tolist())) == sorted(
        (r, list_id) for r, ids in enumerate(expected) for list_id in ids
    )


@pytest.mark.django_db(transaction=True)
def test_a_one_list_index_leaves_the_other_lists_matches(geo, taxa, users):
    square = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]}
    first = watch_list_create(owner=users["alice"], name="first", geometry=square, rule="invasive_here")
    second = watch_list_create(owner=users["alice"], name="second", geometry=square, rule="invasive_here")
    record = MatchRecord(
        "occurrence", 0, "occurrences", taxa["invasor"].pk, 2.0, 2.0, ("AAA",), "invasive", "community"
    )
    occurrence = Occurrence.objects.create(
        dataset="ds",
        occurrence_id="o1",
        scientific_name="Testus invasor",
        taxon=taxa["invasor"],
        latitude=2.0,
        longitude=2.0,
        verdict_status="invasive",
        verdict=_verdict(),
        row_sha1="x",
    )
    record = MatchRecord(**{**record.__dict__, "pk": occurrence.pk})
    assert matches_sync([record], build_list_index())["created"] == 2
    moved = MatchRecord(**{**record.__dict__, "verdict_status": "introduced", "taxon_id": taxa["nativus"].pk})
    assert matches_sync([moved], build_list_index()) == {"created": 0, "removed": 0, "updated": 2}  # kept, follows
    assert set(Match.objects.values_list("verdict_status", "taxon_id")) == {("introduced", taxa["nativus"].pk)}
    index = build_list_index()
    only_second = ListIndex([c for c in index.lists if c.id == second.pk], index.polygons)
    gone = MatchRecord(**{**record.__dict__, "verdict_status": "native"})  # leaves "second" only
    assert matches_sync([gone], only_second) == {"created": 0, "removed": 1, "updated": 0}
    assert set(Match.objects.values_list("watch_list_id", flat=True)) == {first.pk}


@pytest.mark.django_db(transaction=True)
def test_records_read_as_columns_match_as_the_import_matched_them(geo, taxa, users):
    square = {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]}
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=square, taxa=["Testus"])
    for i, (taxon, lat, lon) in enumerate([("nativus", 2, 2), ("invasor", 2.5, 1.5), ("nativus", 6, 6)]):
        Occurrence.objects.create(
            dataset="ds",
            occurrence_id=f"o{i}",
            scientific_name=f"Testus {taxon}",
            taxon=taxa[taxon],
            latitude=lat,
            longitude=lon,
            verdict_status="native",
            verdict=_verdict("native"),
            row_sha1="x",
        )
    assert occurrences_match_keys([("ds", "o0"), ("ds", "o2")])["created"] == 1  # o2 lies outside
    assert occurrences_match(dataset="ds") == {"created": 1, "removed": 0, "updated": 0}  # o1; o0 kept
    assert set(Match.objects.filter(watch_list=watch_list).values_list("occurrence__occurrence_id", flat=True)) == {
        "o0",
        "o1",
    }
    Occurrence.objects.filter(occurrence_id="o1").update(latitude=8.0)  # a corrected point
    assert occurrences_match(dataset="ds") == {"created": 0, "removed": 1, "updated": 0}
