"""SpeciesNet: its taxonomy (taxa with lineage) and its geofence allow/block rules."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.regionmap import RegionCodes
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import GeofenceRow, geofence_entries_sync
from species.services import TaxonRecord, taxa_ensure

SOURCE_URL = "https://github.com/google/cameratrapai"
_PHYLUM = {
    "mammalia": "Chordata",
    "aves": "Chordata",
    "reptilia": "Chordata",
    "amphibia": "Chordata",
    "actinopterygii": "Chordata",
    "insecta": "Arthropoda",
    "arachnida": "Arthropoda",
    "malacostraca": "Arthropoda",
    "diplopoda": "Arthropoda",
    "gastropoda": "Mollusca",
}
_RANKS = ("class", "order", "family", "genus")


def taxon_record(fields: list[str], common: str = "", label: str = "") -> TaxonRecord | None:
    """['mammalia', 'rodentia', 'myocastoridae', 'myocastor', 'coypus'] -> Myocastor coypus with its lineage.
    A species field with two words ('lupus dingo') is a subspecies; empty trailing fields a higher rank."""
    fields = [f.strip().lower() for f in fields] + [""] * (5 - len(fields))
    klass, order, family, genus, species = fields[:5]
    if not klass:
        return None
    lineage = [("kingdom", "Animalia")]
    if klass in _PHYLUM:
        lineage.append(("phylum", _PHYLUM[klass]))
    lineage += [(rank, value.capitalize()) for rank, value in zip(_RANKS, (klass, order, family, genus)) if value]
    if species:
        if not genus:
            return None
        rank = "subspecies" if " " in species else "species"
        return TaxonRecord(f"{genus.capitalize()} {species}", rank, common, tuple(lineage), label)
    name, rank = lineage[-1][1], lineage[-1][0]
    return TaxonRecord(name, rank, _people_name(common), tuple(lineage[:-1]), label)


def _people_name(common: str) -> str:
    """SpeciesNet names a group it has no English name for after the taxon ("loxodonta species", "old
    world porcupine family"): not a name a person would use, so it is not stored."""
    return "" if re.search(r"\b(species|family|order|class)$", common.strip().lower()) else common


def run_taxonomy(paths, report: ImportReport, progress: bool) -> None:
    records = []
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportInputError(f"{path}: {exc}") from exc
        if lines and lines[0].count(";") != 6:
            raise ImportInputError(
                f"{path}: not a SpeciesNet taxonomy (uuid;class;order;family;genus;species;common name)"
            )
        for line in progress_bar(lines, enabled=progress, desc=path.name):
            parts = line.split(";")
            if len(parts) != 7:
                report.reject("not 7 fields", line[:60])
                continue
            record = taxon_record(parts[1:6], parts[6].strip(), line.strip())
            if record is None:
                report.reject("not a taxon (blank / animal / human / vehicle)", parts[6].strip())
                continue
            records.append(record)
    _, counts = taxa_ensure(records)
    report.add("taxa", counts)


def run_geofence(paths, report: ImportReport, progress: bool) -> None:
    regions = RegionCodes()
    for path in map(Path, paths):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ImportInputError(f"{path}: {exc}") from exc
        if not lines or not lines[0].startswith("species,rule"):
            raise ImportInputError(
                f"{path}: not a SpeciesNet geofence rule file (header species,rule,country_code,admin1_region_code)"
            )
        source = f"SpeciesNet geofence ({path.name})"
        parsed, comment, after_rule = [], [], False
        for row in csv.reader(lines[1:]):
            if not row:
                continue
            if row[0].startswith("#"):
                text = ",".join(row).lstrip("#").strip()
                comment = [text] if after_rule else [*comment, text]  # a comment after rules starts a new block
                after_rule = False
                continue
            after_rule = True
            parsed.append(
                (
                    row[0],
                    row[1].strip(),
                    row[2].strip() if len(row) > 2 else "",
                    row[3].strip() if len(row) > 3 else "",
                    " ".join(comment),
                )
            )
        records = {}
        for species, *_ in parsed:
            record = taxon_record(species.split(";"))
            if record is not None:
                records[species] = record
        ids, counts = taxa_ensure(list(records.values()))
        report.add("taxa", counts)
        rows = []
        for species, rule, country, admin1, text in progress_bar(parsed, enabled=progress, desc=path.name):
            record = records.get(species)
            if record is None:
                report.reject("no taxon in the species field", species)
                continue
            if rule not in ("allow", "block"):
                report.reject("rule is neither allow nor block", f"{species}: {rule}")
                continue
            code = regions.subregion_code(country, admin1) if admin1 else country
            region_id = regions.id(code)
            if region_id is None:
                report.reject("region not imported", f"{species}: {code}")
                continue
            rows.append(
                GeofenceRow(
                    ids[(record.scientific_name, record.rank)], region_id, rule, (text or "")[:2000], source, SOURCE_URL
                )
            )
        report.add("geofence rules", geofence_entries_sync(rows=rows))
