"""Each distinct verdict of the stored records becomes one OccurrenceVerdict row, and the records
point to theirs: one UPDATE joined on the four old columns, on both engines (SQLite compares the
JSON texts through json(), which writes them one way). On PostgreSQL each record gets a new row
version: the table's old size is reclaimed by VACUUM FULL (or pg_repack), not by this migration."""

import hashlib
import json

from django.db import migrations

SLICE = 2000


def _sha1(status, codes, explanation, sources) -> str:
    # As watchlists.models.verdict_content_sha1 (copied: a migration keeps the rule of its day).
    text = json.dumps([status, list(codes), explanation, list(sources)], separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()


def _json(vendor: str, column: str) -> str:
    return column if vendor == "postgresql" else f"json({column})"


def _no_statement_timeout(schema_editor) -> None:
    """Every stored record is rewritten, for minutes at 10^7 records: the connection's statement
    timeout (RANGEWATCH_DB_STATEMENT_TIMEOUT_MS, for requests) is lifted for this migration's transaction."""
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 0")


def fill(apps, schema_editor):
    _no_statement_timeout(schema_editor)
    Occurrence = apps.get_model("watchlists", "Occurrence")
    Verdict = apps.get_model("watchlists", "OccurrenceVerdict")
    fields = ("verdict_status", "verdict_region_codes", "verdict_explanation", "verdict_sources")
    distinct = {}
    for status, codes, explanation, sources in Occurrence.objects.values_list(*fields).distinct().iterator():
        codes, sources = list(codes or []), list(sources or [])
        sha = _sha1(status, codes, explanation, sources)
        distinct[sha] = Verdict(
            status=status, region_codes=codes, explanation=explanation, sources=sources, content_sha1=sha
        )
    Verdict.objects.bulk_create(distinct.values(), batch_size=SLICE, ignore_conflicts=True)
    vendor = schema_editor.connection.vendor
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE watchlists_occurrence SET verdict_id = v.id FROM watchlists_occurrenceverdict v"
            " WHERE watchlists_occurrence.verdict_status = v.status"
            " AND watchlists_occurrence.verdict_explanation = v.explanation"
            f" AND {_json(vendor, 'watchlists_occurrence.verdict_region_codes')} = {_json(vendor, 'v.region_codes')}"
            f" AND {_json(vendor, 'watchlists_occurrence.verdict_sources')} = {_json(vendor, 'v.sources')}"
        )
    ids = dict(Verdict.objects.values_list("content_sha1", "pk"))
    # Whatever the join missed (two spellings of one JSON value): record by record, by the hash.
    for o in Occurrence.objects.filter(verdict_id=None).only("pk", *fields).iterator():
        codes, sources = list(o.verdict_region_codes or []), list(o.verdict_sources or [])
        sha = _sha1(o.verdict_status, codes, o.verdict_explanation, sources)
        if sha not in ids:
            ids[sha] = Verdict.objects.create(
                status=o.verdict_status,
                region_codes=codes,
                explanation=o.verdict_explanation,
                sources=sources,
                content_sha1=sha,
            ).pk
        Occurrence.objects.filter(pk=o.pk).update(verdict_id=ids[sha])


def unfill(apps, schema_editor):
    _no_statement_timeout(schema_editor)
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "UPDATE watchlists_occurrence SET verdict_region_codes = v.region_codes,"
            " verdict_explanation = v.explanation, verdict_sources = v.sources"
            " FROM watchlists_occurrenceverdict v WHERE watchlists_occurrence.verdict_id = v.id"
        )


class Migration(migrations.Migration):
    dependencies = [("watchlists", "0006_occurrence_verdict_table")]

    operations = [migrations.RunPython(fill, unfill)]
