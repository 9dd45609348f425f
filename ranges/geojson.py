"""RFC 7946 GeoJSON of a taxon's range: range polygons and regions with a status, simplified for display."""
from __future__ import annotations

import shapely

# About 1 km: enough for a phone map, and it keeps a country-level range under a few hundred kB.
DISPLAY_TOLERANCE_DEG = 0.01


def display_geometry(geom, tolerance: float = DISPLAY_TOLERANCE_DEG) -> dict:
    """Simplified (topology kept), counter-clockwise exteriors (RFC 7946 §3.1.6), 5 decimals."""
    simple = shapely.simplify(geom, tolerance, preserve_topology=True)
    simple = shapely.set_precision(simple, 1e-5)
    # RFC 7946: exteriors counter-clockwise; after set_precision, which may reorder rings.
    simple = shapely.orient_polygons(simple, exterior_cw=False)
    return shapely.geometry.mapping(simple)


def feature_collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def range_feature(*, geometry, kind: str, status: str, properties: dict) -> dict:
    return {"type": "Feature", "geometry": display_geometry(geometry), "properties": {"kind": kind, "status": status, **properties}}
