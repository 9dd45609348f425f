"""On PostgreSQL with PostGIS: a generated point column on the matches and a GiST index on
(list, point) for the map's vector tiles (watchlists.tiles). Elsewhere (SQLite, PostgreSQL without
PostGIS) nothing changes: the latitude / longitude columns and their composite index serve."""

import logging

from django.db import migrations, transaction

log = logging.getLogger(__name__)

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS postgis",
    "CREATE EXTENSION IF NOT EXISTS btree_gist",
    "ALTER TABLE watchlists_match ADD COLUMN IF NOT EXISTS geom geometry(Point, 4326)"
    " GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(longitude, latitude), 4326)) STORED",
    "CREATE INDEX IF NOT EXISTS watchlists_match_list_geom_gist ON watchlists_match USING gist (watch_list_id, geom)",
]


def add_postgis(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        if cursor.fetchone() is None:
            log.warning("PostGIS is not installed: the watch-list map serves GeoJSON, not vector tiles")
            return
    try:
        with transaction.atomic(using=connection.alias):  # a savepoint: a refusal leaves the migration running
            with connection.cursor() as cursor:
                for statement in FORWARD:
                    cursor.execute(statement)
    except Exception as exc:  # noqa: BLE001 - e.g. no right to CREATE EXTENSION: say so, keep going
        log.warning("PostGIS point index not added (%s): the map serves GeoJSON", exc)


def drop_postgis(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS watchlists_match_list_geom_gist")
        cursor.execute("ALTER TABLE watchlists_match DROP COLUMN IF EXISTS geom")


class Migration(migrations.Migration):
    dependencies = [("watchlists", "0001_watch_lists_occurrences_matches")]

    operations = [migrations.RunPython(add_postgis, drop_postgis)]
