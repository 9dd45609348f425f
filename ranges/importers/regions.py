"""Region geometry: Natural Earth admin-0/admin-1 and US Census states and counties."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyogrio
import shapely

from ranges.geometry import CleanGeometry, GeometryRejected, clean_polygonal
from ranges.geometry_files import GeometryFileError, read_frame, scale_denominator
from ranges.importers.report import ImportInputError, ImportReport
from ranges.models import Region
from ranges.services import regions_upsert

US_STATE_FIPS_TO_USPS: dict[str, str] = {}

# The Census Bureau's legal/statistical area description of a county-equivalent (the LSAD column), as a
# county-equivalent is called there: "Bayamón Municipio, PR", "Orleans Parish, LA", "Juneau City and
# Borough, AK", "Baltimore city, MD"; "" = the name alone ("District of Columbia", "Guam").
COUNTY_LSAD_WORDS = {
    "00": "",
    "03": "City and Borough",
    "04": "Borough",
    "05": "Census Area",
    "06": "County",
    "07": "District",
    "10": "Island",
    "12": "Municipality",
    "13": "Municipio",
    "15": "Parish",
    "25": "city",
}


def county_name(name: str, lsad: str | None, usps: str) -> str:
    """A county-equivalent said the way the Census Bureau (and the people who live there) say it."""
    word = COUNTY_LSAD_WORDS.get(str(lsad or "").strip(), "County")
    return f"{name} {word}, {usps}" if word else f"{name}, {usps}"


@dataclass(frozen=True)
class RegionRow:
    kind: str
    code: str
    name: str
    parent_code: str | None
    geometry: CleanGeometry
    source: str
    iso_a2: str = ""
    scale_denominator: int | None = None


def _value(rec, *names, default=""):
    for name in names:
        value = getattr(rec, name, None)
        if value is not None and value == value and str(value).strip() not in ("", "-99", "-1"):
            return str(value).strip()
    return default


def natural_earth_countries(path: str | Path, source: str):
    """Rows from a Natural Earth admin-0 layer. ISO_A3 is -99 for some (France, Norway):
    fall back to ADM0_A3."""
    path = str(path)
    frame = read_frame(path)
    scale = scale_denominator(path)
    rejected, rows = [], []
    for rec in frame.itertuples(index=False):
        code = _value(rec, "ISO_A3", "iso_a3") or _value(rec, "ADM0_A3", "adm0_a3")
        name = _value(rec, "NAME_EN", "ADMIN", "NAME", "name_en", "admin", "name")
        try:
            geom = clean_polygonal(rec.geometry, label=f"{code} {name}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        iso_a2 = _value(rec, "ISO_A2", "iso_a2")
        rows.append(RegionRow("country", code, name, None, geom, source, iso_a2 if len(iso_a2) == 2 else "", scale))
    return _merge_duplicates(rows), rejected


def natural_earth_admin1(path: str | Path, source: str):
    """Rows from a Natural Earth admin-1 layer: ISO 3166-2 codes (US-NJ, BR-SP), country as parent."""
    frame = read_frame(path)
    scale = scale_denominator(path)
    rejected, rows = [], []
    for rec in frame.itertuples(index=False):
        code = _value(rec, "iso_3166_2", "ISO_3166_2")
        parent = _value(rec, "adm0_a3", "ADM0_A3")
        name = _value(rec, "name_en", "name", "NAME")
        if not code or "-" not in code or code.endswith("~"):
            rejected.append(f"{name or '?'}: no usable iso_3166_2 code ({code!r})")
            continue
        try:
            geom = clean_polygonal(rec.geometry, label=f"{code} {name}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(RegionRow("admin1", code, name, parent, geom, source, "", scale))
    return _merge_duplicates(rows), rejected


def us_census_states(path: str | Path, source: str):
    frame = read_frame(path)
    scale = scale_denominator(path)
    rows, rejected = [], []
    for rec in frame.itertuples(index=False):
        US_STATE_FIPS_TO_USPS[rec.STATEFP] = rec.STUSPS
        try:
            geom = clean_polygonal(rec.geometry, label=f"US-{rec.STUSPS}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(RegionRow("admin1", f"US-{rec.STUSPS}", rec.NAME, "USA", geom, source, "", scale))
    return rows, rejected


def us_census_counties(path: str | Path, source: str, state_fips_to_usps: dict[str, str]):
    frame = read_frame(path, columns=["STATEFP", "GEOID", "NAME", "LSAD"])
    scale = scale_denominator(path)
    rows, rejected = [], []
    for rec in frame.itertuples(index=False):
        usps = state_fips_to_usps.get(rec.STATEFP)
        if usps is None:
            rejected.append(f"US-{rec.GEOID}: state FIPS {rec.STATEFP} unknown (import the states first)")
            continue
        try:
            geom = clean_polygonal(rec.geometry, label=f"US-{rec.GEOID}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(
            RegionRow(
                "admin2",
                f"US-{rec.GEOID}",
                county_name(rec.NAME, rec.LSAD, usps),
                f"US-{usps}",
                geom,
                source,
                "",
                scale,
            )
        )
    return rows, rejected


def _merge_duplicates(rows: list[RegionRow]) -> list[RegionRow]:
    """Natural Earth splits some regions into several features with one code: union them."""
    by_code: dict[str, list[RegionRow]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
    merged = []
    for code, group in by_code.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        union = shapely.union_all([r.geometry.geometry for r in group])
        first = group[0]
        merged.append(
            RegionRow(
                first.kind,
                code,
                first.name,
                first.parent_code,
                clean_polygonal(union, label=code),
                first.source,
                first.iso_a2,
                first.scale_denominator,
            )
        )
    return merged


def _write(report: ImportReport, rows: list[RegionRow], rejected: list[str], what: str) -> None:
    for message in rejected:
        report.reject(message.split(":", 1)[-1].strip().split(" (")[0], message.split(":", 1)[0])
    for row in rows:
        if row.geometry.repaired:
            report.note(row.geometry.message)
    counts = regions_upsert(rows=rows)
    if counts.get("kept"):
        report.note(f"{counts['kept']} {what} kept from a more detailed source")
    report.add(what, counts)


def _columns(path) -> set[str]:
    try:
        return {c.lower() for c in pyogrio.read_info(str(path))["fields"]}
    except Exception as exc:
        raise ImportInputError(f"{path}: cannot read as GeoJSON / shapefile / GeoPackage ({exc})") from exc


def run_natural_earth(paths, report: ImportReport, progress: bool) -> None:
    """Admin-0 layers first (admin-1 rows need their country), whatever order the paths come in."""
    layers = [(p, "iso_3166_2" in _columns(p)) for p in paths]
    for path, is_admin1 in sorted(layers, key=lambda item: item[1]):
        source = f"Natural Earth {Path(path).stem} (v4.0.0, public domain)"
        try:
            if is_admin1:
                rows, rejected = natural_earth_admin1(path, source)
                _write(report, _with_known_parents(rows, rejected), rejected, "admin-1 regions")
            else:
                rows, rejected = natural_earth_countries(path, source)
                _write(report, rows, rejected, "countries")
        except GeometryFileError as exc:
            raise ImportInputError(str(exc)) from exc


def _with_known_parents(rows: list[RegionRow], rejected: list[str]) -> list[RegionRow]:
    known = set(Region.objects.filter(code__in={r.parent_code for r in rows}).values_list("code", flat=True))
    kept = []
    for row in rows:
        if row.parent_code in known:
            kept.append(row)
        else:
            rejected.append(f"{row.code}: country {row.parent_code} not imported yet (import admin-0 first)")
    return kept


def run_us_census(paths, report: ImportReport, progress: bool) -> None:
    """States (STUSPS column) before counties (5-digit GEOID), whatever order the paths come in."""
    layers = [(p, "stusps" in _columns(p)) for p in paths]
    for path, is_states in sorted(layers, key=lambda item: not item[1]):
        source = f"US Census Bureau cartographic boundary file {Path(path).stem}"
        try:
            if is_states:
                if not Region.objects.filter(code="USA").exists():
                    raise ImportInputError("import a Natural Earth admin-0 layer first: US states need the USA country")
                rows, rejected = us_census_states(path, source)
                _write(report, rows, rejected, "US states")
            else:
                fips = _state_fips(paths)
                rows, rejected = us_census_counties(path, source, fips)
                _write(report, rows, rejected, "US counties")
        except GeometryFileError as exc:
            raise ImportInputError(str(exc)) from exc


def _state_fips(paths) -> dict[str, str]:
    """FIPS -> USPS from a states layer in this run, else from states already imported."""
    if US_STATE_FIPS_TO_USPS:
        return dict(US_STATE_FIPS_TO_USPS)
    for path in paths:
        if "stusps" in _columns(path):
            frame = pyogrio.read_dataframe(str(path), columns=["STATEFP", "STUSPS"], read_geometry=False)
            return dict(zip(frame.STATEFP, frame.STUSPS))
    return {}
