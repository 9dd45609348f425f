"""Alerts to local contacts: routing (which contact for which point), watch-list immediacy,
signed webhooks verified by a receiver, grouping of duplicates, paused contacts, retries."""

import json
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts.delivery import TransientDeliveryError, alert_delivery_send
from alerts.models import AlertDelivery, AlertGroup, ContactWebhook
from alerts.tasks import raise_observation_alert
from alerts.webhooks import SIGNATURE_HEADER, webhook_sign, webhook_verify
from community.services import observation_review
from species.models import Taxon
from tests.factories import contact
from tests.world import classified

pytestmark = pytest.mark.django_db


def _contact(region, organisation, kind="wildlife_agency", email=True):
    row = contact(region, organisation, kind)
    if email:
        row.email = f"{organisation.split()[0].lower()}@example.org"
        row.save()
    return row


def _verified(owner, reviewer, lat, lon, model_version, key="Testus invasor", score=0.6, **fields):
    observation = classified(owner, lat, lon, [(key, score)], model_version, **fields)
    observation_review(
        observation=observation, reviewer=reviewer, decision="confirm", taxon=Taxon.objects.get(scientific_name=key)
    )
    return observation


@pytest.fixture
def alerting(eager_celery, django_capture_on_commit_callbacks):
    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def test_alert_routing_most_specific_region_with_active_contacts(users, geo, model_version, alerting):
    county = _contact(geo["county"], "Lake County Wildlife")
    _contact(geo["state"], "North Aland Agency")
    _contact(geo["country"], "Aland National Agency", "national_agency")
    in_county = alerting(_verified, users["alice"], users["rita"], 7, 2, model_version)
    in_state = alerting(_verified, users["alice"], users["rita"], 7, 8, model_version)  # the state, outside the county
    in_country = alerting(_verified, users["alice"], users["rita"], 2, 8, model_version)  # the country only
    by_observation = {d.observation_id: d.contact.organisation for d in AlertDelivery.objects.all()}
    assert by_observation == {
        in_county.pk: "Lake County Wildlife",
        in_state.pk: "North Aland Agency",
        in_country.pk: "Aland National Agency",
    }
    # A paused county contact: the state's contacts are the most specific active ones.
    county.is_active = False
    county.save()
    tomorrow = alerting(
        _verified, users["bob"], users["rita"], 7.2, 2.2, model_version, observed_at=timezone.now() + timedelta(days=1)
    )
    assert AlertDelivery.objects.get(observation=tomorrow).contact.organisation == "North Aland Agency"


def test_native_and_unverified_sightings_do_not_alert(users, geo, model_version, alerting):
    _contact(geo["county"], "Lake County Wildlife")
    alerting(_verified, users["alice"], users["rita"], 7, 2, model_version, key="Testus nativus")  # native
    alerting(
        classified, users["alice"], 7, 2, [("Testus invasor", 0.6)], model_version
    )  # invasive, not confident, not verified
    assert not AlertGroup.objects.exists() and mail.outbox == []


def test_classification_publishes_the_alert_check_only_when_it_can_fire(
    users, geo, model_version, django_capture_on_commit_callbacks, monkeypatch
):
    """Inputs: a confident native sighting, an unconfident invasive one, a confident invasive one.
    Only the last publishes the watch-list task to the broker (the others would cost a task that
    does nothing): the receiver of observations' `observation_classified` decides in process."""
    published = []
    monkeypatch.setattr(raise_observation_alert, "apply_async", lambda args, **kw: published.append(tuple(args)))
    for key, score in [("Testus nativus", 0.97), ("Testus invasor", 0.6), ("Testus invasor", 0.97)]:
        with django_capture_on_commit_callbacks(execute=True):
            observation = classified(users["alice"], 7, 2, [(key, score)], model_version)
    assert published == [(observation.pk, "classified")]


def test_watch_list_high_confidence_alerts_at_once(users, geo, model_version, alerting):
    _contact(geo["county"], "Lake County Wildlife")
    observation = alerting(classified, users["alice"], 7, 2, [("Testus invasor", 0.97)], model_version)
    group = AlertGroup.objects.get()
    assert group.reason == "watch_list" and list(group.observations.all()) == [observation]
    assert len(mail.outbox) == 1 and "Testus invasor" in mail.outbox[0].subject
    # Verifying it later the same day is the same group: no second message.
    alerting(
        observation_review,
        observation=observation,
        reviewer=users["rita"],
        decision="confirm",
        taxon=observation.prediction.taxon,
    )
    assert len(mail.outbox) == 1 and AlertGroup.objects.count() == 1


def test_duplicates_same_taxon_region_day_are_grouped(users, geo, model_version, alerting, receiver):
    agency = _contact(geo["county"], "Lake County Wildlife")
    ContactWebhook.objects.create(contact=agency, url=receiver.url, secret="s3cret")
    first = alerting(_verified, users["alice"], users["rita"], 7, 2, model_version)
    second = alerting(_verified, users["bob"], users["rita"], 7.3, 2.3, model_version)
    group = AlertGroup.objects.get()
    assert set(group.observations.all()) == {first, second}
    assert AlertDelivery.objects.filter(status="sent").count() == 2  # one e-mail + one webhook, for the group
    assert len(mail.outbox) == 1 and len(receiver.received) == 1


def test_webhook_signature_verified_by_receiver(users, geo, model_version, alerting, receiver):
    agency = _contact(geo["county"], "Lake County Wildlife", email=False)
    ContactWebhook.objects.create(contact=agency, url=receiver.url, secret="s3cret")
    observation = alerting(_verified, users["alice"], users["rita"], 7, 2, model_version)
    (request,) = receiver.received
    header = request["headers"][SIGNATURE_HEADER]
    assert webhook_verify("s3cret", request["body"], header)
    assert not webhook_verify("wrong", request["body"], header)
    assert not webhook_verify("s3cret", request["body"].replace(b"Testus", b"Fakeus"), header)
    assert not webhook_verify("s3cret", request["body"], header, now=time.time() + 3600)  # replayed late
    body = json.loads(request["body"])
    assert body["observation"]["id"] == str(observation.uuid) and body["verdict"]["status"] == "invasive"
    assert body["observation"]["location"] == {
        "latitude": 7,
        "longitude": 2,
        "exact": True,
        "coordinate_uncertainty_m": None,
        "data_generalizations": "",
    }
    assert body["model_version"] == "test-model-1" and body["predictions"][0]["key"] == "Testus invasor"
    assert body["verdict"]["sources"] and "/photo/?sig=" in body["observation"]["photo_url"]
    assert webhook_sign("k", b"x", timestamp=1) == webhook_sign("k", b"x", timestamp=1)


def test_webhook_transient_failures_retry_then_record(users, geo, model_version, receiver):
    agency = _contact(geo["county"], "Lake County Wildlife", email=False)
    ContactWebhook.objects.create(contact=agency, url=receiver.url, secret="s3cret")
    observation = _verified(users["alice"], users["rita"], 7, 2, model_version)
    from alerts.services import observation_alert

    observation_alert(observation_id=observation.pk, trigger="verified")
    delivery = AlertDelivery.objects.get()
    receiver.answers = [503, 400]
    with pytest.raises(TransientDeliveryError):
        alert_delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1 and "503" in delivery.last_error
    assert alert_delivery_send(delivery_id=delivery.pk) == "failed"  # 4xx: not retried
    delivery.refresh_from_db()
    assert delivery.response_status == 400 and delivery.attempts == 2


def test_webhook_unreachable_retries_then_fails_on_the_final_attempt(
    users, geo, model_version, eager_celery, local_webhooks
):
    from celery.exceptions import Retry

    from alerts.services import observation_alert
    from alerts.tasks import deliver_alert

    agency = _contact(geo["county"], "Lake County Wildlife", email=False)
    ContactWebhook.objects.create(contact=agency, url="http://127.0.0.1:9/closed", secret="s3cret")
    observation = _verified(users["alice"], users["rita"], 7, 2, model_version)
    observation_alert(observation_id=observation.pk, trigger="verified")
    delivery = AlertDelivery.objects.get()
    with pytest.raises(Retry):  # connection refused is transient: the task asks for a retry
        deliver_alert.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert deliver_alert.apply(args=[delivery.pk], retries=deliver_alert.max_retries).get() == "failed"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2 and "Connection refused" in delivery.last_error
    assert (
        deliver_alert.apply(args=[delivery.pk]).get() == "failed"
    )  # idempotent: a failed row is retried only while pending


def test_paused_webhook_is_skipped(users, geo, model_version):
    agency = _contact(geo["county"], "Lake County Wildlife", email=False)
    hook = ContactWebhook.objects.create(contact=agency, url="http://127.0.0.1:9/x", secret="s")
    observation = _verified(users["alice"], users["rita"], 7, 2, model_version)
    from alerts.services import observation_alert

    observation_alert(observation_id=observation.pk, trigger="verified")
    hook.is_active = False
    hook.save()
    assert alert_delivery_send(delivery_id=AlertDelivery.objects.get().pk) == "skipped"
