"""Alerts to local contacts: who hears about which sighting, and how sightings are grouped.

Triggers: a reviewer confirms an invasive / introduced / out-of-range sighting ("verified"), or the
model is confident about a species on the region's watch list (invasive there) ("watch_list", at
once, before review). The contacts are those of the most specific region that has any
(ranges.contacts.contacts_for_regions). Sightings of one taxon in one region on one day form one
group: each contact hears about a group once. Every message is an AlertDelivery row, sent by
alerts.delivery.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import IntegrityError, transaction

from alerts.models import AlertDelivery, AlertGroup, ContactWebhook
from observations.models import Observation, Verification
from observations.photos import photo_link
from observations.selectors import observation_answer_words, observation_public_location, public_region_codes
from ranges.contacts import contacts_for_regions
from ranges.selectors import regions_by_codes
from ranges.verdict import ALERT_STATUSES, INVASIVE

log = logging.getLogger(__name__)

TRIGGER_CLASSIFIED = "classified"
TRIGGER_VERIFIED = "verified"


@dataclass
class RaisedAlert:
    """An alert group and the deliveries this call created (the task enqueues them)."""

    group: AlertGroup
    new_delivery_ids: list[int] = field(default_factory=list)


def watch_list_hit(verdict_status: str, score: float | None) -> bool:
    """A confident identification of a species that is invasive here: alert before review."""
    return verdict_status == INVASIVE and score is not None and score >= settings.RANGEWATCH_ALERT_IMMEDIATE_CONFIDENCE


def observation_alert(*, observation_id: int, trigger: str) -> RaisedAlert | None:
    """Decide whether the observation alerts its contacts now, and record the deliveries."""
    observation = (
        Observation.objects.select_related("verdict__taxon", "prediction__model_version", "verified_taxon")
        .filter(pk=observation_id)
        .first()
    )
    stored = getattr(observation, "verdict", None) if observation else None
    if observation is None or stored is None or stored.taxon is None:
        return None
    if trigger == TRIGGER_VERIFIED:
        if observation.verification != Verification.CONFIRMED or stored.status not in ALERT_STATUSES:
            return None
        reason, level = (
            "verified",
            AlertGroup.Level.URGENT if observation.first_record_regions else AlertGroup.Level.ALERT,
        )
    elif trigger == TRIGGER_CLASSIFIED:
        prediction = getattr(observation, "prediction", None)
        if not watch_list_hit(stored.status, prediction.score if prediction is not None else None):
            return None
        reason, level = "watch_list", AlertGroup.Level.ALERT
    else:
        raise ValueError(f"unknown alert trigger {trigger!r}")
    return alert_raise(observation=observation, reason=reason, level=level)


def alert_raise(*, observation: Observation, reason: str, level: str) -> RaisedAlert | None:
    """Group the sighting (one group per taxon, region and day) and record one delivery per
    contact and channel; each contact hears about a group once."""
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
                group, _ = AlertGroup.objects.get_or_create(
                    taxon=stored.taxon, region_code=region_code, day=day, defaults={"level": level, "reason": reason}
                )
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
                    defaults={
                        "observation": observation,
                        "webhook": hook,
                        "payload": alert_payload(observation=observation, group=group, contact=contact),
                    },
                )
                if created:
                    created_deliveries.append(delivery.pk)
    place = _public_point(observation)
    log.info(
        "alert group %s (%s, %s) for observation %s at %s: %d new deliveries, %d sightings grouped",
        group.pk,
        group.taxon.scientific_name,
        region_code,
        observation.pk,
        place,
        len(created_deliveries),
        group.observations.count(),
    )
    return RaisedAlert(group=group, new_delivery_ids=created_deliveries)


_LEVELS = [AlertGroup.Level.POSSIBLE, AlertGroup.Level.ALERT, AlertGroup.Level.URGENT]


def _public_point(observation) -> str:
    # Logs are a public surface: never the exact point.
    place = observation_public_location(observation)
    return "withheld" if place.latitude is None else f"({place.latitude}, {place.longitude}) [{place.category}]"


def alert_payload(*, observation: Observation, group: AlertGroup, contact) -> dict:
    """The evidence: photo link, location (exact for agencies, else the public point), predictions,
    model version, verdict and its sources."""
    stored = observation.verdict
    prediction = getattr(observation, "prediction", None)
    region_code, region_codes = stored.region_code, list(stored.region_codes)
    first_records = list(observation.first_record_regions)
    explanation = stored.explanation
    if contact.kind in settings.RANGEWATCH_EXACT_LOCATION_CONTACT_KINDS:
        location = {
            "latitude": observation.latitude,
            "longitude": observation.longitude,
            "exact": True,
            "coordinate_uncertainty_m": None,
            "data_generalizations": "",
        }
    else:
        # The public view: the generalised point, and no region finer than it. (The group's and the
        # contact's own region stay: it is the recipient's jurisdiction, known by being alerted.)
        place = observation_public_location(observation)
        region_codes = public_region_codes(region_codes, place.category)
        if region_code not in region_codes:  # the status was recorded for a region finer than the public view
            explanation = (
                f"{stored.taxon.scientific_name} is recorded as {stored.status} where it was seen"
                " (finer regions are not named: generalised record)."
            )
            region_code = region_codes[0] if region_codes else ""
        first_records = public_region_codes(first_records, place.category)
        location = {
            "latitude": place.latitude,
            "longitude": place.longitude,
            "exact": not place.generalised,
            "coordinate_uncertainty_m": place.coordinate_uncertainty_m,
            "data_generalizations": place.data_generalizations or place.information_withheld,
        }
    taxon = stored.taxon
    region = regions_by_codes([region_code]).get(region_code) if region_code else None
    # The answer in the words the card and the lists use (ranges.wording), for the public region only.
    answer = observation_answer_words(
        {
            "status": observation.status,
            "verdict": {"status": stored.status, "region": {"name": region.name if region else region_code}},
            "identification": {"taxon": taxon, "score": prediction.score} if taxon and prediction else None,
            "predictions": list(prediction.top_k) if prediction else [],
            "alert": {"level": stored.alert_level},
        }
    )
    return {
        "event": "rangewatch.alert",
        "answer": answer.as_dict(),
        "alert": {
            "group": group.pk,
            "level": group.level,
            "reason": group.reason,
            "region": group.region_code,
            "day": group.day.isoformat(),
        },
        "contact": {"organisation": contact.organisation, "region": contact.region.code, "kind": contact.kind},
        "observation": {
            "id": str(observation.uuid),
            "observed_at": (observation.observed_at or observation.created).isoformat(),
            "photo_url": photo_link(observation=observation),
            "location": location,
            "verification": observation.verification,
            "verified_by": observation.verified_by.username if observation.verified_by_id else None,
            "first_record_regions": first_records,
        },
        "taxon": {"scientific_name": taxon.scientific_name, "common_name": taxon.common_name, "rank": taxon.rank},
        "predictions": list(prediction.top_k) if prediction else [],
        "model_version": prediction.model_version.name if prediction else None,
        "verdict": {
            "status": stored.status,
            "explanation": explanation,
            "region_code": region_code,
            "region_codes": region_codes,
            "sources": list(stored.sources),
        },
    }
