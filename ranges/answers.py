"""A verdict with what goes with it (facts for natives, contacts for alerts), as plain data."""

from __future__ import annotations

from ranges.contacts import contact_snapshot, contacts_or_fallback
from ranges.selectors import regions_by_codes
from ranges.verdict import ALERT_STATUSES, DOMESTIC, NATIVE, expected_here
from species.models import SpeciesInfo, Taxon


def _region(region, code: str) -> dict:
    return {"code": code, "name": region.name if region else code, "kind": region.kind if region else ""}


# What the alert tells the person who took the photo. A genus or family answer is about its species
# as a group ("no elephant species"), never "this species": the photo did not say which one it is.
_REPORT = "Please report the sighting to the contacts below; do not release or relocate the animal."
_TRACKED = "Local agencies track introduced species: please report it."
_NEW_HERE = "it may be a new introduction or an escaped animal."
_SPECIES_MESSAGES = {
    "invasive": f"This species is invasive here. {_REPORT}",
    "introduced": f"This species was introduced here by people. {_TRACKED}",
    "out_of_range": f"This species is not known from here: {_NEW_HERE} Please report it so an expert can verify.",
}
_GROUP_MESSAGES = {
    "invasive": f"The species of this {{rank}} recorded here are invasive. {_REPORT}",
    "introduced": f"The species of this {{rank}} recorded here were introduced by people. {_TRACKED}",
    "out_of_range": (
        f"No species of this {{rank}} is known from here: {_NEW_HERE} "
        "Please report it so an expert can verify which one it is."
    ),
}
_PLEASE_VERIFY = (
    "Possibly an animal not expected here. Please check the photo: a reviewer verifies it before any agency is told."
)


def alert_message(status: str, rank: str | None) -> str:
    """The alert's words for a verdict status and the rank of the answer (None: a species)."""
    if rank in (None, "species", "subspecies"):
        return _SPECIES_MESSAGES.get(status, _PLEASE_VERIFY)
    return _GROUP_MESSAGES[status].format(rank=rank) if status in _GROUP_MESSAGES else _PLEASE_VERIFY


def verdict_answer(
    *,
    status: str,
    explanation: str,
    region_code: str | None,
    region_codes,
    sources,
    taxon: Taxon | None,
    contacts: list[dict] | None = None,
    alert_level: str | None = None,
) -> dict:
    """The `VerdictAnswerSerializer` shape. `contacts` None means: look them up now;
    `alert_level` None means: derived from the status."""
    regions = regions_by_codes(list(region_codes))
    alert = None
    if alert_level is None:
        alert_level = "alert" if status in ALERT_STATUSES else ""
    if alert_level:
        if contacts is None:
            contacts = [contact_snapshot(c) for c in contacts_or_fallback(list(region_codes))]
        message = alert_message(status, taxon.rank if taxon else None)
        alert = {"level": alert_level, "message": message, "contacts": contacts}
    info = None
    if status in (NATIVE, DOMESTIC) and taxon is not None:  # a domestic animal is answered with its facts
        info = SpeciesInfo.objects.filter(taxon=taxon).first()
    return {
        "taxon": taxon,
        "verdict": {
            "status": status,
            "explanation": explanation,
            "region": _region(regions.get(region_code), region_code) if region_code else None,
            "regions": [_region(regions.get(code), code) for code in region_codes],
            "sources": list(sources),
        },
        "species_info": info,
        "alert": alert,
        "expected_here": expected_here(status),
    }
