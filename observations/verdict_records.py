"""The one writer of an observation's answer records: its `Verdict` row and its verification columns.

The worker (observations.classification) writes the verdict of what the model named; a reviewer's
confirmation (community.services) writes the verdict of the taxon the reviewer named and the
verification columns. Both go through here, so a verdict row is always written the same way (one
INSERT ... ON CONFLICT DO UPDATE; the alert level from ranges.identification's constants) and
contacts are snapshotted only for an answer that alerts."""

from __future__ import annotations

from django.utils import timezone

from observations.models import Observation, Verdict, Verification
from ranges.contacts import contact_snapshot, contacts_or_fallback
from ranges.identification import ALERT_LEVEL
from ranges.verdict import RangeVerdict


def upsert_for_observation(model, observation: Observation, **values):
    """The observation's one row of `model` (Prediction or Verdict), written in one INSERT ... ON
    CONFLICT DO UPDATE (a redelivered task overwrites its own earlier row; update_or_create took
    four queries)."""
    row = model(observation=observation, **values)
    model.objects.bulk_create([row], update_conflicts=True, unique_fields=["observation"], update_fields=list(values))
    return row


def verdict_record_save(
    *, observation: Observation, taxon, found: RangeVerdict, alert_level: str, explanation: str | None = None
) -> Verdict:
    """Store `found` (the pure verdict) as the observation's Verdict row, with the local contacts
    when `alert_level` is set (ALERT_LEVEL or REVIEW_LEVEL)."""
    contacts = [contact_snapshot(c) for c in contacts_or_fallback(found.region_codes)] if alert_level else []
    return upsert_for_observation(
        Verdict,
        observation,
        taxon=taxon,
        status=found.status,
        region_code=found.region_code or "",
        region_codes=list(found.region_codes),
        alert_level=alert_level,
        explanation=found.explanation if explanation is None else explanation,
        sources=list(found.sources),
        contacts=contacts,
    )


def verdict_record_for_reviewer(*, observation: Observation, taxon, found: RangeVerdict, note: str) -> Verdict:
    """The verdict of the taxon a reviewer confirmed: an alert when the verdict is one (a reviewer's
    word is the visual evidence), its explanation saying whose taxon it is for."""
    return verdict_record_save(
        observation=observation,
        taxon=taxon,
        found=found,
        alert_level=ALERT_LEVEL if found.is_alert else "",
        explanation=found.explanation + note,
    )


def observation_verification_set(
    *, observation: Observation, verification: str, taxon, reviewer, first_record_regions=()
) -> None:
    """A reviewer's decision on the record: confirmed (with the taxon) or rejected (no taxon)."""
    if verification == Verification.REJECTED:
        taxon, first_record_regions = None, ()
    Observation.objects.filter(pk=observation.pk).update(
        verification=verification,
        verified_taxon=taxon,
        verified_by=reviewer,
        verified_at=timezone.now(),
        first_record_regions=list(first_record_regions),
    )
