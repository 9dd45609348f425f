"""RFC 7946 GeoJSON of range polygons and regions, simplified to a tolerance for display."""

from __future__ import annotations

import math

import numpy as np
import shapely

# About 1 km: the API's default, close to the source data at country scale.
DISPLAY_TOLERANCE_DEG = 0.01
# The bounds a caller may ask for: finer than ~100 m is the stored geometry's business, not a map's;
# coarser than 1 degree no longer looks like the place.
MIN_TOLERANCE_DEG = 0.0001
MAX_TOLERANCE_DEG = 1.0
# The tolerances a map is drawn at (issue 23, High): a request's tolerance is snapped to the nearest
# of these, so each map exists in a handful of forms, each simplified once and then read from the
# cache (37 accepted forms, each 3.5 s of simplification for a big range, were an amplifier). They
# cover what the pages ask for (ranges/maps.py: 0.2 base map, 0.05 species page, 0.1 and 0.02 card).
MAP_TOLERANCES_DEG = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def map_tolerance(requested: float) -> float:
    """The member of MAP_TOLERANCES_DEG nearest to `requested` on a log scale (0.047 -> 0.05)."""
    return min(MAP_TOLERANCES_DEG, key=lambda t: abs(math.log(t / requested)))


def display_geometry(geom, tolerance: float = DISPLAY_TOLERANCE_DEG) -> dict | None:
    """The geometry simplified (topology kept) with `tolerance` in degrees, its coordinates cut to the
    decimal digits of a tenth of it (more digits would only carry the simplification's error),
    counter-clockwise exteriors (RFC 7946 §3.1.6). None when nothing is left at that tolerance."""
    return _displayed(shapely.simplify(geom, tolerance, preserve_topology=True), tolerance)


def display_geometries(geom, tolerances) -> list[dict | None]:
    """display_geometry at each of `tolerances` (ascending), each form simplified from the finer one
    before it: the finest pass works on the whole outline, the coarser ones on what it left (a
    country's 7 map forms in about half the CPU). Each form stays within its tolerance plus the finer
    ones', under twice its own for tolerances that at least double (MAP_TOLERANCES_DEG)."""
    out, simple = [], geom
    for tolerance in sorted(tolerances):
        simple = shapely.simplify(simple, tolerance, preserve_topology=True)
        out.append(_displayed(simple, tolerance))
    return out


def _displayed(simple, tolerance: float) -> dict | None:
    decimals = max(0, -math.floor(math.log10(tolerance / 10)))
    simple = shapely.set_precision(simple, 10.0**-decimals)
    if simple.is_empty:
        return None
    # After set_precision, which may reorder rings.
    simple = shapely.orient_polygons(simple, exterior_cw=False)
    # Snapped coordinates still carry binary noise (12.300000000000001): round them to those digits.
    simple = shapely.transform(simple, lambda xy: np.round(xy, decimals))
    return shapely.geometry.mapping(simple)


def preview_tolerance(geom, pixels: int = 800) -> float:
    """A tolerance of about one pixel when the whole geometry is drawn `pixels` wide."""
    minx, miny, maxx, maxy = geom.bounds
    span = max(maxx - minx, maxy - miny)
    return min(max(span / pixels, MIN_TOLERANCE_DEG), MAX_TOLERANCE_DEG)


def feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def map_feature(*, geometry, tolerance: float = DISPLAY_TOLERANCE_DEG, **properties) -> dict | None:
    """A Feature of the geometry at the display tolerance; None when it vanishes at that tolerance."""
    shape = display_geometry(geometry, tolerance)
    if shape is None:
        return None
    return {"type": "Feature", "geometry": shape, "properties": properties}
