"""Alerts to local contacts: who hears about which sighting, grouping, and each delivery's send.

Triggers: a reviewer confirms an invasive / introduced / out-of-range sighting ("verified"), or the
model is confident about a species on the region's watch list (invasive there) ("watch_list", at
once, before review). The contacts are those of the most specific region that has any
(ranges.selectors.contacts_for_regions). Sightings of one taxon in one region on one day form one
group: each contact hears about a group once. Every message is an AlertDelivery row.
"""
from __future__ import annotations

import json
import logging

import requests
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from observations.models import AlertDelivery, AlertGroup, ContactWebhook, Observation, Verification
from observations.webhooks import SIGNATURE_HEADER, webhook_sign
from ranges.verdict import ALERT_STATUSES, INVASIVE

log = logging.getLogger(__name__)

TRIGGER_CLASSIFIED = "classified"
TRIGGER_VERIFIED = "verified"
MAX_DELIVERY_ATTEMPTS = 6


class TransientDeliveryError(Exception):
    """Worth retrying: connection refused, timeout, 5xx, 429, SMTP trouble."""


def alert_enqueue(*, observation_id: int, trigger: str) -> bool:
    """Publish the alert check; a broker outage is logged (the observation itself is saved)."""
    from observations.tasks import raise_observation_alert

    try:
        raise_observation_alert.apply_async(args=[observation_id, trigger], retry=True)
        return True
    except Exception as exc:  # noqa: BLE001 - kombu raises many connection error types
        log.warning("could not enqueue the alert check for observation %s (%s)", observation_id, exc)
        return False


def watch_list_hit(verdict_status: str, score: float | None) -> bool:
    """A confident identification of a species that is invasive here: alert before review."""
    return verdict_status == INVASIVE and score is not None and score >= settings.RANGEWATCH_ALERT_IMMEDIATE_CONFIDENCE


def alert_on_classified(*, observation: Observation, verdict_status: str, score: float | None) -> bool:
    """Called inside the classification's transaction: enqueue the watch-list check after commit,
    but only when it can fire; most classifications publish nothing. The task decides again
    from the stored rows."""
    if not watch_list_hit(verdict_status, score):
        return False
    transaction.on_commit(lambda: alert_enqueue(observation_id=observation.pk, trigger=TRIGGER_CLASSIFIED))
    return True


def observation_alert(*, observation_id: int, trigger: str) -> AlertGroup | None:
    """Decide whether the observation alerts its contacts now, and record the deliveries."""
    observation = Observation.objects.select_related("verdict__taxon", "prediction__model_version", "verified_taxon").filter(pk=observation_id).first()
    stored = getattr(observation, "verdict", None) if observation else None
    if observation is None or stored is None or stored.taxon is None:
        return None
    if trigger == TRIGGER_VERIFIED:
        if observation.verification != Verification.CONFIRMED or stored.status not in ALERT_STATUSES:
            return None
        reason, level = "verified", AlertGroup.Level.URGENT if observation.first_record_regions else AlertGroup.Level.ALERT
    elif trigger == TRIGGER_CLASSIFIED:
        prediction = getattr(observation, "prediction", None)
        if not watch_list_hit(stored.status, prediction.score if prediction is not None else None):
            return None
        reason, level = "watch_list", AlertGroup.Level.ALERT
    else:
        raise ValueError(f"unknown alert trigger {trigger!r}")
    return alert_raise(observation=observation, reason=reason, level=level)


def alert_raise(*, observation: Observation, reason: str, level: str) -> AlertGroup | None:
    from ranges.selectors import contacts_for_regions

    stored = observation.verdict
    contacts = contacts_for_regions(stored.region_codes)
    if not contacts:
        log.info("no active contact for observation %s (%s)", observation.pk, ", ".join(stored.region_codes))
        return None
    region_code = contacts[0].region.code
    day = (observation.observed_at or observation.created).date()
    created_deliveries = []
    with transaction.atomic():
        try:
            with transaction.atomic():
                group, _ = AlertGroup.objects.get_or_create(taxon=stored.taxon, region_code=region_code, day=day, defaults={"level": level, "reason": reason})
        except IntegrityError:  # a concurrent worker made it
            group = AlertGroup.objects.get(taxon=stored.taxon, region_code=region_code, day=day)
        if _LEVELS.index(level) > _LEVELS.index(group.level):
            AlertGroup.objects.filter(pk=group.pk).update(level=level)
            group.level = level
        group.observations.add(observation)
        webhooks = {}
        for hook in ContactWebhook.objects.filter(contact__in=contacts, is_active=True):
            webhooks.setdefault(hook.contact_id, []).append(hook)
        for contact in contacts:
            targets = ([(AlertDelivery.Channel.EMAIL, contact.email, None)] if contact.email else []) + [
                (AlertDelivery.Channel.WEBHOOK, hook.url, hook) for hook in webhooks.get(contact.pk, [])
            ]
            for channel, target, hook in targets:
                delivery, created = AlertDelivery.objects.get_or_create(
                    group=group,
                    contact=contact,
                    channel=channel,
                    target=target,
                    defaults={"observation": observation, "webhook": hook, "payload": alert_payload(observation=observation, group=group, contact=contact)},
                )
                if created:
                    created_deliveries.append(delivery.pk)
        for delivery_id in created_deliveries:
            transaction.on_commit(lambda pk=delivery_id: _delivery_enqueue(delivery_id=pk))
    place = _public_point(observation)
    log.info(
        "alert group %s (%s, %s) for observation %s at %s: %d new deliveries, %d sightings grouped",
        group.pk, group.taxon.scientific_name, region_code, observation.pk, place, len(created_deliveries), group.observations.count(),
    )
    return group


_LEVELS = [AlertGroup.Level.POSSIBLE, AlertGroup.Level.ALERT, AlertGroup.Level.URGENT]


def _public_point(observation) -> str:
    # Logs are a public surface: never the exact point.
    from observations.selectors import observation_public_location

    place = observation_public_location(observation)
    return "withheld" if place.latitude is None else f"({place.latitude}, {place.longitude}) [{place.category}]"


def alert_payload(*, observation: Observation, group: AlertGroup, contact) -> dict:
    """The evidence: photo link, location (exact for agencies, else the public point), predictions,
    model version, verdict and its sources."""
    from observations.photos import photo_link
    from observations.selectors import observation_public_location

    stored = observation.verdict
    prediction = getattr(observation, "prediction", None)
    if contact.kind in settings.RANGEWATCH_EXACT_LOCATION_CONTACT_KINDS:
        location = {"latitude": observation.latitude, "longitude": observation.longitude, "exact": True, "coordinate_uncertainty_m": None, "data_generalizations": ""}
    else:
        place = observation_public_location(observation)
        location = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "exact": not place.generalised,
            "coordinate_uncertainty_m": place.coordinate_uncertainty_m,
            "data_generalizations": place.data_generalizations or place.information_withheld,
        }
    taxon = stored.taxon
    return {
        "event": "rangewatch.alert",
        "alert": {"group": group.pk, "level": group.level, "reason": group.reason, "region": group.region_code, "day": group.day.isoformat()},
        "contact": {"organisation": contact.organisation, "region": contact.region.code, "kind": contact.kind},
        "observation": {
            "id": str(observation.uuid),
            "observed_at": (observation.observed_at or observation.created).isoformat(),
            "photo_url": photo_link(observation=observation),
            "location": location,
            "verification": observation.verification,
            "verified_by": observation.verified_by.username if observation.verified_by_id else None,
            "first_record_regions": list(observation.first_record_regions),
        },
        "taxon": {"scientific_name": taxon.scientific_name, "common_name": taxon.common_name, "rank": taxon.rank},
        "predictions": list(prediction.top_k) if prediction else [],
        "model_version": prediction.model_version.name if prediction else None,
        "verdict": {
            "status": stored.status,
            "explanation": stored.explanation,
            "region_code": stored.region_code,
            "region_codes": list(stored.region_codes),
            "sources": list(stored.sources),
        },
    }


def _delivery_enqueue(*, delivery_id: int) -> None:
    from observations.tasks import deliver_alert

    try:
        deliver_alert.apply_async(args=[delivery_id], retry=True)
    except Exception as exc:  # noqa: BLE001
        log.warning("could not enqueue alert delivery %s (%s)", delivery_id, exc)


def alert_delivery_send(*, delivery_id: int, final_attempt: bool = False) -> str:
    """Send one delivery. Idempotent (a sent row is not sent again); a paused contact or webhook
    is skipped; transient failures raise TransientDeliveryError for the task to retry, until the
    final attempt, which records `failed`."""
    delivery = AlertDelivery.objects.select_related("contact", "webhook", "group__taxon").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != AlertDelivery.Status.PENDING:
        return delivery.status if delivery else "missing"
    if not delivery.contact.is_active or (delivery.channel == AlertDelivery.Channel.WEBHOOK and (delivery.webhook is None or not delivery.webhook.is_active)):
        AlertDelivery.objects.filter(pk=delivery.pk).update(status=AlertDelivery.Status.SKIPPED, last_error="contact or webhook paused")
        return AlertDelivery.Status.SKIPPED
    AlertDelivery.objects.filter(pk=delivery.pk).update(attempts=delivery.attempts + 1)
    try:
        code = _send_email(delivery) if delivery.channel == AlertDelivery.Channel.EMAIL else _send_webhook(delivery)
    except TransientDeliveryError as exc:
        failed = final_attempt or delivery.attempts + 1 >= MAX_DELIVERY_ATTEMPTS
        AlertDelivery.objects.filter(pk=delivery.pk).update(last_error=str(exc)[:2000], status=AlertDelivery.Status.FAILED if failed else AlertDelivery.Status.PENDING)
        if failed:
            return AlertDelivery.Status.FAILED
        raise
    except PermanentDeliveryError as exc:
        AlertDelivery.objects.filter(pk=delivery.pk).update(status=AlertDelivery.Status.FAILED, last_error=str(exc)[:2000], response_status=exc.status)
        return AlertDelivery.Status.FAILED
    AlertDelivery.objects.filter(pk=delivery.pk).update(status=AlertDelivery.Status.SENT, sent_at=timezone.now(), response_status=code, last_error="")
    return AlertDelivery.Status.SENT


class PermanentDeliveryError(Exception):
    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.status = status


def _subject(payload: dict) -> str:
    level = payload["alert"]["level"].upper()
    first = " — first record" if payload["observation"]["first_record_regions"] else ""
    return f"[RangeWatch {level}] {payload['taxon']['scientific_name']} ({payload['verdict']['status']}) in {payload['alert']['region']}{first}"


def _email_body(payload: dict) -> str:
    o, v, loc = payload["observation"], payload["verdict"], payload["observation"]["location"]
    where = "withheld" if loc["latitude"] is None else f"{loc['latitude']}, {loc['longitude']}" + ("" if loc["exact"] else f" (generalised: {loc['data_generalizations']})")
    lines = [
        f"{payload['taxon']['scientific_name']} ({payload['taxon']['common_name'] or 'no common name'}) — verdict: {v['status']}",
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


def _send_webhook(delivery: AlertDelivery) -> int:
    body = json.dumps({**delivery.payload, "delivery": delivery.pk}, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: webhook_sign(delivery.webhook.secret, body), "X-RangeWatch-Delivery": str(delivery.pk)}
    try:
        response = requests.post(delivery.target, data=body, headers=headers, timeout=settings.RANGEWATCH_WEBHOOK_TIMEOUT_SECONDS, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientDeliveryError(f"webhook: {exc}") from exc
    if response.status_code >= 500 or response.status_code == 429:
        raise TransientDeliveryError(f"webhook answered {response.status_code}")
    if response.status_code >= 300:
        raise PermanentDeliveryError(f"webhook answered {response.status_code}", response.status_code)
    return response.status_code
