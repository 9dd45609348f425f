"""Loads the starter pack's range data: native countries/states, regional statuses, contacts."""

from __future__ import annotations

import csv
import datetime
import gzip

from django.db import transaction

from ranges.importers.dwc_checklist import status_note
from ranges.importers.mdd import SOURCE_URL as MDD_URL
from ranges.importers.mdd import mdd_source
from ranges.importers.native_countries import import_table, read_table
from ranges.importers.regionmap import L48, RegionCodes, contiguous_us_group
from ranges.importers.report import ImportReport
from ranges.models import FALLBACK_REGION_CODE, Region
from ranges.services import (
    StatusRow,
    contact_upsert,
    fallback_region_ensure,
    range_source_upsert,
    regional_status_upsert,
    regional_statuses_sync,
)
from species.selectors import taxon_by_name
from species.services import TaxonRecord, taxa_ensure
from species.starter import STARTER_PACK, load_synonyms, read_csv

NATIVE_RANGES_SOURCE = "RangeWatch starter pack: native ranges"
INTRODUCTIONS_SOURCE = "RangeWatch starter pack: documented introductions"
# Every species of the Mammal Diversity Database with its native countries and US states
# (build_range_extracts.py): the whole mammal tree, so any mammal genus or family answers for all
# its members. MIT licence, doi:10.5281/zenodo.10595931.
MDD_EXTRACT = "mdd_species.csv.gz"
MDD_VERSION = "1.13"
# AmphibiaWeb's rows (CC BY 4.0) of the amphibians the pack names, in the shared native-countries format.
AMPHIBIANS_EXTRACT = "amphibians_countries"
# Public bodies named in the national GRIIS checklists (CC BY 4.0), unverified: build_contact_leads.py.
CONTACT_LEADS = "contacts_griis_leads.csv"


@transaction.atomic
def load_statuses_and_contacts() -> dict[str, int]:
    regions = {r.code: r for r in Region.objects.defer("geometry")}
    counts = {"statuses": 0, "contacts": 0, "skipped": 0}
    for extract in (load_mdd_extract(), load_amphibian_extract()):
        counts["statuses"] += extract["created"] + extract["updated"]
        counts["skipped"] += extract["skipped"]

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


def load_mdd_extract() -> dict[str, int]:
    """MDD's 6,753 species (taxa under their order, family and genus) and their native statuses, as
    `import_data mdd` writes them on an install without admin-1 regions outside the USA; the source
    is recorded closed world and complete for mammals (ranges.importers.mdd.mdd_source)."""
    with gzip.open(STARTER_PACK / MDD_EXTRACT, "rt", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    records = [
        TaxonRecord(
            row["scientific_name"],
            "species",
            row["common_name"],
            (
                ("kingdom", "Animalia"),
                ("phylum", "Chordata"),
                ("class", "Mammalia"),
                ("order", row["order"]),
                ("family", row["family"]),
                ("genus", row["scientific_name"].split(" ")[0]),
            ),
        )
        for row in rows
    ]
    ids, _ = taxa_ensure(records)
    load_synonyms()  # curated synonyms whose accepted name is an MDD species exist only from now on
    source = mdd_source(MDD_VERSION)
    range_source_upsert(row=source)
    regions = RegionCodes()
    statuses, skipped = [], 0
    for row in rows:
        taxon_id = ids[(row["scientific_name"], "species")]
        codes = row["countries"].split() + [f"US-{usps}" for usps in row["us_states"].split()]
        for code in codes:
            region_id = regions.id(code)
            if region_id is None:
                skipped += 1
                continue
            statuses.append(StatusRow(taxon_id, region_id, "native", source.name, MDD_URL, "native", "native"))
    return {**regional_statuses_sync(rows=statuses), "skipped": skipped}


def load_amphibian_extract() -> dict[str, int]:
    """AmphibiaWeb's native and introduced countries of the pack's amphibians, through the
    native-countries importer (so its source is recorded closed world, as a full import records it)."""
    report = ImportReport("starter pack: amphibians")
    import_table(read_table(STARTER_PACK / AMPHIBIANS_EXTRACT), report, progress=False)
    return {
        "created": report.created["statuses"],
        "updated": report.updated["statuses"],
        "skipped": sum(report.rejected.values()) + sum(report.unmatched.values()),
    }


def load_contacts(regions: dict[str, Region]) -> tuple[int, int]:
    """contacts.csv and the checklists' leads, the global fallback (region 001) included; rows whose region is not loaded
    (e.g. admin-1 before `import_data natural-earth`) are skipped. Returns (created or updated, skipped)."""
    regions = {**regions, FALLBACK_REGION_CODE: fallback_region_ensure()}
    loaded = skipped = 0
    # The leads from the GRIIS checklists (unverified, each citing its checklist) only for countries
    # contacts.csv does not cover: build_contact_leads.py writes them so.
    for row in read_csv("contacts.csv") + read_csv(CONTACT_LEADS):
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
