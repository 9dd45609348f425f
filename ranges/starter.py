"""Loads the starter pack's range data: native countries/states, regional statuses, contacts."""

from __future__ import annotations

import datetime

from django.db import transaction

from ranges.importers.dwc_checklist import status_note
from ranges.importers.regionmap import L48, RegionCodes, contiguous_us_group
from ranges.importers.report import ImportReport
from ranges.models import FALLBACK_REGION_CODE, Region
from ranges.services import (
    StatusRow,
    contact_upsert,
    fallback_region_ensure,
    regional_status_upsert,
    regional_statuses_sync,
)
from species.selectors import taxon_by_name
from species.starter import read_csv

NATIVE_RANGES_SOURCE = "RangeWatch starter pack: native ranges"
INTRODUCTIONS_SOURCE = "RangeWatch starter pack: documented introductions"


@transaction.atomic
def load_statuses_and_contacts() -> dict[str, int]:
    regions = {r.code: r for r in Region.objects.defer("geometry")}
    counts = {"statuses": 0, "contacts": 0, "skipped": 0}

    def status(source, taxon, code, value, url, means="", degree="", note=""):
        region = regions.get(code)
        if region is None or taxon is None:
            counts["skipped"] += 1
            return
        _, outcome = regional_status_upsert(
            taxon=taxon,
            region=region,
            status=value,
            source=source,
            source_url=url,
            establishment_means=means,
            degree_of_establishment=degree,
            note=note,
        )
        counts["statuses"] += outcome != "unchanged"

    # MDD rows carry MDD's own source name, so that a later `import_data mdd` finds them unchanged.
    for row in read_csv("native_ranges.csv"):
        taxon, source = taxon_by_name(row["scientific_name"]), row.get("source") or NATIVE_RANGES_SOURCE
        for code in row["countries"].split():
            status(source, taxon, code, "native", row["source_url"], "native", "native")
        for usps in row.get("us_states", "").split():
            status(source, taxon, f"US-{usps}", "native", row["source_url"], "native", "native")
    griis = load_griis_extract()
    counts["statuses"] += griis["created"] + griis["updated"]
    counts["skipped"] += griis["skipped"]
    for row in read_csv("regional_status.csv"):
        status(
            INTRODUCTIONS_SOURCE,
            taxon_by_name(row["scientific_name"]),
            row["region_code"],
            row["status"],
            row["source_url"],
            row.get("establishment_means", ""),
            row.get("degree_of_establishment", ""),
            row.get("note", ""),
        )
    loaded, skipped = load_contacts(regions)
    counts["contacts"] += loaded
    counts["skipped"] += skipped
    return counts


def load_contacts(regions: dict[str, Region]) -> tuple[int, int]:
    """contacts.csv, the global fallback (region 001) included; rows whose region is not loaded
    (e.g. admin-1 before `import_data natural-earth`) are skipped. Returns (created or updated, skipped)."""
    regions = {**regions, FALLBACK_REGION_CODE: fallback_region_ensure()}
    loaded = skipped = 0
    for row in read_csv("contacts.csv"):
        region = regions.get(row["region_code"])
        if region is None:
            skipped += 1
            continue
        _, outcome = contact_upsert(
            region=region,
            kind=row["kind"],
            organisation=row["organisation"],
            phone=row["phone"],
            email=row["email"],
            url=row["url"],
            hours=row["hours"],
            languages=row["languages"],
            notes=row["notes"],
            source_url=row["source_url"],
            verified_on=datetime.date.fromisoformat(row["verified_on"]) if row["verified_on"] else None,
        )
        loaded += outcome != "unchanged"
    return loaded, skipped


def load_griis_extract() -> dict[str, int]:
    """The GRIIS records of the model's species (griis_statuses.csv), each under its checklist's own
    source name, URL and citation (griis_checklists.csv): what `import_data griis` would write."""
    checklists = {r["source"]: r for r in read_csv("griis_checklists.csv")}
    rows = read_csv("griis_statuses.csv")
    regions = RegionCodes()
    if any(r["region_code"] == L48 for r in rows) and regions.id(L48) is None:
        regions = contiguous_us_group(regions, ImportReport("starter pack"))
    taxa = {name: taxon_by_name(name) for name in {r["scientific_name"] for r in rows}}
    statuses, skipped = [], 0
    for row in rows:
        taxon, region_id = taxa[row["scientific_name"]], regions.id(row["region_code"])
        if taxon is None or region_id is None:
            skipped += 1
            continue
        checklist = checklists[row["source"]]
        note = status_note(row["remark"], checklist["citation"])
        statuses.append(
            StatusRow(
                taxon.pk,
                region_id,
                row["status"],
                row["source"],
                checklist["source_url"],
                row["establishment_means"],
                row["degree_of_establishment"],
                note,
            )
        )
    return {**regional_statuses_sync(rows=statuses), "skipped": skipped}
