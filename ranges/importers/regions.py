"""Region geometry: Natural Earth countries and US Census states and counties."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyogrio
import shapely

from ranges.geometry import CleanGeometry, GeometryRejected, clean_polygonal

US_STATE_FIPS_TO_USPS: dict[str, str] = {}


@dataclass(frozen=True)
class RegionRow:
    kind: str
    code: str
    name: str
    parent_code: str | None
    geometry: CleanGeometry
    source: str


def _read(path: str, columns: list[str]):
    return pyogrio.read_dataframe(path, columns=columns, encoding=None)


def natural_earth_countries(path: str | Path, source: str):
    """Rows from a Natural Earth admin-0 layer. ISO_A3 is -99 for some (France, Norway):
    fall back to ADM0_A3."""
    path = str(path)
    if path.endswith(".zip") and not path.startswith("zip://"):
        path = f"zip://{path}"
    frame = pyogrio.read_dataframe(path)
    rejected = []
    rows = []
    for rec in frame.itertuples(index=False):
        code = getattr(rec, "ISO_A3", "-99")
        if not code or code == "-99":
            code = getattr(rec, "ADM0_A3")
        name = getattr(rec, "NAME_EN", None) or getattr(rec, "ADMIN")
        try:
            geom = clean_polygonal(rec.geometry, label=f"{code} {name}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(RegionRow("country", code, name, None, geom, source))
    return _merge_duplicates(rows), rejected


def us_census_states(path: str | Path, source: str):
    frame = pyogrio.read_dataframe(str(path))
    rows, rejected = [], []
    for rec in frame.itertuples(index=False):
        US_STATE_FIPS_TO_USPS[rec.STATEFP] = rec.STUSPS
        try:
            geom = clean_polygonal(rec.geometry, label=f"US-{rec.STUSPS}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(RegionRow("admin1", f"US-{rec.STUSPS}", rec.NAME, "USA", geom, source))
    return rows, rejected


def us_census_counties(path: str | Path, source: str, state_fips_to_usps: dict[str, str]):
    frame = pyogrio.read_dataframe(str(path), columns=["STATEFP", "GEOID", "NAME", "LSAD"])
    rows, rejected = [], []
    for rec in frame.itertuples(index=False):
        usps = state_fips_to_usps.get(rec.STATEFP)
        if usps is None:
            continue
        try:
            geom = clean_polygonal(rec.geometry, label=f"US-{rec.GEOID}")
        except GeometryRejected as exc:
            rejected.append(str(exc))
            continue
        rows.append(RegionRow("admin2", f"US-{rec.GEOID}", f"{rec.NAME} County, {usps}", f"US-{usps}", geom, source))
    return rows, rejected


def _merge_duplicates(rows: list[RegionRow]) -> list[RegionRow]:
    """Natural Earth splits some countries into several features with one code: union them."""
    by_code: dict[str, list[RegionRow]] = {}
    for row in rows:
        by_code.setdefault(row.code, []).append(row)
    merged = []
    for code, group in by_code.items():
        if len(group) == 1:
            merged.append(group[0])
            continue
        union = shapely.union_all([r.geometry.geometry for r in group])
        merged.append(RegionRow(group[0].kind, code, group[0].name, None, clean_polygonal(union, label=code), group[0].source))
    return merged
