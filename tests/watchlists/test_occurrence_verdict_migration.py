"""Migrations 0006-0008 (issue 26): the stored records' verdict texts become shared
OccurrenceVerdict rows that the records point to, and the way back restores the columns."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("watchlists", "0005_drop_point_gist")]
AFTER = [("watchlists", "0008_drop_occurrence_verdict_columns")]


def _records(Occurrence):
    base = {"dataset": "d", "latitude": 1.0, "longitude": 2.0, "scientific_name": "Testus invasor", "row_sha1": "0"}
    invasive = {
        "verdict_status": "invasive",
        "verdict_region_codes": ["AAA", "BBB"],
        "verdict_explanation": "Testus invasor is invasive in Aland.",
        "verdict_sources": ["GRIIS"],
    }
    Occurrence.objects.create(occurrence_id="1", **base, **invasive)
    Occurrence.objects.create(occurrence_id="2", **base, **invasive)
    Occurrence.objects.create(
        occurrence_id="3",
        **base,
        verdict_status="native",
        verdict_region_codes=["AAA"],
        verdict_explanation="Testus invasor is native in Aland (café).",
        verdict_sources=[],
    )
    Occurrence.objects.create(occurrence_id="4", **base)  # every verdict column at its default


@pytest.mark.django_db(transaction=True)
def test_verdict_texts_move_to_shared_rows_and_back():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    _records(executor.loader.project_state(BEFORE).apps.get_model("watchlists", "Occurrence"))

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Occurrence, Verdict = new.get_model("watchlists", "Occurrence"), new.get_model("watchlists", "OccurrenceVerdict")
    assert Verdict.objects.count() == 3 and not Occurrence.objects.filter(verdict=None).exists()
    by_id = {o.occurrence_id: o.verdict for o in Occurrence.objects.select_related("verdict")}
    assert by_id["1"].pk == by_id["2"].pk and by_id["1"].region_codes == ["AAA", "BBB"]
    assert by_id["1"].sources == ["GRIIS"] and by_id["1"].status == "invasive"
    assert by_id["3"].explanation == "Testus invasor is native in Aland (café)." and by_id["3"].sources == []
    assert (by_id["4"].status, by_id["4"].region_codes, by_id["4"].explanation) == ("", [], "")
    from watchlists.models import verdict_content_sha1

    assert by_id["1"].content_sha1 == verdict_content_sha1(
        "invasive", ["AAA", "BBB"], by_id["1"].explanation, ["GRIIS"]
    )

    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("watchlists", "Occurrence")
    back = {o.occurrence_id: o for o in old.objects.all()}
    assert back["2"].verdict_region_codes == ["AAA", "BBB"] and back["2"].verdict_sources == ["GRIIS"]
    assert back["3"].verdict_explanation == "Testus invasor is native in Aland (café)."

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
