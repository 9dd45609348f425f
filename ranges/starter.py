"""Loads the starter pack's range data: native countries/states, regional statuses, contacts."""
from __future__ import annotations

import datetime

from django.db import transaction

from ranges.models import FALLBACK_REGION_CODE, Region
from ranges.services import contact_upsert, fallback_region_ensure, regional_status_upsert
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
            taxon=taxon, region=region, status=value, source=source, source_url=url,
            establishment_means=means, degree_of_establishment=degree, note=note,
        )
        counts["statuses"] += outcome != "unchanged"

    for row in read_csv("native_ranges.csv"):
        taxon = taxon_by_name(row["scientific_name"])
        for code in row["countries"].split():
            status(NATIVE_RANGES_SOURCE, taxon, code, "native", row["source_url"], "native", "native")
        for usps in row.get("us_states", "").split():
            status(NATIVE_RANGES_SOURCE, taxon, f"US-{usps}", "native", row["source_url"], "native", "native")
    for row in read_csv("regional_status.csv"):
        status(
            INTRODUCTIONS_SOURCE, taxon_by_name(row["scientific_name"]), row["region_code"], row["status"], row["source_url"],
            row.get("establishment_means", ""), row.get("degree_of_establishment", ""), row.get("note", ""),
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
            region=region, kind=row["kind"], organisation=row["organisation"],
            phone=row["phone"], email=row["email"], url=row["url"], hours=row["hours"],
            languages=row["languages"], notes=row["notes"], source_url=row["source_url"],
            verified_on=datetime.date.fromisoformat(row["verified_on"]) if row["verified_on"] else None,
        )
        loaded += outcome != "unchanged"
    return loaded, skipped
