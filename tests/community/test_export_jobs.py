"""The Darwin Core Archive export is a background job (docs/reliability.md, "Worker faults and
memory" W8): the request answers 202 at once with a link; a default-queue worker writes the archive
into storage; the reviewer who asked downloads it."""

import io
import zipfile

import pytest

from community import export_writer
from community.models import DwcaExport
from community.tasks import write_dwca_export
from tests.factories import UserFactory
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db


def test_w8_dwca_export_runs_as_a_background_job_with_a_download_link(
    users, geo, model_version, eager_celery, django_capture_on_commit_callbacks, monkeypatch
):
    for lat in (6, 7, 8):
        classified(users["alice"], lat, 2, [("Testus nativus", 0.9)], model_version)
    rita = api_for(users["rita"])
    real_write = export_writer.dwca_write

    def not_in_the_request(*args, **kwargs):
        raise AssertionError("the archive was written inside the request")

    monkeypatch.setattr(export_writer, "dwca_write", not_in_the_request)
    with django_capture_on_commit_callbacks(execute=False) as published:
        started = rita.post("/api/v1/exports/dwca/", {"verified_only": False}, format="json")
    assert started.status_code == 202 and started["Retry-After"] and len(published) == 1
    link = started["Location"]
    assert started.data["status"] == "queued" and started.data["download"] is None
    queued = rita.get(link)
    assert queued.status_code == 200 and queued.data["status"] == "queued" and queued["Retry-After"]
    too_early = rita.get(link + "download/")
    assert too_early.status_code == 425 and too_early.json()["error"]["code"] == "export_not_ready"

    monkeypatch.setattr(export_writer, "dwca_write", real_write)
    published[0]()  # the broker delivers the job to a default-queue worker (eager here)
    done = rita.get(link).data
    assert done["status"] == "done" and done["records"] == 3 and done["download"].endswith("/download/")
    archive = rita.get(done["download"])
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    occurrences = zipfile.ZipFile(io.BytesIO(b"".join(archive.streaming_content))).read("occurrence.txt").decode()
    assert len(occurrences.splitlines()) == 1 + 3
    assert [e["id"] for e in rita.get("/api/v1/exports/dwca/").data["results"]] == [done["id"]]

    # Someone else's export does not exist for another reviewer; non-reviewers may not export.
    other = UserFactory(username="otto")
    other.groups.add(users["rita"].groups.first())
    assert api_for(other).get(link).status_code == 404 and api_for(other).get(link + "download/").status_code == 404
    assert api_for(users["alice"]).post("/api/v1/exports/dwca/", {}, format="json").status_code == 403


def test_w8_export_job_contract_default_queue_and_a_failure_said_on_the_row(users, geo, monkeypatch):
    route = write_dwca_export.app.amqp.router.route({}, write_dwca_export.name)["queue"].name
    assert route == "exports" and write_dwca_export.acks_late and write_dwca_export.max_retries == 2  # issue 23
    export = DwcaExport.objects.create(requested_by=users["rita"])

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(export_writer, "dwca_write", broken)
    with pytest.raises(ValueError):
        write_dwca_export.apply(args=[export.pk], throw=True)
    export.refresh_from_db()
    assert export.status == "failed" and "ValueError" in export.failure
    assert write_dwca_export.apply(args=[export.pk]).get() == "failed"  # a redelivery changes nothing


def _queue_of(task) -> str:
    return task.app.amqp.router.route({}, task.name)["queue"].name


def test_medium_dwca_exports_one_running_per_user_deduplicated_on_their_own_queue(
    users, geo, model_version, eager_celery, django_capture_on_commit_callbacks
):
    """Issue 23: one reviewer queued 4 exports of 15,204 records in 0.5 s and an alert's e-mails
    waited 93 s behind them. One running export per user; the same request again is that export;
    exports run on their own queue, apart from the alerts' default queue."""
    from django.db import IntegrityError, transaction

    from alerts.tasks import deliver_alert, raise_observation_alert

    classified(users["alice"], 6, 2, [("Testus nativus", 0.9)], model_version)
    rita = api_for(users["rita"])
    with django_capture_on_commit_callbacks(execute=False) as published:
        answers = [rita.post("/api/v1/exports/dwca/", {"verified_only": False}, format="json") for _ in range(4)]
    assert [a.status_code for a in answers] == [202, 200, 200, 200]
    assert len({a.data["id"] for a in answers}) == 1 and len(published) == 1
    assert DwcaExport.objects.filter(requested_by=users["rita"]).count() == 1

    other_options = rita.post("/api/v1/exports/dwca/", {"verified_only": True}, format="json")
    assert other_options.status_code == 409 and other_options.json()["error"]["code"] == "export_running"

    # Another reviewer's export is theirs: not blocked by rita's.
    other = UserFactory(username="otto")
    other.groups.add(users["rita"].groups.first())
    assert api_for(other).post("/api/v1/exports/dwca/", {}, format="json").status_code == 202

    # The database holds the rule under concurrent requests too.
    with pytest.raises(IntegrityError), transaction.atomic():
        DwcaExport.objects.create(requested_by=users["rita"])

    published[0]()  # written
    assert rita.get(answers[0]["Location"]).data["status"] == "done"
    again = rita.post("/api/v1/exports/dwca/", {"verified_only": True}, format="json")
    assert again.status_code == 202 and again.data["id"] != answers[0].data["id"]

    assert _queue_of(write_dwca_export) == "exports"
    assert _queue_of(raise_observation_alert) == _queue_of(deliver_alert) == "default"
