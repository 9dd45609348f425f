"""Vector tiles of a list's matches made by the database (PostGIS ST_AsMVT): cells with counts up
to zoom 8, single records above. Only imported occurrences go into tiles (public as published);
uploads and frames reach the map through the GeoJSON endpoint, each with its viewer's geoprivacy.

A cell tile reads watchlists_matchcell (counts per list, zoom and cell, kept by triggers on the
matches: migration 0003, zooms 4 and 8), grouping the stored cells under it into its own, so a
continent-wide tile of a list with millions of records costs cells, not records. A point tile (zoom 9 and above, at most 0.7 degrees a side) reads the
list's records in its bounds through the (list, latitude, longitude) index; migration 0005 dropped
the GiST index on (list, point), which cost a third of every match's insert.

Needs PostgreSQL with PostGIS (migrations 0002 and 0003 add the point column and the cells there);
the embedded SQLite default serves the GeoJSON cells and points instead (watchlists.apis.MatchMapApi)."""

from __future__ import annotations

import math

from django.db import connection

CLUSTER_MAX_ZOOM = 8
CELLS_PER_TILE_SIDE = 64  # also the cells' size in migration 0003: 360 / 2^z / 64 degrees
STORED_ZOOMS = (4, 8)  # the zooms migration 0003 keeps cells for; a tile groups the next one up
MAX_POINTS_PER_TILE = 20000

_CELLS = """
SELECT ST_AsMVT(t, 'matches', 4096, 'g') FROM (
    SELECT ST_AsMVTGeom(
               ST_Transform(ST_SetSRID(ST_MakePoint(
                   LEAST(180, (g.gx + 0.5) * %(cell)s), GREATEST(-85.0511, LEAST(85.0511, (g.gy + 0.5) * %(cell)s))
               ), 4326), 3857),
               ST_TileEnvelope(%(z)s, %(x)s, %(y)s)
           ) AS g, g.n AS count, true AS cluster
    FROM (
        SELECT c.cx >> %(shift)s AS gx, c.cy >> %(shift)s AS gy, sum(c.n) AS n
        FROM watchlists_matchcell c
        WHERE c.watch_list_id = %(list)s AND c.z = %(base)s AND c.n > 0
          AND c.cx BETWEEN %(cx0)s AND %(cx1)s AND c.cy BETWEEN %(cy0)s AND %(cy1)s
        GROUP BY 1, 2
    ) g
) t
"""

_POINTS = """
SELECT ST_AsMVT(t, 'matches', 4096, 'g', 'id') FROM (
    SELECT m.id, m.status, m.verdict_status AS verdict, m.taxon_id,
           ST_AsMVTGeom(ST_Transform(m.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s)) AS g
    FROM watchlists_match m
    WHERE m.watch_list_id = %(list)s AND m.occurrence_id IS NOT NULL
      AND m.latitude BETWEEN %(south)s AND %(north)s AND m.longitude BETWEEN %(west)s AND %(east)s
    ORDER BY m.id DESC
    LIMIT %(limit)s
) t
"""


def tiles_supported() -> bool:
    """PostgreSQL with the point column and the stored cells (migrations 0002 and 0003, where
    PostGIS is installed)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'watchlists_match' AND column_name = 'geom'"
            " AND to_regclass('watchlists_matchcell') IS NOT NULL"
        )
        return cursor.fetchone() is not None


def tile_bounds(z: int, x: int, y: int) -> dict:
    """The tile's west, east, south and north in degrees; the top and bottom rows of tiles reach the
    poles (what lies beyond Web Mercator's edge is drawn at it)."""
    n = 2**z
    north = 90.0 if y == 0 else math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = -90.0 if y == n - 1 else math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    return {"west": x / n * 360 - 180, "east": (x + 1) / n * 360 - 180, "south": south, "north": north}


def match_tile(*, watch_list_id: int, z: int, x: int, y: int) -> bytes:
    params = {"z": z, "x": x, "y": y, "list": watch_list_id, "limit": MAX_POINTS_PER_TILE}
    bounds = tile_bounds(z, x, y)
    if z <= CLUSTER_MAX_ZOOM:
        base = min(s for s in STORED_ZOOMS if s >= z)
        stored = 360.0 / 2**base / CELLS_PER_TILE_SIDE
        params.update(
            cell=360.0 / 2**z / CELLS_PER_TILE_SIDE,
            base=base,
            shift=base - z,
            cx0=math.floor(bounds["west"] / stored),
            cx1=math.floor(bounds["east"] / stored),
            cy0=math.floor(bounds["south"] / stored),
            cy1=math.floor(bounds["north"] / stored),
        )
        sql = _CELLS
    else:
        params.update(bounds)
        sql = _POINTS
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
