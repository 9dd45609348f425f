"""Issue 24: one writer per record. An observation's Verdict row and its verification columns are
written by observations/verdict_records.py alone; the worker and the review desk call it."""

import re
from pathlib import Path

from django.apps import apps

REPO = Path(__file__).resolve().parents[1]
APPS = tuple(c.name for c in apps.get_app_configs() if (REPO / c.name).is_dir() and c.name not in ("backend", "core"))
WRITER = REPO / "observations" / "verdict_records.py"
# A write of Verdict rows: the manager's writing methods, or the upsert helper given the model.
VERDICT_WRITE = re.compile(
    r"\bVerdict\.objects\.[\w().=, ]*\b(create|update|update_or_create|get_or_create|bulk_create|delete)\(|upsert_for_observation\(\s*Verdict\b"
)
VERIFICATION_WRITE = re.compile(r"\.update\([^)]*\bverification=", re.S)


def _app_sources():
    for app in APPS:
        for path in (REPO / app).rglob("*.py"):
            if "migrations" not in path.parts and path != WRITER:
                yield path, path.read_text()


def test_exactly_one_module_writes_verdict_rows_and_verification_columns():
    verdict_writers = [str(p.relative_to(REPO)) for p, text in _app_sources() if VERDICT_WRITE.search(text)]
    verification_writers = [str(p.relative_to(REPO)) for p, text in _app_sources() if VERIFICATION_WRITE.search(text)]
    assert verdict_writers == [], verdict_writers
    assert verification_writers == [], verification_writers
    writer = WRITER.read_text()
    assert VERDICT_WRITE.search(writer) and VERIFICATION_WRITE.search(writer)


def test_the_pattern_finds_the_writes_it_forbids():
    """The check is not vacuous: the shapes of write it looks for are recognised."""
    assert VERDICT_WRITE.search("Verdict.objects.update_or_create(observation=o)")
    assert VERDICT_WRITE.search("Verdict.objects.filter(pk=1).update(status='x')")
    assert VERDICT_WRITE.search("upsert_for_observation(\n    Verdict, observation")
    assert VERIFICATION_WRITE.search("Observation.objects.filter(pk=1).update(\n  verification=V.CONFIRMED)")
    assert not VERDICT_WRITE.search("Verdict.objects.filter(observation=o).first()")
    # Another model whose name ends in Verdict (imported records' shared verdicts) is not the observation's.
    assert not VERDICT_WRITE.search("OccurrenceVerdict.objects.bulk_create(rows)")
