"""Vector tiles of a list's matches made by the database (PostGIS ST_AsMVT): cells with counts up
to zoom 8, single records above. The cells come from watchlists_matchcell (counts per list, zoom
and cell, kept by triggers on the matches: migration 0003), so a low-zoom tile costs the cells it
shows, not the records of the list; without that table they are grouped from the records. Only imported occurrences go into tiles (public as published);
uploads and frames reach the map through the GeoJSON endpoint, each with its viewer's geoprivacy.

Needs PostgreSQL with PostGIS and the `geom` column migration 0002 adds there; the embedded SQLite
default serves the GeoJSON cells and points instead (watchlists.apis.MatchMapApi)."""

from __future__ import annotations

import math

from django.db import connection

CLUSTER_MAX_ZOOM = 8
CELLS_PER_TILE_SIDE = 64
MAX_POINTS_PER_TILE = 20000

_CELLS = """
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS b3857,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326) AS b4326
), cells AS (
    SELECT ST_SnapToGrid(m.geom, %(cell)s) AS g, count(*) AS n
    FROM watchlists_match m, bounds
    WHERE m.watch_list_id = %(list)s AND m.occurrence_id IS NOT NULL AND m.geom && bounds.b4326
    GROUP BY 1
)
SELECT ST_AsMVT(t, 'matches', 4096, 'g') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(cells.g, 3857), bounds.b3857) AS g, cells.n AS count, true AS cluster
    FROM cells, bounds
) t
"""

_STORED_CELLS = """
SELECT ST_AsMVT(t, 'matches', 4096, 'g') FROM (
    SELECT ST_AsMVTGeom(
               ST_Transform(ST_SetSRID(ST_MakePoint(
                   LEAST(180, (c.cx + 0.5) * %(cell)s), GREATEST(-85.0511, LEAST(85.0511, (c.cy + 0.5) * %(cell)s))
               ), 4326), 3857),
               ST_TileEnvelope(%(z)s, %(x)s, %(y)s)
           ) AS g, c.n AS count, true AS cluster
    FROM watchlists_matchcell c
    WHERE c.watch_list_id = %(list)s AND c.z = %(z)s AND c.n > 0
      AND c.cx BETWEEN %(cx0)s AND %(cx1)s AND c.cy BETWEEN %(cy0)s AND %(cy1)s
) t
"""

_POINTS = """
WITH bounds AS (
    SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS b3857,
           ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326) AS b4326
)
SELECT ST_AsMVT(t, 'matches', 4096, 'g', 'id') FROM (
    SELECT m.id, m.status, m.verdict_status AS verdict, m.taxon_id,
           ST_AsMVTGeom(ST_Transform(m.geom, 3857), bounds.b3857) AS g
    FROM watchlists_match m, bounds
    WHERE m.watch_list_id = %(list)s AND m.occurrence_id IS NOT NULL AND m.geom && bounds.b4326
    ORDER BY m.id DESC
    LIMIT %(limit)s
) t
"""


def tiles_supported() -> bool:
    """PostgreSQL with the geometry column (migration 0002 adds it where PostGIS is installed)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'watchlists_match' AND column_name = 'geom'"
        )
        return cursor.fetchone() is not None


def cells_stored() -> bool:
    """The per-zoom cell counts of migration 0003 are there (PostgreSQL with PostGIS)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('watchlists_matchcell') IS NOT NULL")
        return bool(cursor.fetchone()[0])


def _cell_range(z: int, x: int, y: int, cell: float) -> dict:
    """The tile's cells: their indices (floor(degrees / cell)) over the tile's lon/lat bounds."""
    n = 2**z
    west, east = x / n * 360 - 180, (x + 1) / n * 360 - 180
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / n))))
    if y == 0:
        north = 90.0  # the top and bottom rows of tiles also show what lies beyond Web Mercator's edge
    if y == n - 1:
        south = -90.0
    return {
        "cx0": math.floor(west / cell),
        "cx1": math.floor(east / cell),
        "cy0": math.floor(south / cell),
        "cy1": math.floor(north / cell),
    }


def match_tile(*, watch_list_id: int, z: int, x: int, y: int) -> bytes:
    params = {"z": z, "x": x, "y": y, "list": watch_list_id, "limit": MAX_POINTS_PER_TILE}
    if z <= CLUSTER_MAX_ZOOM:
        params["cell"] = 360.0 / 2**z / CELLS_PER_TILE_SIDE
        sql = _CELLS
        if cells_stored():
            params.update(_cell_range(z, x, y, params["cell"]))
            sql = _STORED_CELLS
    else:
        sql = _POINTS
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
