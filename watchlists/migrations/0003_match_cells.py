"""On PostgreSQL with PostGIS (where 0002 added the point column): a table of match counts per
list, zoom and grid cell, kept by statement-level triggers on the matches, so a map tile at low
zoom reads cells instead of grouping every record of the list (at 10^7 records a continent-wide
tile of a big list would group millions). Cells are 360 / 2^z / 64 degrees
(watchlists.tiles.CELLS_PER_TILE_SIDE), stored at zooms 4 and 8 only: a tile at zoom 0-4 groups the
zoom-4 cells under it, one at zoom 5-8 the zoom-8 cells (a shift of their indices). All nine zooms
stored cost 4.4 cell upserts per inserted match (229,000 for a chunk of 52,000 matches), two about
1.4. The zoom-8 cell of each inserted or deleted match is counted once per statement. Only
imported occurrences are counted (the tiles show only them); a cell whose count falls to 0 goes.
No foreign key to the lists: a list's matches are deleted before it, and their trigger empties its
cells (a TRUNCATE of the matches empties the table). Elsewhere nothing changes."""

from django.db import migrations

CELL8 = "(360.0 / 256 / 64)"
STORED_ZOOMS = "ARRAY[4, 8]"  # watchlists.tiles.STORED_ZOOMS


def _fold(rows: str, sign: int) -> str:
    """(list, zoom, cx, cy, n) of the transition table `rows`: zoom-8 cells once, then each stored zoom."""
    return (
        f"SELECT watch_list_id, z, x >> (8 - z) AS cx, y >> (8 - z) AS cy, {sign} * sum(n) AS n FROM ("
        f" SELECT watch_list_id, floor(longitude / {CELL8})::int AS x, floor(latitude / {CELL8})::int AS y,"
        f" count(*) AS n FROM {rows} WHERE occurrence_id IS NOT NULL GROUP BY 1, 2, 3"
        f") z8, unnest({STORED_ZOOMS}) AS z GROUP BY 1, 2, 3, 4"
    )


_UPSERT = (
    "INSERT INTO watchlists_matchcell AS c (watch_list_id, z, cx, cy, n) {rows} ORDER BY 1, 2, 3, 4"
    " ON CONFLICT (watch_list_id, z, cx, cy) DO UPDATE SET n = c.n + excluded.n"
)

FORWARD = [
    "CREATE TABLE IF NOT EXISTS watchlists_matchcell ("
    " watch_list_id bigint NOT NULL,"
    " z smallint NOT NULL, cx integer NOT NULL, cy integer NOT NULL, n integer NOT NULL,"
    " PRIMARY KEY (watch_list_id, z, cx, cy))",
    "CREATE OR REPLACE FUNCTION watchlists_matchcell_insert() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN {_UPSERT.format(rows=_fold('new_rows', 1))}; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION watchlists_matchcell_delete() RETURNS trigger LANGUAGE plpgsql AS $$"
    f" BEGIN {_UPSERT.format(rows=_fold('old_rows', -1))};"
    " DELETE FROM watchlists_matchcell WHERE n <= 0"
    " AND watch_list_id IN (SELECT DISTINCT watch_list_id FROM old_rows); RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION watchlists_matchcell_truncate() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN TRUNCATE watchlists_matchcell; RETURN NULL; END $$",
    # An update moves a count only when it changes a match's list, point or record (triage does not).
    "CREATE OR REPLACE FUNCTION watchlists_matchcell_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    + _UPSERT.format(
        rows="SELECT watch_list_id, z, cx, cy, sum(n) FROM ("
        + _fold(
            "(SELECT o.* FROM old_rows o JOIN new_rows w USING (id) WHERE (o.watch_list_id, o.latitude,"
            " o.longitude, o.occurrence_id) IS DISTINCT FROM (w.watch_list_id, w.latitude, w.longitude,"
            " w.occurrence_id)) AS moved_from",
            -1,
        )
        + " UNION ALL "
        + _fold(
            "(SELECT w.* FROM old_rows o JOIN new_rows w USING (id) WHERE (o.watch_list_id, o.latitude,"
            " o.longitude, o.occurrence_id) IS DISTINCT FROM (w.watch_list_id, w.latitude, w.longitude,"
            " w.occurrence_id)) AS moved_to",
            1,
        )
        + ") d GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0"
    )
    + "; RETURN NULL; END $$",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_insert ON watchlists_match",
    "CREATE TRIGGER watchlists_matchcell_insert AFTER INSERT ON watchlists_match"
    " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION watchlists_matchcell_insert()",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_delete ON watchlists_match",
    "CREATE TRIGGER watchlists_matchcell_delete AFTER DELETE ON watchlists_match"
    " REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION watchlists_matchcell_delete()",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_update ON watchlists_match",
    "CREATE TRIGGER watchlists_matchcell_update AFTER UPDATE ON watchlists_match"
    " REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION watchlists_matchcell_update()",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_truncate ON watchlists_match",
    "CREATE TRIGGER watchlists_matchcell_truncate AFTER TRUNCATE ON watchlists_match"
    " FOR EACH STATEMENT EXECUTE FUNCTION watchlists_matchcell_truncate()",
    # The matches already here.
    "DELETE FROM watchlists_matchcell",
    _UPSERT.format(rows=_fold("watchlists_match", 1)),
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS watchlists_matchcell_insert ON watchlists_match",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_delete ON watchlists_match",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_update ON watchlists_match",
    "DROP TRIGGER IF EXISTS watchlists_matchcell_truncate ON watchlists_match",
    "DROP FUNCTION IF EXISTS watchlists_matchcell_insert()",
    "DROP FUNCTION IF EXISTS watchlists_matchcell_truncate()",
    "DROP FUNCTION IF EXISTS watchlists_matchcell_delete()",
    "DROP FUNCTION IF EXISTS watchlists_matchcell_update()",
    "DROP TABLE IF EXISTS watchlists_matchcell",
]


def _has_point_column(connection) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'watchlists_match' AND column_name = 'geom'"
        )
        return cursor.fetchone() is not None


def add_cells(apps, schema_editor):
    if not _has_point_column(schema_editor.connection):
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in FORWARD:
            cursor.execute(statement)


def drop_cells(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for statement in BACKWARD:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("watchlists", "0002_postgis_point_index")]

    operations = [migrations.RunPython(add_cells, drop_cells)]
