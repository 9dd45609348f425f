"""US Register of Introduced and Invasive Species: taxon x locality (L48, AK, HI) statuses."""

from __future__ import annotations

import csv
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.regionmap import L48, RegionCodes, contiguous_us_group
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import StatusRow, regional_statuses_sync
from species.selectors import taxon_names

SOURCE = "US-RIIS (USGS, 2021 release)"
SOURCE_URL = "https://doi.org/10.5066/P95XL09Q"
_LOCALITIES = {"AK": "US-AK", "HI": "US-HI", "L48": L48}


def _rows(paths) -> list[dict]:
    files = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*MasterList*.csv")) if path.is_dir() else [path])
    if not files:
        raise ImportInputError("no US-RIIS master list (US-RIIS_MasterList.csv) among the paths")
    rows = []
    for path in files:
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                part = list(csv.DictReader(fh))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ImportInputError(f"{path}: {exc}") from exc
        if part and ("locality" not in part[0] or "Introduced or Invasive" not in part[0]):
            raise ImportInputError(f"{path}: not a US-RIIS master list (no locality / 'Introduced or Invasive' column)")
        rows.extend(part)
    return rows


def run(paths, report: ImportReport, progress: bool) -> None:
    rows = _rows(paths)
    regions = contiguous_us_group(RegionCodes(), report)
    names = taxon_names()
    statuses = []
    for row in progress_bar(rows, enabled=progress, desc="us-riis"):
        name = row["scientificName"].strip()
        code = _LOCALITIES.get(row["locality"].strip().upper())
        if code is None:
            report.reject("unknown locality", f"{name}: {row['locality']}")
            continue
        region_id = regions.id(code)
        if region_id is None:
            report.reject("region not imported", f"{name}: {code}")
            continue
        # Inside the row's kingdom: the plant genus Proboscidea is not the elephant order.
        taxon_id, how = names.resolve(name, (row.get("kingdom") or "").strip() or None)
        if taxon_id is None:
            report.unmatched[name] += 1
            continue
        report.match(how, name)
        value = row["Introduced or Invasive"].strip().lower()
        if value not in ("introduced", "invasive"):
            report.reject("unknown 'Introduced or Invasive' value", f"{name}: {value}")
            continue
        note = "; ".join(
            p
            for p in (
                f"as {name}" if how != "accepted" else "",
                f"introduced {row['Approximate Introduction Date'].strip()}"
                if row.get("Approximate Introduction Date", "").strip()
                else "",
                f"authority: {row['Authority'].strip()}" if row.get("Authority", "").strip() else "",
            )
            if p
        )
        statuses.append(
            StatusRow(
                taxon_id,
                region_id,
                value,
                SOURCE,
                SOURCE_URL,
                "introduced",
                "invasive" if value == "invasive" else "",
                note[:1000],
            )
        )
    report.add("statuses", regional_statuses_sync(rows=_most_severe(statuses)))


def _most_severe(rows: list[StatusRow]) -> list[StatusRow]:
    """Several names can land on one taxon and locality (synonyms, subspecies): invasive wins."""
    best: dict[tuple, StatusRow] = {}
    for row in rows:
        key = (row.taxon_id, row.region_id, row.source)
        if key not in best or (row.status == "invasive" and best[key].status != "invasive"):
            best[key] = row
    return list(best.values())
