"""Contacts' signed webhooks subscribed to a watch list: each digest window's new records go to
every active subscribed webhook as one signed POST (through alerts.delivery's one webhook POST),
with the points the list's owner may see; retries, refusals, pauses, re-runs, `never`, and who
may subscribe one."""

from __future__ import annotations

import datetime
import json
import socket

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.utils import timezone

from alerts.models import ContactWebhook
from alerts.webhooks import SIGNATURE_HEADER, webhook_verify
from tests.factories import UserFactory, contact
from tests.world import api_for, classified, payloads
from watchlists import webhooks as watch_list_webhooks
from watchlists.digests import digests_send
from watchlists.matching import observation_matches_sync
from watchlists.models import WatchList, WebhookDelivery, WebhookSubscription
from watchlists.services import watch_list_create
from watchlists.tasks import deliver_webhook, digests_publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return UserFactory(username="sam", is_staff=True, email="sam@agency.example")


@pytest.fixture
def agency(geo):
    return contact(geo["country"], "Aland National Agency", "national_agency")


def _hook(agency, url, secret="s3cret") -> ContactWebhook:
    return ContactWebhook.objects.create(contact=agency, url=url, secret=secret)


def _upload(owner, lat, lon, model_version, key="Testus invasor", **fields):
    """An upload, classified and matched (the tests run in one transaction: no on-commit signal)."""
    observation = classified(owner, lat, lon, [(key, 0.97)], model_version, **fields)
    observation_matches_sync(observation_id=observation.pk)
    return observation


def _list(owner, hooks=(), **fields) -> WatchList:
    fields = {"name": "Aland invaders", "regions": ["AAA"], "rule": "invasive_here", **fields}
    return watch_list_create(owner=owner, webhooks=[h.pk for h in hooks], match_existing=False, **fields)


def _floats(value):
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _floats(v)
    elif isinstance(value, list):
        for v in value:
            yield from _floats(v)


def test_a_digest_window_posts_one_signed_delivery_besides_the_emails(
    geo, users, staff, agency, model_version, receiver, eager_celery, settings
):
    """Input: a daily list over AAA (rule invasive_here) owned by staff with one subscribed webhook;
    two invasive uploads and a native one in AAA; the daily digest run (as beat runs it)."""
    settings.RANGEWATCH_PUBLIC_BASE_URL = "https://rangewatch.example"
    watch_list = _list(staff, [_hook(agency, receiver.url)])
    first = _upload(users["bob"], 2, 2, model_version)
    second = _upload(users["alice"], 3, 3, model_version)
    _upload(users["bob"], 2, 3, model_version, key="Testus nativus")

    run = digests_publish(frequency="daily")

    assert run.emails == 1 and len(mail.outbox) == 1 and mail.outbox[0].to == ["sam@agency.example"]
    (request,) = receiver.received
    assert webhook_verify("s3cret", request["body"], request["headers"][SIGNATURE_HEADER])
    assert not webhook_verify("other", request["body"], request["headers"][SIGNATURE_HEADER])
    (body,) = payloads(receiver)
    delivery = WebhookDelivery.objects.get()
    assert body["event"] == "rangewatch.watch_list_digest" and body["delivery"] == f"watchlist-{delivery.pk}"
    assert request["headers"]["X-RangeWatch-Delivery"] == f"watchlist-{delivery.pk}"
    assert body["watch_list"] == {
        "id": watch_list.pk,
        "name": "Aland invaders",
        "url": f"https://rangewatch.example/watchlists/{watch_list.pk}/",
        "matches_url": f"https://rangewatch.example/api/v1/watchlists/{watch_list.pk}/matches/",
    }
    assert body["window"]["until"] == delivery.until.isoformat() and body["more"] is False
    (group,) = body["taxa"]
    assert group["scientific_name"] == "Testus invasor" and body["total"] == 2
    records = {r["record_id"]: r for r in group["records"]}
    assert set(records) == {str(first.uuid), str(second.uuid)}
    record = records[str(first.uuid)]
    assert record["verdict"]["status"] == "invasive" and record["verdict"]["explanation"]
    assert record["sources"] and record["observed_on"] is None and record["source"] == "uploads"
    assert record["location"] == {"latitude": 2.0, "longitude": 2.0, "generalised": ""}
    assert record["record_url"] == f"https://rangewatch.example/api/v1/feed/{first.uuid}/"
    assert record["citation"] == "RangeWatch observation" and record["license"] == ""
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("sent", 1, 204)
    assert delivery.target == receiver.url and delivery.sent_at is not None
    watch_list.refresh_from_db()
    assert watch_list.last_digest_at == delivery.until


def test_a_rerun_of_the_same_window_sends_nothing_twice(geo, users, staff, agency, model_version, receiver):
    """Input: the daily run twice with the same `now`, then the task again on the sent delivery,
    then a later run with no new record; then a run whose e-mails fail, and the run after it."""
    watch_list = _list(staff, [_hook(agency, receiver.url)])
    _upload(users["bob"], 2, 2, model_version)
    now = timezone.now()
    (delivery_id,) = digests_send(frequency="daily", now=now).webhook_deliveries
    assert digests_send(frequency="daily", now=now).webhook_deliveries == []
    assert deliver_webhook.apply(args=[delivery_id]).get() == "sent"
    assert deliver_webhook.apply(args=[delivery_id]).get() == "sent"  # sent rows are not sent again
    assert digests_send(frequency="daily").webhook_deliveries == []  # nothing new since
    assert len(receiver.received) == 1 and WebhookDelivery.objects.count() == 1

    # E-mails that fail keep the list's mark (the next run mails the same records again) ...
    second = _upload(users["bob"], 3, 3, model_version)
    mail_down = pytest.MonkeyPatch()
    mail_down.setattr("django.core.mail.EmailMultiAlternatives.send", lambda self, *a, **k: 1 / 0)
    mark = WatchList.objects.get(pk=watch_list.pk).last_digest_at
    run = digests_send(frequency="daily")
    mail_down.undo()
    assert run.emails == 0 and len(run.webhook_deliveries) == 1
    assert WatchList.objects.get(pk=watch_list.pk).last_digest_at == mark
    # ... while the webhook, which got them, does not get them again.
    again = digests_send(frequency="daily")
    assert again.emails == 1 and again.webhook_deliveries == []
    assert f"/api/v1/feed/{second.uuid}/" in mail.outbox[-1].body and "1 new record(s)" in mail.outbox[-1].subject


def test_a_webhook_in_trouble_stops_neither_the_emails_nor_the_other_lists(
    geo, users, staff, agency, model_version, receiver, monkeypatch, eager_celery
):
    """Input: two daily lists with webhooks; building the first list's payload raises; the
    second's webhook answers 500."""
    broken = _list(staff, [_hook(agency, receiver.url)], name="first")
    other = _list(staff, [_hook(agency, receiver.url + "/2")], name="second")
    _upload(users["bob"], 2, 2, model_version)
    real = watch_list_webhooks.webhook_payload

    def payload(*, watch_list, **kwargs):
        if watch_list.pk == broken.pk:
            raise RuntimeError("payload trouble")
        return real(watch_list=watch_list, **kwargs)

    monkeypatch.setattr(watch_list_webhooks, "webhook_payload", payload)
    now = timezone.now()
    run = digests_send(frequency="daily", now=now)
    assert run.emails == 2 and len(mail.outbox) == 2
    (delivery_id,) = run.webhook_deliveries
    assert WebhookDelivery.objects.get(pk=delivery_id).subscription.watch_list_id == other.pk
    assert set(WatchList.objects.values_list("last_digest_at", flat=True)) == {now}
    receiver.answers = [500]
    with pytest.raises(Retry):
        deliver_webhook.apply(args=[delivery_id])
    assert len(mail.outbox) == 2 and set(WatchList.objects.values_list("last_digest_at", flat=True)) == {now}


def test_a_500_is_retried_then_recorded_failed(geo, users, staff, agency, model_version, receiver, eager_celery):
    """Input: a webhook answering 500 twice: the task asks for a retry, its final attempt records
    `failed`; a failed row is not tried again."""
    _list(staff, [_hook(agency, receiver.url)])
    _upload(users["bob"], 2, 2, model_version)
    (delivery_id,) = digests_send(frequency="daily").webhook_deliveries
    receiver.answers = [500, 500]
    with pytest.raises(Retry):
        deliver_webhook.apply(args=[delivery_id])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1) and "500" in delivery.last_error
    assert deliver_webhook.apply(args=[delivery_id], retries=deliver_webhook.max_retries).get() == "failed"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2) and "500" in delivery.last_error
    assert deliver_webhook.apply(args=[delivery_id]).get() == "failed" and len(receiver.received) == 2


def test_a_webhook_pointing_at_127_0_0_1_is_refused_for_good(geo, users, staff, agency, model_version):
    """Input: a webhook at https://127.0.0.1:<port>/hook (an internal service listens there),
    saved as an old row without the URL check; production settings (https, public addresses)."""
    internal = socket.create_server(("127.0.0.1", 0))
    internal.settimeout(0.3)
    _list(staff, [_hook(agency, f"https://127.0.0.1:{internal.getsockname()[1]}/hook")])
    _upload(users["bob"], 2, 2, model_version)
    (delivery_id,) = digests_send(frequency="daily").webhook_deliveries
    assert deliver_webhook.apply(args=[delivery_id]).get() == "failed"  # no retry
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 1, None)
    assert "non-public" in delivery.last_error
    with pytest.raises(TimeoutError):
        internal.accept()  # nobody connected
    internal.close()


def test_an_obscured_upload_shows_only_its_public_point(geo, users, staff, agency, model_version, receiver):
    """Input: bob's obscured upload at (1.53, 1.52), true point inside AAA, in a list owned by
    staff who is neither bob nor a reviewer: the payload carries the 0.1° cell's centre."""
    _list(staff, [_hook(agency, receiver.url)])
    _upload(users["bob"], 1.53, 1.52, model_version, geoprivacy="obscured")
    (delivery_id,) = digests_send(frequency="daily").webhook_deliveries
    assert deliver_webhook.apply(args=[delivery_id]).get() == "sent"
    (body,) = payloads(receiver)
    (record,) = body["taxa"][0]["records"]
    assert (record["location"]["latitude"], record["location"]["longitude"]) == (1.55, 1.55)
    assert "0.1° grid cell" in record["location"]["generalised"]
    for stored in (body, WebhookDelivery.objects.get().payload):
        assert not {1.53, 1.52} & set(_floats(stored))


def test_only_staff_subscribe_a_webhook_and_only_the_owner_sees_them(geo, users, staff, agency, receiver):
    """Inputs: POST /api/v1/watchlists/ with "webhooks": [id] by a user who is not staff (403),
    by staff with an unknown id and with a paused webhook's id (400), by staff with an active
    one (201); then GET by the owner and by a member."""
    hook = _hook(agency, receiver.url)
    paused = _hook(agency, receiver.url + "/paused")
    paused.is_active = False
    paused.save()
    body = {"name": "hooked", "regions": ["AAA"], "rule": "invasive_here", "webhooks": [hook.pk]}
    refused = api_for(users["alice"]).post("/api/v1/watchlists/", body, format="json")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    assert "webhooks" in refused.json()["error"]["fields"] and not WatchList.objects.exists()
    with pytest.raises(Exception, match="only staff"):
        _list(users["alice"], [hook])
    for ids, wrong in (([hook.pk, 99999], "99999"), ([paused.pk], str(paused.pk))):
        answer = api_for(staff).post("/api/v1/watchlists/", {**body, "webhooks": ids}, format="json")
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_watch_list"
        assert wrong in answer.json()["error"]["fields"]["webhooks"][0]
    assert not WatchList.objects.exists()
    created = api_for(staff).post("/api/v1/watchlists/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["webhooks"] == [{"id": hook.pk, "contact": "Aland National Agency", "active": True}]
    watch_list = WatchList.objects.get()
    assert WebhookSubscription.objects.get().added_by == staff
    watch_list.members.add(users["bob"])
    assert api_for(users["bob"]).get(f"/api/v1/watchlists/{watch_list.pk}/").json()["webhooks"] is None
    listed = api_for(staff).get("/api/v1/watchlists/").json()["results"]
    assert listed[0]["webhooks"][0]["id"] == hook.pk
    # A list without webhooks is anyone's to make, as before.
    plain = api_for(users["alice"]).post("/api/v1/watchlists/", {**body, "webhooks": []}, format="json")
    assert plain.status_code == 201 and plain.json()["webhooks"] == []


def test_a_paused_webhook_is_skipped(geo, users, staff, agency, model_version, receiver):
    """Input: a delivery recorded, then its webhook paused before the task runs; then a run while
    it is paused, and a run with the list's subscription paused."""
    hook = _hook(agency, receiver.url)
    _list(staff, [hook])
    _upload(users["bob"], 2, 2, model_version)
    (delivery_id,) = digests_send(frequency="daily").webhook_deliveries
    ContactWebhook.objects.filter(pk=hook.pk).update(is_active=False)
    assert deliver_webhook.apply(args=[delivery_id]).get() == "skipped"
    assert WebhookDelivery.objects.get().last_error == "webhook, contact or subscription paused"
    _upload(users["alice"], 3, 3, model_version)
    assert digests_send(frequency="daily").webhook_deliveries == []  # no row for a paused webhook
    ContactWebhook.objects.filter(pk=hook.pk).update(is_active=True)
    WebhookSubscription.objects.update(active=False)
    _upload(users["alice"], 4, 4, model_version)
    assert digests_send(frequency="daily").webhook_deliveries == []
    assert receiver.received == []


def test_never_sends_nothing(geo, users, staff, agency, model_version, receiver, eager_celery):
    """Input: a list with frequency `never`, a subscribed webhook and new records; the runs of
    every frequency, `never` too."""
    _list(staff, [_hook(agency, receiver.url)], frequency="never")
    _upload(users["bob"], 2, 2, model_version)
    later = timezone.now() + datetime.timedelta(minutes=1)
    for frequency in ("immediate", "daily", "weekly", "never"):
        run = digests_send(frequency=frequency, now=later)
        assert (run.emails, run.webhook_deliveries) == (0, [])
    assert digests_publish(frequency="never").webhook_deliveries == []
    assert receiver.received == [] and mail.outbox == [] and not WebhookDelivery.objects.exists()


def test_more_says_a_window_held_more_records_than_one_post_carries(
    geo, users, staff, agency, model_version, receiver, monkeypatch
):
    """Input: three new records with the cap set to two."""
    monkeypatch.setattr(watch_list_webhooks, "MAX_RECORDS_PER_DIGEST", 2)
    _list(staff, [_hook(agency, receiver.url)])
    for lon in (2, 3, 4):
        _upload(users["bob"], 2, lon, model_version)
    (delivery_id,) = digests_send(frequency="daily").webhook_deliveries
    payload = WebhookDelivery.objects.get(pk=delivery_id).payload
    assert payload["more"] is True and payload["total"] == 2
    assert json.dumps(payload)  # stored as JSON, sent as is


def test_staff_attach_a_webhook_to_an_existing_list_in_the_admin(geo, users, agency, client):
    """Input: a superuser posts the list's change form with one webhook row in its inline; then
    opens the add page (refused: lists are made through the API) and the delivery list."""
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)
    hook = _hook(agency, "https://hooks.agency.example/rangewatch")
    watch_list = _list(users["alice"])
    url = f"/admin/watchlists/watchlist/{watch_list.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and b"webhook_subscriptions" in page.content
    prefix = "webhook_subscriptions"
    answer = client.post(
        url,
        {
            "name": "Aland invaders (agency)",
            "frequency": "daily",
            f"{prefix}-TOTAL_FORMS": "1",
            f"{prefix}-INITIAL_FORMS": "0",
            f"{prefix}-MIN_NUM_FORMS": "0",
            f"{prefix}-MAX_NUM_FORMS": "1000",
            f"{prefix}-0-webhook": str(hook.pk),
            f"{prefix}-0-active": "on",
        },
    )
    assert answer.status_code == 302, answer.content[:2000]
    subscription = WebhookSubscription.objects.get(watch_list=watch_list)
    assert (subscription.webhook, subscription.added_by, subscription.active) == (hook, root, True)
    watch_list.refresh_from_db()
    assert watch_list.name == "Aland invaders (agency)" and watch_list.rule == "invasive_here"
    assert client.get("/admin/watchlists/watchlist/add/").status_code == 403
    assert client.get("/admin/watchlists/webhookdelivery/").status_code == 200


def test_a_delivery_the_broker_never_ran_is_published_again_and_sent_once(
    geo, users, staff, agency, model_version, receiver, monkeypatch
):
    """Input: the broker refuses the first publish (the row stays pending, `not queued`); the next
    run, 11 minutes later, publishes it again; then a second task for the same row arrives after
    the first sent it, and a task holding a stale copy of the row tries it: one POST in all."""
    from alerts.delivery import delivery_attempt, webhook_post
    from watchlists import tasks

    _list(staff, [_hook(agency, receiver.url)])
    _upload(users["bob"], 2, 2, model_version)
    published = []

    def broker_down(task, *args, on_failure=None, **kwargs):
        on_failure(ConnectionError("broker unreachable"))
        return False

    monkeypatch.setattr(tasks, "enqueue", broker_down)
    run = tasks.digests_publish(frequency="daily")
    (delivery_id,) = run.webhook_deliveries
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 0) and "not queued" in delivery.last_error

    monkeypatch.setattr(tasks, "enqueue", lambda task, *args, **kwargs: published.append(args) or True)
    tasks.digests_publish(frequency="daily")
    assert published == []  # not yet stuck: it may still be waiting in the queue
    WebhookDelivery.objects.filter(pk=delivery_id).update(created=timezone.now() - datetime.timedelta(minutes=11))
    tasks.digests_publish(frequency="daily")
    assert published == [(delivery_id,)]

    stale = WebhookDelivery.objects.get(pk=delivery_id)  # what a second task read before the first ran
    assert deliver_webhook.apply(args=[delivery_id]).get() == "sent"
    assert deliver_webhook.apply(args=[delivery_id]).get() == "sent"
    hook = stale.subscription.webhook
    sent_again = delivery_attempt(
        stale, lambda: webhook_post(url=hook.url, secret=hook.secret, payload=stale.payload, delivery=delivery_id)
    )
    assert sent_again == "sent" and len(receiver.received) == 1
    assert WebhookDelivery.objects.get(pk=delivery_id).attempts == 1
    tasks.digests_publish(frequency="daily")
    assert published == [(delivery_id,)]  # a sent row is never published again
