"""What the camera-trap project tests share: empty in-memory broker queues, the project "wetlands"
(alice owns it, bob is a member), and a frame sent into it through the API."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from kombu.transport.memory import Channel

from cameratraps.services import project_create, project_member_add
from observations.tasks import BATCH_QUEUE
from tests.factories import jpeg_bytes


@pytest.fixture(autouse=True)
def _fresh_queues():
    for name in (BATCH_QUEUE, "inference"):
        Channel.queues.pop(name, None)
    yield


def queued(name):
    queue = Channel.queues.get(name)
    return queue.qsize() if queue is not None else 0


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
