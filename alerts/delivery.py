"""Sending one alert delivery: an e-mail or a signed webhook POST, every try recorded on the row.
The signed, pinned POST (`webhook_post`) and the record of a try (`delivery_attempt`) are public:
watch lists' digest webhooks use the same two."""

from __future__ import annotations

import json
from typing import Callable

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from requests.adapters import HTTPAdapter

from alerts.models import AlertDelivery, DeliveryRecord
from alerts.webhooks import SIGNATURE_HEADER, WebhookRefused, WebhookUnresolvable, webhook_sign, webhook_target

MAX_DELIVERY_ATTEMPTS = 6
Status = DeliveryRecord.Status


class TransientDeliveryError(Exception):
    """Worth retrying: connection refused, timeout, 5xx, 429, SMTP trouble."""


class PermanentDeliveryError(Exception):
    """Not worth retrying: a refused target, a 3xx or 4xx answer (`status`)."""

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.status = status


def alert_delivery_send(*, delivery_id: int, final_attempt: bool = False) -> str:
    """Send one delivery. Idempotent (a sent row is not sent again); a paused contact or webhook
    is skipped; transient failures raise TransientDeliveryError for the task to retry, until the
    final attempt, which records `failed`."""
    delivery = AlertDelivery.objects.select_related("contact", "webhook", "group__taxon").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != AlertDelivery.Status.PENDING:
        return delivery.status if delivery else "missing"
    if not delivery.contact.is_active or (
        delivery.channel == AlertDelivery.Channel.WEBHOOK
        and (delivery.webhook is None or not delivery.webhook.is_active)
    ):
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.SKIPPED, last_error="contact or webhook paused"
        )
        return AlertDelivery.Status.SKIPPED
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        return delivery_attempt(delivery, lambda: _send_email(delivery), final_attempt=final_attempt)
    return delivery_attempt(
        delivery,
        lambda: webhook_post(
            url=delivery.target, secret=delivery.webhook.secret, payload=delivery.payload, delivery=delivery.pk
        ),
        final_attempt=final_attempt,
    )


def delivery_attempt(row: DeliveryRecord, send: Callable[[], int | None], *, final_attempt: bool = False) -> str:
    """One try of a pending delivery row, recorded on it: `row` is a DeliveryRecord (an alert's
    delivery, a watch list's webhook delivery). `send` returns the answer's status
    code (None for e-mail). A transient failure is re-raised for the task to retry, until the
    final attempt (or MAX_DELIVERY_ATTEMPTS), which records `failed`; a permanent one records
    `failed` at once. The try is claimed first (the row still pending with the attempts this
    task read): of two tasks for one row (a delivery published again while the first still
    waited in the queue) only one sends; the other returns the row's status untouched."""
    rows = type(row).objects.filter(pk=row.pk)
    if not rows.filter(status=Status.PENDING, attempts=row.attempts).update(attempts=row.attempts + 1):
        return rows.values_list("status", flat=True).first() or "missing"
    try:
        code = send()
    except TransientDeliveryError as exc:
        failed = final_attempt or row.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
        rows.update(last_error=str(exc)[:2000], status=Status.FAILED if failed else Status.PENDING)
        if failed:
            return Status.FAILED
        raise
    except PermanentDeliveryError as exc:
        rows.update(status=Status.FAILED, last_error=str(exc)[:2000], response_status=exc.status)
        return Status.FAILED
    rows.update(status=Status.SENT, sent_at=timezone.now(), response_status=code, last_error="")
    return Status.SENT


def _subject(payload: dict) -> str:
    level = payload["alert"]["level"].upper()
    first = " — first record" if payload["observation"]["first_record_regions"] else ""
    answer = payload.get("answer")
    if answer:  # the words of the card and the lists (ranges.wording)
        name = answer["name"][:1].upper() + answer["name"][1:]
        return f"[RangeWatch {level}] {name}: {answer['status']} in {answer['region']}{first}"
    return f"[RangeWatch {level}] {payload['taxon']['scientific_name']} ({payload['verdict']['status']}) in {payload['alert']['region']}{first}"


def _email_body(payload: dict) -> str:
    o, v, loc = payload["observation"], payload["verdict"], payload["observation"]["location"]
    where = (
        "withheld"
        if loc["latitude"] is None
        else f"{loc['latitude']}, {loc['longitude']}"
        + ("" if loc["exact"] else f" (generalised: {loc['data_generalizations']})")
    )
    answer = payload.get("answer")
    said = (
        answer["summary"]
        if answer
        else f"{payload['taxon']['scientific_name']} ({payload['taxon']['common_name'] or 'no common name'}) — verdict: {v['status']}"
    )
    lines = [
        said,
        v["explanation"],
        "",
        f"Observed: {o['observed_at']}",
        f"Location: {where}",
        f"Photo (EXIF-stripped): {o['photo_url']}",
        f"Verification: {o['verification']}" + (f" by {o['verified_by']}" if o["verified_by"] else ""),
    ]
    if o["first_record_regions"]:
        lines.append(f"First record in: {', '.join(o['first_record_regions'])}")
    lines.append(f"Model: {payload['model_version']}")
    lines.append("Predictions: " + ", ".join(f"{p['key']} {p['score']:.2f}" for p in payload["predictions"]))
    lines.append("Sources: " + "; ".join(f"{s.get('name')} {s.get('url') or ''}".strip() for s in v["sources"]))
    lines += ["", "Machine-readable evidence:", json.dumps(payload, indent=2, sort_keys=True)]
    return "\n".join(lines)


def _send_email(delivery: AlertDelivery) -> None:
    message = EmailMessage(subject=_subject(delivery.payload), body=_email_body(delivery.payload), to=[delivery.target])
    try:
        message.send(fail_silently=False)
    except OSError as exc:  # smtplib errors are OSErrors: connection, timeout, refused recipients
        raise TransientDeliveryError(f"e-mail: {exc}") from exc
    return None


class _PinnedHostAdapter(HTTPAdapter):
    """Connects to the address alerts.webhooks checked, while TLS still presents and verifies the
    URL's host name (SNI and the certificate check use the name, not the address)."""

    def __init__(self, host: str):
        self._host = host
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, server_hostname=self._host, assert_hostname=self._host, **kwargs)


def webhook_post(*, url: str, secret: str, payload: dict, delivery: int | str) -> int:
    """POST `payload` (with `delivery`, the receiver's key for duplicates) as JSON, signed with
    `secret` (X-RangeWatch-Signature, alerts.webhooks), to the address `url` resolves to now,
    checked again (the name may resolve elsewhere today: no SSRF, no DNS rebinding); redirects
    are not followed. Returns the answer's status code (2xx). Raises TransientDeliveryError
    (worth retrying: no answer, timeout, a name that does not resolve now, 5xx, 429) or
    PermanentDeliveryError (a refused target, 3xx, 4xx). Every webhook the project sends goes
    through here: alert deliveries and watch lists' digests."""
    try:
        target = webhook_target(url)
    except WebhookUnresolvable as exc:
        raise TransientDeliveryError(f"webhook: {exc}") from exc
    except WebhookRefused as exc:
        raise PermanentDeliveryError(f"webhook refused: {exc}") from exc
    body = json.dumps({**payload, "delivery": delivery}, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Host": target.host_header,
        SIGNATURE_HEADER: webhook_sign(secret, body),
        "X-RangeWatch-Delivery": str(delivery),
    }
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: it would resolve the name itself
        session.mount(target.pinned_url, _PinnedHostAdapter(target.host))
        try:
            response = session.post(
                target.pinned_url,
                data=body,
                headers=headers,
                timeout=settings.RANGEWATCH_WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
                verify=settings.RANGEWATCH_WEBHOOK_CA_BUNDLE or True,
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientDeliveryError(f"webhook: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientDeliveryError(f"webhook answered {response.status_code}")
    if response.status_code >= 300:
        raise PermanentDeliveryError(f"webhook answered {response.status_code}", response.status_code)
    return response.status_code
