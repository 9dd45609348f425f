"""The issue's "done when": a list over Belgium with the rule invasive_here; a GBIF simple download
with invasive and native animals in Belgium and elsewhere imported; the matches are exactly the
invasive ones inside the area; a digest lists them and its unsubscribe works without login; a
status change and "mark seen" persist; a correction to a matched upload removes it."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from community.services import observation_review
from tests.factories import TaxonFactory, region, status
from tests.world import api_for, classified
from watchlists.models import Match, MatchStatusChange, Occurrence, Subscription

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit announcements fire as in production

HEADER = (
    "gbifID\tdatasetKey\toccurrenceID\tkingdom\tspecies\tscientificName\tdecimalLatitude\tdecimalLongitude\t"
    "occurrenceStatus\teventDate\tlicense\trightsHolder\tcoordinateUncertaintyInMeters\n"
)


def gbif_simple_download(path, rows) -> None:
    """GBIF's simple download: tab-separated, Darwin Core column names, one record a line."""
    lines = [HEADER]
    for i, (name, lat, lon) in enumerate(rows, start=1):
        lines.append(
            f"{1000 + i}\td-1\turn:test:{i}\tAnimalia\t{name}\t{name} (L.)\t{lat}\t{lon}\tPRESENT\t2024-05-{i:02d}\t"
            f"CC_BY_4_0\tObserver {i}\t10\n"
        )
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def belgium_world(taxa):
    """Belgium and France as boxes; the raccoon and the muntjac invasive in Belgium (the raccoon in
    France too), the fox native in both."""
    bel = region("BEL", "country", (2.5, 49.5, 6.4, 51.5), name="Belgium")
    fra = region("FRA", "country", (-5.0, 42.0, 2.5, 49.5), name="France")
    raccoon = TaxonFactory(scientific_name="Procyon lotor", parent=taxa["kingdom"])
    muntjac = TaxonFactory(scientific_name="Muntiacus reevesi", parent=taxa["kingdom"])
    fox = TaxonFactory(scientific_name="Vulpes vulpes", parent=taxa["kingdom"])
    for row in (bel, fra):
        status(raccoon, row, "invasive")
        status(fox, row, "native")
    status(muntjac, bel, "invasive")
    return {"bel": bel, "fra": fra, "raccoon": raccoon, "muntjac": muntjac, "fox": fox}


def test_a_list_over_belgium_takes_exactly_the_invasive_records_inside_it(
    belgium_world, users, model_version, eager_celery, tmp_path, settings
):
    settings.RANGEWATCH_PUBLIC_BASE_URL = "https://rangewatch.example"
    alice = users["alice"]
    alice.email = "alice@agency.example"
    alice.save()
    api = api_for(alice)
    created = api.post(
        "/api/v1/watchlists/",
        {"name": "Belgium invaders", "regions": ["BEL"], "rule": "invasive_here", "frequency": "daily"},
        format="json",
    )
    assert created.status_code == 201, created.content
    list_id = created.json()["id"]

    download = tmp_path / "0012345-241024112534372.csv"
    gbif_simple_download(
        download,
        [
            ("Procyon lotor", 50.85, 4.35),  # Brussels: invasive in the area
            ("Muntiacus reevesi", 51.05, 3.72),  # Ghent: invasive in the area
            ("Vulpes vulpes", 50.63, 5.57),  # Liège: native
            ("Procyon lotor", 48.85, 2.35),  # Paris: invasive, outside the area
            ("Vulpes vulpes", 45.76, 4.83),  # Lyon: native, outside
            ("Procyon lotor", 40.71, -74.0),  # New York: nowhere we know
        ],
    )
    out = io.StringIO()
    call_command("import_occurrences", str(download), stdout=out)
    report = json.loads(out.getvalue().splitlines()[-1])
    assert report["read"] == 6 and report["created"] == 6
    assert Occurrence.objects.get(occurrence_id="urn:test:1").verdict_status == "invasive"
    assert Occurrence.objects.get(occurrence_id="urn:test:3").verdict_status == "native"

    page = api.get(f"/api/v1/watchlists/{list_id}/matches/").json()
    assert sorted(m["record_id"] for m in page["results"]) == ["d-1:urn:test:1", "d-1:urn:test:2"]
    assert {m["verdict"] for m in page["results"]} == {"invasive"}
    assert all(m["license"] == "CC_BY_4_0" and m["citation"] for m in page["results"])
    # Each record's explanation is its own verdict's, read from the shared verdict rows.
    for m in page["results"]:
        record = Occurrence.objects.select_related("verdict").get(occurrence_id=m["record_id"].split(":", 1)[1])
        assert m["explanation"] == record.verdict.explanation != ""

    # A reviewer-visible upload of a raccoon in Belgium joins through the observation signal.
    upload = classified(users["bob"], 50.5, 4.5, [("Procyon lotor", 0.97)], model_version)
    uploads = Match.objects.filter(watch_list_id=list_id, observation=upload)
    assert uploads.count() == 1

    # The digest: one e-mail to the owner, the three records grouped by taxon, with links.
    call_command("send_watchlist_digests", "--frequency", "daily", stdout=io.StringIO())
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@agency.example"]
    assert "3 new record(s)" in message.subject
    assert "Procyon lotor (2)" in message.body and "Muntiacus reevesi (1)" in message.body
    assert "https://www.gbif.org/occurrence/1001" in message.body
    html = message.alternatives[0][0]
    assert "<em>Procyon lotor</em> (2)" in html and "invasive" in html
    unsubscribe_url = message.extra_headers["List-Unsubscribe"].strip("<>")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe_url in message.body

    # A second run sends nothing new.
    call_command("send_watchlist_digests", "--frequency", "daily", stdout=io.StringIO())
    assert len(mail.outbox) == 1

    # Triage: a status with a note, and "mark seen", persist (read back through the API).
    first = page["results"][0]["id"]
    patched = api.patch(
        f"/api/v1/watchlists/{list_id}/matches/{first}/",
        {"status": "managed", "note": "trapped by the river team"},
        format="json",
    )
    assert patched.status_code == 200 and patched.json()["status"] == "managed"
    assert api.post(f"/api/v1/watchlists/{list_id}/matches/seen/", {"all": True}, format="json").status_code == 200
    again = api.get(f"/api/v1/watchlists/{list_id}/matches/{first}/").json()
    assert again["status"] == "managed" and again["note"] == "trapped by the river team" and again["seen"]
    assert [h["status"] for h in again["history"]] == ["managed"]
    assert MatchStatusChange.objects.filter(match_id=first).count() == 1
    new_view = api.get(f"/api/v1/watchlists/{list_id}/matches/?view=new").json()["results"]
    assert first not in [m["id"] for m in new_view]  # managed leaves the "new" view...
    export = b"".join(api.get(f"/api/v1/watchlists/{list_id}/matches/export/csv/").streaming_content)
    assert b"trapped by the river team" in export  # ...and stays in the exports
    dwca = b"".join(api.get(f"/api/v1/watchlists/{list_id}/matches/export/dwca/").streaming_content)
    with zipfile.ZipFile(io.BytesIO(dwca)) as archive:
        assert {"meta.xml", "occurrence.txt"} <= set(archive.namelist())
        core = archive.read("occurrence.txt").decode()
    assert "trapped by the river team" in core and "urn:test:2" in core
    assert api.get(f"/api/v1/watchlists/{list_id}/matches/?seen=false").json()["results"] == []

    # One-click unsubscribe: no login, no CSRF token (RFC 8058); a GET only asks.
    anonymous = Client(enforce_csrf_checks=True)
    path = unsubscribe_url.removeprefix("https://rangewatch.example")
    assert anonymous.get(path).status_code == 200
    assert Subscription.objects.get(user=alice).active
    answer = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert answer.status_code == 200
    assert not Subscription.objects.get(user=alice).active

    # A correction: a reviewer says the upload is a fox (native here); it leaves the list.
    observation_review(observation=upload, reviewer=users["rita"], decision="confirm", taxon=belgium_world["fox"])
    assert not Match.objects.filter(watch_list_id=list_id, observation=upload).exists()
    assert Match.objects.filter(watch_list_id=list_id).count() == 2


def test_a_rejected_upload_leaves_the_list(belgium_world, users, model_version, eager_celery):
    from watchlists.services import watch_list_create

    watch_list = watch_list_create(owner=users["alice"], name="raccoons", regions=["BEL"], taxa=["Procyon lotor"])
    upload = classified(users["bob"], 50.5, 4.5, [("Procyon lotor", 0.97)], model_version)
    assert Match.objects.filter(watch_list=watch_list, observation=upload).exists()
    observation_review(observation=upload, reviewer=users["rita"], decision="reject")
    assert not Match.objects.filter(watch_list=watch_list, observation=upload).exists()
