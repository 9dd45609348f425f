"""Whom to tell: the contacts of the regions at a point (most specific first, else the labelled
global fallback), their snapshot on a verdict, and the per-country coverage report."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ranges.models import (
    FALLBACK_REGION_CODE,
    Contact,
    Establishment,
    Region,
    RegionalStatus,
    RegionKind,
)
from species.models import Taxon


def contacts_for_regions(region_codes: list[str] | tuple[str, ...]) -> list[Contact]:
    """Active contacts of the most specific region that has any, else the next broader one."""
    by_region: dict[str, list[Contact]] = {}
    for contact in (
        Contact.objects.filter(region__code__in=region_codes, is_active=True)
        .select_related("region")
        .order_by("kind", "organisation")
    ):
        by_region.setdefault(contact.region.code, []).append(contact)
    for code in region_codes:
        if by_region.get(code):
            return by_region[code]
    return []


def contacts_or_fallback(region_codes: list[str] | tuple[str, ...]) -> list[Contact]:
    """What a user is told to call: the local contacts (as contacts_for_regions), else the global
    fallback ones, which contact_snapshot labels `is_fallback`. Alert delivery keeps to local contacts."""
    return contacts_for_regions(region_codes) or contacts_for_regions([FALLBACK_REGION_CODE])


def contact_snapshot(contact) -> dict:
    return {
        "region": contact.region.code,
        "region_name": contact.region.name,
        "kind": contact.kind,
        "organisation": contact.organisation,
        "phone": contact.phone,
        "email": contact.email,
        "url": contact.url,
        "hours": contact.hours,
        "source_url": contact.source_url,
        "verified_on": contact.verified_on.isoformat() if contact.verified_on else None,
        "is_fallback": contact.region.code == FALLBACK_REGION_CODE,
    }


@dataclass(frozen=True)
class CountryContactCoverage:
    """A country: taxa recorded invasive in it (or in its states), and its active contacts (its own and its states')."""

    code: str
    name: str
    invasive_taxa: int
    contacts: int
    last_verified: datetime.date | None

    @property
    def state(self) -> str:
        """ "verified" (a local body whose page was checked), "unverified" (local bodies, none checked
        yet, each with its source) or "fallback" (no local body: answers name the global fallback)."""
        if not self.contacts:
            return "fallback"
        return "verified" if self.last_verified else "unverified"


def country_contact_coverage(*, kingdom: str | None = None) -> list[CountryContactCoverage]:
    """Every country, most invasive taxa first: whom the product can name there, and how fresh that is.
    With `kingdom` (e.g. "Animalia"), only invasive taxa of that kingdom count."""
    parents, kinds = {}, {}
    for rid, kind, parent_id in Region.objects.values_list("id", "kind", "parent_id"):
        parents[rid], kinds[rid] = parent_id, kind

    def country_of(rid):
        while rid is not None and kinds.get(rid) != RegionKind.COUNTRY:
            rid = parents.get(rid)
        return rid

    invasive: dict[int, set[int]] = {}
    invasive_rows = RegionalStatus.objects.filter(status=Establishment.INVASIVE).values_list("region_id", "taxon_id")
    in_kingdom = _taxa_in_kingdom(kingdom) if kingdom else None
    for rid, taxon_id in invasive_rows.iterator(chunk_size=5000):
        if in_kingdom is not None and taxon_id not in in_kingdom:
            continue
        invasive.setdefault(country_of(rid), set()).add(taxon_id)
    contacts: dict[int, int] = {}
    verified: dict[int, datetime.date] = {}
    for rid, verified_on in Contact.objects.filter(is_active=True).values_list("region_id", "verified_on"):
        country = country_of(rid)
        contacts[country] = contacts.get(country, 0) + 1
        if verified_on and (country not in verified or verified_on > verified[country]):
            verified[country] = verified_on
    rows = [
        CountryContactCoverage(
            code=code,
            name=name,
            invasive_taxa=len(invasive.get(rid, ())),
            contacts=contacts.get(rid, 0),
            last_verified=verified.get(rid),
        )
        for rid, code, name in Region.objects.filter(kind=RegionKind.COUNTRY).values_list("id", "code", "name")
    ]
    return sorted(rows, key=lambda row: (-row.invasive_taxa, row.code))


def _taxa_in_kingdom(kingdom: str) -> set[int]:
    """Ids of the taxa whose lineage reaches the kingdom `kingdom`."""
    parent_of = dict(Taxon.objects.values_list("pk", "parent_id"))
    roots = set(Taxon.objects.filter(rank="kingdom", scientific_name=kingdom).values_list("pk", flat=True))
    inside: dict[int, bool] = {pk: True for pk in roots}
    for pk in parent_of:
        path, node = [], pk
        while node is not None and node not in inside:
            path.append(node)
            node = parent_of.get(node)
        found = inside.get(node, False) if node is not None else False
        for seen in path:
            inside[seen] = found
    return {pk for pk, yes in inside.items() if yes}
