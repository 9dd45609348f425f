"""Sending one alert delivery: an e-mail or a signed webhook POST, every try recorded on the row."""

from __future__ import annotations

import json

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.utils import timezone
from requests.adapters import HTTPAdapter

from alerts.models import AlertDelivery
from alerts.webhooks import SIGNATURE_HEADER, WebhookRefused, WebhookUnresolvable, webhook_sign, webhook_target

MAX_DELIVERY_ATTEMPTS = 6


class TransientDeliveryError(Exception):
    """Worth retrying: connection refused, timeout, 5xx, 429, SMTP trouble."""


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
    AlertDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        code = _send_email(delivery) if delivery.channel == AlertDelivery.Channel.EMAIL else _send_webhook(delivery)
    except TransientDeliveryError as exc:
        failed = final_attempt or delivery.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            last_error=str(exc)[:2000], status=AlertDelivery.Status.FAILED if failed else AlertDelivery.Status.PENDING
        )
        if failed:
            return AlertDelivery.Status.FAILED
        raise
    except PermanentDeliveryError as exc:
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.FAILED, last_error=str(exc)[:2000], response_status=exc.status
        )
        return AlertDelivery.Status.FAILED
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=AlertDelivery.Status.SENT, sent_at=timezone.now(), response_status=code, last_error=""
    )
    return AlertDelivery.Status.SENT


class PermanentDeliveryError(Exception):
    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.status = status


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


def _send_webhook(delivery: AlertDelivery) -> int:
    # Checked again now, not only when the URL was saved: the name may resolve elsewhere today.
    try:
        target = webhook_target(delivery.target)
    except WebhookUnresolvable as exc:
        raise TransientDeliveryError(f"webhook: {exc}") from exc
    except WebhookRefused as exc:
        raise PermanentDeliveryError(f"webhook refused: {exc}") from exc
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Host": target.host_header,
        SIGNATURE_HEADER: webhook_sign(delivery.webhook.secret, body),
        "X-RangeWatch-Delivery": str(delivery.pk),
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
