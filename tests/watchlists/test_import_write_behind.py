"""The import writes and matches each chunk on a thread of its own while the next chunk is judged
(PostgreSQL, outside a caller's transaction); on SQLite, or inside a transaction, on the caller's
thread. Either way the records, the later row of a repeated id and the matches are the same, and a
failed write stops the import with its error, the chunks before it kept."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from watchlists import importing
from watchlists.models import Match, Occurrence
from watchlists.services import watch_list_create

HEADER = "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
ROWS = [
    ("occ-1", "Testus invasor", 2, 2),  # invasive in AAA, inside the list's square
    ("occ-2", "Testus nativus", 2, 2),  # native there: not taken
    ("occ-3", "Testus invasor", 20, 20),  # outside AAA
    ("occ-4", "Testus invasor", 3, 3),
    ("occ-1", "Testus invasor", 4, 4),  # occ-1 again, in the second chunk: this row wins
    ("occ-5", "Unknownus name", 2, 2),  # not in the taxonomy
    ("occ-6", "Testus invasor", 8, 8),  # in AAA, outside the square
]


def _download(path) -> None:
    lines = [
        f"{i}\tds\t{oid}\t{name}\t{lat}\t{lon}\t2024-05-0{1 + i % 9}\tCC0_1_0\n"
        for i, (oid, name, lat, lon) in enumerate(ROWS)
    ]
    path.write_text(HEADER + "".join(lines), encoding="utf-8")


@pytest.fixture
def writer_threads(monkeypatch):
    """The name of the thread each chunk was written on."""
    names = []
    write_chunk = importing._write_chunk

    def recorded(prepared, report):
        names.append(threading.current_thread().name)
        return write_chunk(prepared, report)

    monkeypatch.setattr(importing, "_write_chunk", recorded)
    return names


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_chunks_written_behind_the_judging_give_the_records_and_matches_of_one_thread(
    tmp_path, geo, taxa, users, writer_threads
):
    """Input: 7 rows in chunks of 2 (occ-1 twice, across chunks; an unknown name; points inside and
    outside a drawn square over AAA) and a list `invasive_here` on that square."""
    square = {"type": "Polygon", "coordinates": [[[1, 1], [5, 1], [5, 5], [1, 5], [1, 1]]]}
    watch_list = watch_list_create(owner=users["alice"], name="square", geometry=square, rule="invasive_here")
    path = tmp_path / "download.csv"
    _download(path)

    report = importing.occurrences_import(path=path, batch_size=2)

    threaded = connection.vendor == "postgresql"
    assert writer_threads == ["occurrence-writer" if threaded else threading.current_thread().name] * 4
    assert (report.read, report.created, report.updated, report.unchanged) == (7, 6, 1, 0)
    assert report.unmatched_names == {"Unknownus name": 1}
    stored = {o.occurrence_id: (o.latitude, o.verdict_status) for o in Occurrence.objects.all()}
    assert stored["occ-1"] == (4, "invasive") and stored["occ-2"] == (2, "native")
    assert stored["occ-5"] == (2, "unknown")
    matched = set(Match.objects.filter(watch_list=watch_list).values_list("occurrence__occurrence_id", "latitude"))
    assert matched == {("occ-1", 4), ("occ-4", 3)}
    if threaded:  # the writer's connection is closed with its thread
        assert not any(t.name == "occurrence-writer" for t in threading.enumerate())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_failed_write_stops_the_import_with_its_error_and_keeps_the_chunks_before(tmp_path, geo, taxa, monkeypatch):
    """Input: the same 7 rows in chunks of 2; the database refuses the third chunk's write."""
    path = tmp_path / "download.csv"
    _download(path)
    write, calls = importing._write, []

    def failing(rows, **kwargs):
        calls.append(len(rows["dataset"]))
        if len(calls) == 3:
            raise RuntimeError("the database refused chunk 3")
        return write(rows, **kwargs)

    monkeypatch.setattr(importing, "_write", failing)
    with pytest.raises(RuntimeError, match="refused chunk 3"):
        importing.occurrences_import(path=path, batch_size=2)
    assert len(calls) == 3  # nothing written after the failure
    assert set(Occurrence.objects.values_list("occurrence_id", flat=True)) == {"occ-1", "occ-2", "occ-3", "occ-4"}
    assert not any(t.name == "occurrence-writer" for t in threading.enumerate())
