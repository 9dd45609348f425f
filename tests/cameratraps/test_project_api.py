"""The camera-trap project API: members only, frames into a project on the batch queue and the
project's own quota (not the person's rate), the frame list with cursor pagination and filters,
sequences with one identification each."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from cameratraps.models import Media
from observations.classification import observation_record_result
from observations.tasks import BATCH_QUEUE
from tests.cameratraps.conftest import queued, send
from tests.factories import jpeg_bytes
from tests.world import api_for

pytestmark = pytest.mark.django_db


def test_a_project_is_created_by_its_owner_and_visible_to_members_only(users):
    alice, bob, rita = api_for(users["alice"]), api_for(users["bob"]), api_for(users["rita"])
    created = alice.post(
        "/api/v1/projects/",
        {"name": "marsh", "default_geoprivacy": "private", "sequence_interval_s": 30},
        format="json",
    )
    assert created.status_code == 201 and created.data["owner"] == "alice" and created.data["sequence_interval_s"] == 30
    assert alice.post("/api/v1/projects/", {"name": "marsh"}, format="json").data["error"]["code"] == "conflict"
    assert [p["name"] for p in alice.get("/api/v1/projects/").data["results"]] == ["marsh"]
    assert bob.get("/api/v1/projects/").data["results"] == []
    for client in (bob, rita):  # a reviewer is not a member either
        response = client.get("/api/v1/projects/marsh/observations/")
        assert response.status_code == 404 and response.data["error"]["code"] == "not_found"
        assert send(client, project="marsh", deployment="cam1", latitude=1, longitude=1).status_code == 404


def test_a_frame_goes_to_the_batch_queue_at_its_deployment_with_the_projects_geoprivacy(
    project, users, django_capture_on_commit_callbacks
):
    bob = api_for(users["bob"])
    refused = send(bob, deployment="cam1")
    assert refused.status_code == 400 and refused.data["error"]["code"] == "unknown_deployment"
    with django_capture_on_commit_callbacks(execute=True):
        first = send(bob, deployment="cam1", latitude=50.7, longitude=4.0, headers={"Idempotency-Key": "k1"})
        second = send(bob, deployment="cam1", headers={"Idempotency-Key": "k2"})  # no point: the deployment's
        replay = send(bob, deployment="cam1", headers={"Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == replay.status_code == 202
    assert first["Location"].endswith(f"/api/v1/observations/{first.data['id']}/")
    assert replay.data["id"] == first.data["id"]
    assert second.data["location"]["latitude"] == 50.7 and second.data["location"]["longitude"] == 4.0
    media = Media.objects.select_related("observation")
    assert len(media) == 2 and {m.observation.geoprivacy for m in media} == {project.default_geoprivacy}
    assert queued(BATCH_QUEUE) == 2 and queued("inference") == 0  # phones' queue untouched


def test_the_projects_quota_applies_instead_of_the_persons_rate(project, users):
    project.upload_quota_per_hour = 3
    project.save()
    alice, bob = api_for(users["alice"]), api_for(users["bob"])
    codes = [
        send(client, deployment="cam1", latitude=1, longitude=1).status_code for client in (alice, bob, alice, bob)
    ]
    assert codes == [202, 202, 202, 429]  # 3 an hour for the whole project, whoever sends
    assert send(bob, deployment="cam1").headers["Retry-After"]
    # The person's own phone uploads are not spent by the project.
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
    assert (
        bob.post(
            "/api/v1/observations/", {"photo": photo, "latitude": 1, "longitude": 1}, format="multipart"
        ).status_code
        == 202
    )


def test_frames_are_listed_with_a_cursor_and_filters(project, users, model_version, taxa):
    alice = api_for(users["alice"])
    for n in range(5):
        send(
            alice,
            deployment="cam1" if n < 3 else "cam2",
            latitude=1,
            longitude=1,
            observed_at=f"2024-05-01T10:00:0{n}Z",
            media_id=f"m{n}",
        )
    heron = Media.objects.get(media_id="m1").observation
    observation_record_result(
        observation=heron,
        model_version=model_version,
        taxon_scores={"Testus nativus": 0.9},
        top_k=[("Testus nativus", 0.9)],
    )

    seen, url = [], "/api/v1/projects/wetlands/observations/?limit=2"
    while url:
        page = alice.get(url).data
        assert len(page["results"]) <= 2 and "count" not in page
        seen += [row["media_id"] for row in page["results"]]
        url = page["next"]
    assert seen == ["m0", "m1", "m2", "m3", "m4"]
    assert (
        alice.get("/api/v1/projects/wetlands/observations/?limit=500").status_code == 200
    )  # capped at 200, not refused

    def ids(query):
        return [
            row["media_id"] for row in alice.get(f"/api/v1/projects/wetlands/observations/?{query}").data["results"]
        ]

    assert ids("deployment=cam2") == ["m3", "m4"]
    assert ids("status=done") == ["m1"]
    assert ids("taxon=Testus") == ["m1"]  # the genus finds its species
    assert ids("since=2024-05-01T10:00:02Z&until=2024-05-01T10:00:04Z") == ["m2", "m3"]
    bad = alice.get("/api/v1/projects/wetlands/observations/?status=lost")
    assert bad.status_code == 400 and "status" in bad.data["error"]["fields"]
    row = alice.get("/api/v1/projects/wetlands/observations/?status=done").data["results"][0]
    assert (
        row["deployment"] == "cam1"
        and row["observation"]["identification"]["taxon"]["scientific_name"] == "Testus nativus"
    )

    sequences = alice.get("/api/v1/projects/wetlands/sequences/").data["results"]
    assert [(s["sequence_id"], s["media_ids"]) for s in sequences] == [
        ("cam1-1", ["m0", "m1", "m2"]),
        ("cam2-1", ["m3", "m4"]),
    ]
    assert sequences[0]["scientific_name"] == "Testus nativus" and sequences[0]["observation_type"] == "animal"
    assert sequences[1]["observation_type"] == "unclassified"
