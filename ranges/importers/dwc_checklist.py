"""Darwin Core checklists of alien taxa: GRIIS (one CSV) or a DwC-A folder (taxon + distribution)."""
from __future__ import annotations

import csv
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.regionmap import RegionCodes
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import StatusRow, regional_statuses_sync
from species.selectors import taxon_names

# Darwin Core degreeOfEstablishment, least to most established; the last two are invasive.
_DEGREES = ["captive", "cultivated", "released", "failing", "casual", "reproducing", "established", "colonising", "invasive", "widespreadInvasive"]
_INVASIVE_DEGREES = {"invasive", "widespreadinvasive"}
_INTRODUCED_MEANS = {"alien", "introduced", "introducedassistedcolonisation", "assistedcolonisation", "vagrant", "uncertain", ""}


def _read(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportInputError(f"{path}: {exc}") from exc


def _records(path: Path) -> tuple[list[dict], str]:
    """Flat rows with scientificName + distribution fields, and a source name."""
    if path.is_dir():
        taxa, dist = path / "taxon.csv", path / "distribution.csv"
        if not (taxa.exists() and dist.exists()):
            raise ImportInputError(f"{path}: a Darwin Core archive folder needs taxon.csv and distribution.csv")
        taxon_rows = {r["taxonID"]: r for r in _read(taxa)}
        first = next(iter(taxon_rows.values()), {})
        source = first.get("datasetName") or path.name
        rows = []
        for d in _read(dist):
            t = taxon_rows.get(d.get("taxonID", ""))
            if t is None:
                continue
            rows.append({**d, "scientificName": t["scientificName"], "source_url": first.get("datasetID", "")})
        return rows, source
    rows = _read(path)
    if rows and "scientificName" not in rows[0]:
        raise ImportInputError(f"{path}: not a Darwin Core checklist (no scientificName column)")
    if rows and not ({"countryCode", "locationID"} & set(rows[0])):
        raise ImportInputError(f"{path}: not a Darwin Core distribution (no countryCode / locationID column)")
    return rows, f"Darwin Core checklist {path.stem}"


def run(paths, report: ImportReport, progress: bool) -> None:
    regions = RegionCodes()
    names = taxon_names()
    for path in map(Path, paths):
        records, source = _records(path)
        if "griis" in source.lower():
            source = f"GRIIS {path.stem.replace('griis_', '').replace('_', ' ').title()} (ISSG / TrIAS)"
        best: dict[tuple, StatusRow] = {}
        for row in progress_bar(records, enabled=progress, desc=path.name):
            name = (row.get("acceptedNameUsage") or row.get("scientificName") or "").strip()
            if (row.get("occurrenceStatus") or "present").strip().lower() in ("absent", "excluded", "doubtful"):
                report.reject(f"occurrenceStatus {row['occurrenceStatus'].strip().lower()}", name)
                continue
            means = (row.get("establishmentMeans") or "").strip()
            if means.lower().replace(" ", "") == "native":
                report.reject("establishmentMeans native: not an alien record", name)
                continue
            if means.lower().replace(" ", "") not in _INTRODUCED_MEANS:
                report.reject("unknown establishmentMeans", f"{name}: {means}")
                continue
            code, how = _region(row, regions)
            if code is None:
                report.reject("region not imported", f"{name}: {row.get('locationID') or row.get('countryCode')}")
                continue
            if how:
                report.note(f"{name}: {how}")
            taxon_id, matched = names.resolve(name)
            if taxon_id is None and row.get("scientificName"):
                taxon_id, matched = names.resolve(row["scientificName"])
            if taxon_id is None:
                report.unmatched[name] += 1
                continue
            report.match(matched, name)
            degree = (row.get("degreeOfEstablishment") or "").strip()
            invasive = degree.lower() in _INVASIVE_DEGREES or (row.get("isInvasive") or "").strip().lower() in ("invasive", "yes", "true")
            status_row = StatusRow(taxon_id, regions.id(code), "invasive" if invasive else "introduced", source, row.get("source_url", "") if row.get("source_url", "").startswith("http") else "", means or "introduced", degree, "")
            key = (taxon_id, status_row.region_id)
            if key not in best or _rank(status_row) > _rank(best[key]):
                best[key] = status_row
        report.add("statuses", regional_statuses_sync(rows=list(best.values())))


def _rank(row: StatusRow) -> tuple[int, int]:
    degree = row.degree_of_establishment
    return (row.status == "invasive", _DEGREES.index(degree) if degree in _DEGREES else -1)


def _region(row: dict, regions: RegionCodes) -> tuple[str | None, str]:
    """The most specific region we have: locationID (ISO 3166-2) if imported, else the country."""
    location = (row.get("locationID") or "").strip()
    for prefix in ("ISO_3166-2:", "ISO3166-2:", "ISO_3166-1:"):
        location = location.removeprefix(prefix)
    if location and regions.id(location) is not None:
        return location, ""
    country = regions.country_for_alpha2(row.get("countryCode", ""))
    if country is None and len(location) == 2:
        country = regions.country_for_alpha2(location)
    if country is None:
        return None, ""
    return country, f"{location} not imported; recorded at {country}" if location and len(location) > 2 else ""
