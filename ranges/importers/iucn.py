"""IUCN-style range polygons (binomial, presence and origin codes) from shapefile, zip, GeoPackage or GeoJSON."""

from __future__ import annotations

from pathlib import Path

import shapely

from ranges.geometry import GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, read_frame
from ranges.importers import progress_bar
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import RangePolygonRow, range_polygons_sync
from species.selectors import taxon_names
from species.services import TaxonRecord, taxa_ensure

# IUCN Red List mapping standard codes.
PRESENCE = {
    1: "extant",
    2: "probably_extant",
    3: "possibly_extant",
    4: "possibly_extinct",
    5: "extinct",
    6: "uncertain",
}
IMPORTED_PRESENCE = {1, 2}
ORIGIN = {1: "native", 2: "reintroduced", 3: "introduced", 5: "uncertain", 6: "introduced"}  # 4 vagrant: not a range
_LINEAGE_COLUMNS = (
    ("kingdom", "kingdom"),
    ("phylum", "phylum"),
    ("class", "class"),
    ("order", "order_"),
    ("family", "family"),
    ("genus", "genus"),
)


def _column(frame, *names) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _code(value) -> int | None:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def run(paths, report: ImportReport, progress: bool) -> None:
    for path in map(Path, paths):
        try:
            frame = read_frame(path)
        except GeometryFileError as exc:
            raise ImportInputError(str(exc)) from exc
        name_col = _column(frame, "binomial", "sci_name", "scientific_name")
        presence_col, origin_col = _column(frame, "presence"), _column(frame, "origin")
        if not (name_col and presence_col and origin_col):
            raise ImportInputError(
                f"{path}: not an IUCN-style range layer (needs binomial/sci_name, presence and origin columns)"
            )
        source = f"IUCN-style range polygons {path.stem}"
        citation_col = _column(frame, "citation")
        _ensure_taxa(frame, name_col, report)
        names = taxon_names()
        groups: dict[tuple, list] = {}
        for i, rec in enumerate(progress_bar(list(frame.itertuples(index=False)), enabled=progress, desc=path.name)):
            name = str(getattr(rec, name_col) or "").strip()
            presence, origin = _code(getattr(rec, presence_col)), _code(getattr(rec, origin_col))
            if presence not in IMPORTED_PRESENCE:
                report.reject(f"presence {PRESENCE.get(presence, presence)}: not a current range", name)
                continue
            if origin not in ORIGIN:
                report.reject(f"origin code {origin} (vagrant or unknown): not a range", name)
                continue
            taxon_id, how = names.resolve(name)
            if taxon_id is None:
                report.unmatched[name] += 1
                continue
            report.match(how, name)
            try:
                clean = clean_polygonal(rec.geometry, label=f"{name} feature {i}")
            except GeometryRejected as exc:
                report.reject(str(exc).split(": ", 1)[-1].split(" (")[0], f"{name} feature {i}")
                continue
            if clean.repaired:
                report.note(clean.message)
            citation = str(getattr(rec, citation_col) or "") if citation_col else ""
            groups.setdefault((taxon_id, ORIGIN[origin], PRESENCE[presence], name), []).append(
                (clean.geometry, citation)
            )
        rows = []
        for (taxon_id, origin, presence, name), parts in groups.items():
            geometry = parts[0][0] if len(parts) == 1 else shapely.union_all([g for g, _ in parts])
            clean = clean_polygonal(geometry, label=name)
            rows.append(
                RangePolygonRow(
                    taxon_id,
                    origin,
                    presence,
                    clean,
                    source,
                    f"{name}|{presence}",
                    "",
                    "IUCN Red List terms of use (no redistribution)",
                )
            )
        report.add("range polygons", range_polygons_sync(rows=rows))


def _ensure_taxa(frame, name_col: str, report: ImportReport) -> None:
    """IUCN layers carry kingdom..genus columns: create missing taxa from them."""
    columns = {rank: _column(frame, col, f"{col}_name", rank, f"{rank}_name") for rank, col in _LINEAGE_COLUMNS}
    if not columns["genus"] and not columns["family"]:
        return
    records = {}
    known = taxon_names()
    # Plain dicts: itertuples renames columns such as "class" that are Python keywords.
    for rec in frame.drop(columns=frame.geometry.name).to_dict("records"):
        name = " ".join(str(rec.get(name_col) or "").split())
        if len(name.split(" ")) != 2:
            continue
        if "synonym" in known.resolve(name)[1]:
            continue  # an old name of a taxon we have: a new taxon would split its ranges off
        lineage = tuple(
            (rank, str(rec[col]).strip().capitalize()) for rank, col in columns.items() if col and rec.get(col)
        )
        records[name] = TaxonRecord(name.capitalize(), "species", "", lineage)
    if records:
        _, counts = taxa_ensure(list(records.values()))
        report.add("taxa", counts)
