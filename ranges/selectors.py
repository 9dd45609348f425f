"""Reads of range data that no other module owns: regions by code, a taxon's subtree ids, a
taxon's regional statuses for its page."""

from __future__ import annotations

from ranges.models import (
    Region,
    RegionalStatus,
)
from species.models import Taxon


def regions_by_codes(codes) -> dict[str, Region]:
    return {r.code: r for r in Region.objects.filter(code__in=codes).defer("geometry")}


def taxon_and_descendant_ids(taxon: Taxon) -> list[int]:
    """The taxon and everything below it in the tree (a family: its genera, species, subspecies)."""
    found, frontier = {taxon.pk}, [taxon.pk]
    while frontier:
        children = Taxon.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)
        frontier = [pk for pk in children if pk not in found]
        found.update(frontier)
    return sorted(found)


def species_regional_statuses(taxon: Taxon) -> dict[str, list[dict]]:
    """Where the taxon (or, for a genus or family, a member) has a status, grouped for reading:
    {"native": [...], "alien": [...]}, each a region (code, name, kind) with its statuses and sources,
    by name. Alien means introduced or invasive."""
    grouped: dict[str, dict[str, dict]] = {"native": {}, "alien": {}}
    rows = RegionalStatus.objects.filter(taxon_id__in=taxon_and_descendant_ids(taxon)).select_related("region")
    for row in rows.order_by("region__name", "source"):
        group = "native" if row.status == "native" else "alien"
        region = row.region
        blank = {"code": region.code, "name": region.name, "kind": region.kind, "statuses": set(), "sources": []}
        entry = grouped[group].setdefault(region.code, blank)
        entry["statuses"].add(row.status)
        entry["sources"].append({"name": row.source, "url": row.source_url})
    return {
        group: [{**entry, "statuses": sorted(entry["statuses"])} for entry in regions.values()]
        for group, regions in grouped.items()
    }
