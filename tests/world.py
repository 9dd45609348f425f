"""Fixtures for the citizen-science tests: a small world of regions, classified observations,
roles, eager Celery, a local webhook receiver."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import REVIEWERS_GROUP
from accounts.services import token_create
from classifier.models import ModelVersion
from observations.classification import observation_record_result
from observations.models import Observation
from observations.photos import photo_derivative_build
from tests.factories import TaxonFactory, UserFactory, contact, jpeg_bytes, region, status


@pytest.fixture
def eager_celery():
    """Tasks run in-process (the broker is only a carrier of ids here)."""
    from backend.celery import app

    before = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = before


@pytest.fixture
def taxa():
    animalia = TaxonFactory(scientific_name="Animalia", rank="kingdom")
    genus = TaxonFactory(scientific_name="Testus", rank="genus", parent=animalia)
    return {
        "kingdom": animalia,
        "genus": genus,
        "invasor": TaxonFactory(scientific_name="Testus invasor", parent=genus, common_name="test invader"),
        "nativus": TaxonFactory(scientific_name="Testus nativus", parent=genus),
        "rarus": TaxonFactory(scientific_name="Testus rarus", parent=genus, common_name="rare native"),
        "other": TaxonFactory(scientific_name="Otherus alius", parent=animalia),
    }


@pytest.fixture
def geo(taxa):
    """Country AAA (0..10), its state AAA-N (0..10 x 5..10) and county AAA-N1 (0..5 x 5..10).
    Testus invasor is invasive in AAA; Testus nativus and Testus rarus are native."""
    aaa = region("AAA", "country", (0, 0, 10, 10), name="Aland")
    aaa.iso_a2 = "AL"
    aaa.save(update_fields=["iso_a2"])
    state = region("AAA-N", "admin1", (0, 5, 10, 10), parent=aaa, name="North Aland")
    county = region("AAA-N1", "admin2", (0, 5, 5, 10), parent=state, name="Lake County")
    status(taxa["invasor"], aaa, "invasive")
    status(taxa["nativus"], aaa, "native")
    status(taxa["rarus"], aaa, "native")
    return {"country": aaa, "state": state, "county": county}


@pytest.fixture
def model_version(db):
    return ModelVersion.objects.create(
        name="test-model-1", arch="tiny", path="/nowhere", sha256="0" * 64, num_labels=3, is_active=True
    )


def classified(owner, lat, lon, top_k, model_version, **fields) -> Observation:
    """An uploaded and classified observation (the model's output given as `top_k`)."""
    observation = Observation(
        owner=owner, latitude=lat, longitude=lon, location_source="client", photo_format="JPEG", **fields
    )
    jpeg = jpeg_bytes()
    observation.photo.save("upload", ContentFile(jpeg), save=False)
    observation.save()
    observation_record_result(
        observation=observation, model_version=model_version, taxon_scores=dict(top_k), top_k=list(top_k)
    )
    photo_derivative_build(observation=observation, data=jpeg)  # the served copy, as the worker builds it
    observation.refresh_from_db()
    return observation


def give_track_record(user, taxon, model_version) -> None:
    """Make `user` an identifier whose identifications count toward a community taxon
    (community.selectors: an account a week old, three identifications agreeing with records a
    reviewer confirmed). The records belong to another user, so `user`'s own lists are unchanged."""
    from community.models import Identification

    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=8))
    owner = UserFactory(username="track-record-owner")
    for _ in range(3):
        record = classified(owner, 1, 1, [(taxon.scientific_name, 0.9)], model_version)
        Identification.objects.create(observation=record, user=user, taxon=taxon)  # before the verification
        Observation.objects.filter(pk=record.pk).update(
            verification="confirmed", verified_taxon=taxon, verified_at=timezone.now()
        )


def api_for(user) -> APIClient:
    client = APIClient()
    _, key = token_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture
def users(db):
    reviewers, _ = Group.objects.get_or_create(name=REVIEWERS_GROUP)
    reviewer = UserFactory(username="rita")
    reviewer.groups.add(reviewers)
    return {"alice": UserFactory(username="alice"), "bob": UserFactory(username="bob"), "rita": reviewer}


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        code = self.server.answers.pop(0) if self.server.answers else 204
        self.send_response(code)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def local_webhooks(settings):
    """Webhooks may point at plain http on 127.0.0.1 (the tests' receiver); production allows
    https on public addresses only (alerts.webhooks)."""
    settings.RANGEWATCH_WEBHOOK_SCHEMES = ["https", "http"]
    settings.RANGEWATCH_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]


@pytest.fixture
def receiver(local_webhooks):
    """A local HTTP receiver on 127.0.0.1 (a contact's webhook endpoint)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


def payloads(server) -> list[dict]:
    return [json.loads(item["body"]) for item in server.received]


__all__ = ["classified", "api_for", "give_track_record", "payloads", "contact"]
