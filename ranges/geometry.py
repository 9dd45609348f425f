"""Geometry checks on every way in: valid, lon/lat order, sane extent; repaired or rejected."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import shapely
from shapely.validation import explain_validity, make_valid


class GeometryRejected(ValueError):
    """The geometry cannot be used; the message says why."""


@dataclass(frozen=True)
class CleanGeometry:
    geometry: object
    repaired: bool
    message: str = ""

    @property
    def wkb(self) -> bytes:
        return shapely.to_wkb(self.geometry, output_dimension=2)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.wkb).hexdigest()


def clean_polygonal(geom, *, label: str = "geometry") -> CleanGeometry:
    """Validate an area geometry in lon/lat: repair invalid rings with make_valid, keep the
    polygonal part, reject empty results, coordinates outside [-180,180]x[-90,90] (swapped axes)
    and rings that jump across the antimeridian."""
    if geom is None or geom.is_empty:
        raise GeometryRejected(f"{label}: empty geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon", "GeometryCollection"):
        raise GeometryRejected(f"{label}: expected a polygon, got {geom.geom_type}")
    minx, miny, maxx, maxy = geom.bounds
    if minx < -180.0001 or maxx > 180.0001 or miny < -90.0001 or maxy > 90.0001:
        if -90 <= minx and maxx <= 90 and -180 <= miny and maxy <= 180:
            raise GeometryRejected(f"{label}: coordinates look like lat/lon instead of lon/lat (bounds {geom.bounds})")
        raise GeometryRejected(f"{label}: coordinates outside lon/lat bounds {geom.bounds}; is it in EPSG:4326?")
    _check_antimeridian(geom, label)
    repaired, message = False, ""
    if not geom.is_valid:
        message = f"{label}: repaired invalid geometry ({explain_validity(geom)})"
        geom = make_valid(geom)
        repaired = True
    geom = _polygonal_part(geom)
    if geom.is_empty:
        raise GeometryRejected(f"{label}: nothing polygonal left after repair")
    return CleanGeometry(geom, repaired, message)


def _polygonal_part(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = []
    for g in parts:
        polys.extend(g.geoms if g.geom_type == "MultiPolygon" else [g])
    return shapely.MultiPolygon(polys) if polys else shapely.Polygon()


def _check_antimeridian(geom, label: str) -> None:
    """A ring with an edge longer than 180° of longitude was drawn the wrong way round the globe."""
    polys = geom.geoms if hasattr(geom, "geoms") else [geom]
    for poly in polys:
        if poly.geom_type != "Polygon":
            continue
        for ring in [poly.exterior, *poly.interiors]:
            xy = shapely.get_coordinates(ring)
            if len(xy) < 2:
                continue
            jumps = abs(xy[1:, 0] - xy[:-1, 0]) > 180
            # An edge from +180 to -180 along a pole (Antarctica) closes a ring correctly.
            along_edge = (
                (abs(xy[1:, 0]) == 180) & (abs(xy[:-1, 0]) == 180) & (abs(xy[1:, 1]) == 90) & (abs(xy[:-1, 1]) == 90)
            )
            if (jumps & ~along_edge).any():
                raise GeometryRejected(f"{label}: a ring crosses the antimeridian; split it at ±180° longitude")
