"""Watch lists at scale: generate N synthetic occurrences (real taxa and real points: each taxon
placed in regions where a register or range source lists it, natives and invaders worldwide), import
them (GBIF simple download, verdicts included), match them against 1,000 lists, then time the map
(tiles: MVT from PostGIS on PostgreSQL, the cells / points GeoJSON on SQLite) and match pages.

    RANGEWATCH_VAR_DIR=/tmp/bench python manage.py migrate && ... bootstrap --skip-model
    RANGEWATCH_VAR_DIR=/tmp/bench python bench/records.py --rows 1000000
    DATABASE_URL=postgis://postgres@127.0.0.1:5432/rw_bench python bench/records.py --rows 1000000

Runs against the database the settings point at; it adds a user "bench-records", its lists and
the dataset "bench-records" (removed first, so a re-run starts clean). Last line:
import_rows_per_s= match_rows_per_s= tile_p95_ms= matches_page_p95_ms= rows=
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")
# DEBUG keeps every statement in connection.queries: matching 10^7 records grew this process by
# 2 GB (the match inserts' arrays) and spent CPU formatting them. Production runs without it.
os.environ.setdefault("DJANGO_DEBUG", "False")

DATASET = "bench-records"
POINTS_PER_REGION = 400


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))] if ordered else float("nan")


def placements(rng: random.Random, max_regions: int = 400):
    """(taxon name, status, [points], taxon id) for taxon x country pairs the registers know: real points
    inside the real country polygons (rejection sampling in each one's bounding box)."""
    import numpy as np
    import shapely

    from ranges.models import Region, RegionalStatus

    rows = list(
        RegionalStatus.objects.filter(region__kind="country", taxon__rank="species")
        .exclude(region__geometry=b"")
        .order_by("pk")  # the same draw on every run with the same seed
        .values_list("taxon__scientific_name", "status", "region_id", "taxon_id")
    )
    if not rows:
        sys.exit("no regional statuses in this database: run `manage.py bootstrap` (and the README's imports) first")
    rng.shuffle(rows)
    invaders = [r for r in rows if r[1] != "native"]
    natives = [r for r in rows if r[1] == "native"]
    chosen = invaders[: max_regions // 2] + natives[: max_regions // 2]
    region_ids = {r[2] for r in chosen}
    pool = {}
    nrng = np.random.default_rng(rng.randrange(2**32))
    for pk, wkb in Region.objects.filter(pk__in=region_ids).values_list("pk", "geometry"):
        geom = shapely.from_wkb(bytes(wkb))
        shapely.prepare(geom)
        minx, miny, maxx, maxy = geom.bounds
        points = []
        for _ in range(20):
            xs = nrng.uniform(minx, maxx, POINTS_PER_REGION * 4)
            ys = nrng.uniform(miny, maxy, POINTS_PER_REGION * 4)
            inside = shapely.contains_xy(geom, xs, ys)
            points.extend(zip(xs[inside].round(5).tolist(), ys[inside].round(5).tolist()))
            if len(points) >= POINTS_PER_REGION:
                break
        if points:
            pool[pk] = points[:POINTS_PER_REGION]
    return [(name, status, pool[rid], taxon_id) for name, status, rid, taxon_id in chosen if rid in pool]


def write_download(path: Path, rows: int, choices, rng: random.Random) -> None:
    header = "gbifID\tdatasetKey\toccurrenceID\tspecies\tdecimalLatitude\tdecimalLongitude\teventDate\tlicense\n"
    with open(path, "w", encoding="utf-8") as out:
        out.write(header)
        for i in range(rows):
            name, _, points, _ = choices[rng.randrange(len(choices))]
            lon, lat = points[rng.randrange(len(points))]
            out.write(
                f"{i}\t{DATASET}\tbench:{i}\t{name}\t{lat}\t{lon}\t2024-{1 + i % 12:02d}-{1 + i % 28:02d}\tCC_BY_4_0\n"
            )


def make_lists(owner, choices, n: int, rng: random.Random):
    """n lists: a big one (Europe + the Mediterranean, invasive_here), then countries with a rule,
    drawn boxes around real points with taxa, and out-of-range lists."""
    from ranges.models import Region
    from watchlists.services import watch_list_create

    codes = list(Region.objects.filter(kind="country").exclude(geometry=b"").values_list("code", flat=True))
    big = watch_list_create(
        owner=owner,
        name="bench: Europe invaders",
        geometry={"type": "Polygon", "coordinates": [[[-25, 30], [45, 30], [45, 72], [-25, 72], [-25, 30]]]},
        rule="invasive_here",
        match_existing=False,
    )
    for i in range(n - 1):
        kind = i % 3
        if kind == 0:
            watch_list_create(
                owner=owner, name=f"bench {i}", regions=rng.sample(codes, 3), rule="invasive_here", match_existing=False
            )
        elif kind == 1:
            _, _, points, taxon_id = choices[rng.randrange(len(choices))]
            lon, lat = points[rng.randrange(len(points))]
            half = rng.uniform(0.5, 5)
            ring = [
                [lon - half, lat - half],
                [lon + half, lat - half],
                [lon + half, lat + half],
                [lon - half, lat + half],
            ]
            ring = [[max(-180, min(180, x)), max(-90, min(90, y))] for x, y in ring]
            watch_list_create(
                owner=owner,
                name=f"bench {i}",
                geometry={"type": "Polygon", "coordinates": [ring + [ring[0]]]},
                taxa=[str(taxon_id)],  # by id: a plant's name is not looked up among the animals
                match_existing=False,
            )
        else:
            watch_list_create(
                owner=owner, name=f"bench {i}", regions=rng.sample(codes, 2), rule="out_of_range", match_existing=False
            )
    return big


def match_all() -> int:
    """Every bench record against the lists, as a new list or a re-match does it (chunks of columns)."""
    from watchlists.matching import list_index, occurrences_match

    return occurrences_match(index=list_index(), dataset=DATASET).get("created", 0)


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def time_requests(big, owner, requests: int) -> tuple[list[float], list[float]]:
    """Tiles over the big list's records (zoom 2..12) and its match pages (first, cursor, filtered)."""
    from django.test import Client

    from watchlists.models import Match
    from watchlists.tiles import tiles_supported

    client = Client()
    client.force_login(owner)
    # Tiles over the big list's records, zoom 2..12, centred on real matched points.
    sample = list(Match.objects.filter(watch_list=big).order_by("?").values_list("longitude", "latitude")[:200])
    tile_ms = []
    for i in range(requests):
        lon, lat = sample[i % len(sample)] if sample else (4.35, 50.85)
        z = 2 + i % 11
        x, y = tile_xy(lon, lat, z)
        if tiles_supported():
            url = f"/api/v1/watchlists/{big.pk}/tiles/{z}/{x}/{y}.mvt"
        else:
            url = f"/api/v1/watchlists/{big.pk}/matches/map/?zoom={z}&bbox={lon - 360 / 2**z},{max(-90, lat - 170 / 2**z)},{lon + 360 / 2**z},{min(90, lat + 170 / 2**z)}"
        t = time.perf_counter()
        answer = client.get(url)
        tile_ms.append((time.perf_counter() - t) * 1000)
        assert answer.status_code in (200, 204), (url, answer.status_code, answer.content[:200])
    # Match pages: the first page, cursor pages after it, with filters an agency uses.
    page_ms, url = [], f"/api/v1/watchlists/{big.pk}/matches/?limit=50"
    for i in range(requests):
        t = time.perf_counter()
        answer = client.get(url)
        page_ms.append((time.perf_counter() - t) * 1000)
        assert answer.status_code == 200, answer.content[:300]
        following = answer.json().get("next")
        variants = [
            f"/api/v1/watchlists/{big.pk}/matches/?limit=50",
            f"/api/v1/watchlists/{big.pk}/matches/?limit=50&status=new",
            f"/api/v1/watchlists/{big.pk}/matches/?limit=50&view=new&seen=false",
        ]
        url = following if following and i % 4 else variants[i % 3]
    return tile_ms, page_ms


def server_cpu_s(connection) -> float | None:
    """CPU seconds the PostgreSQL server on this machine has used: every live process of it (the
    backends, the import's writer connection among them, and the background writer, checkpointer,
    WAL writer, autovacuum) and the children it has already reaped (from /proc). None elsewhere or
    on SQLite, whose work is in this process."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]

    def stat(p) -> list[str]:
        return Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()

    try:
        postmaster = int(stat(pid)[1])
        own = stat(postmaster)
        total = int(own[13]) + int(own[14])  # cutime + cstime: reaped children
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = stat(entry.name)
                except OSError:
                    continue
                if int(fields[1]) == postmaster:
                    total += int(fields[11]) + int(fields[12])  # utime + stime
    except OSError:
        return None
    return total / os.sysconf("SC_CLK_TCK")


def server_words(before: float | None, after: float | None, rows: int) -> str:
    if before is None or after is None:
        return ""
    return f", {after - before:.1f}s CPU of the PostgreSQL server ({(after - before) / rows * 1e6:.1f} µs per row)"


def database_size(engine: str, settings, connection) -> str:
    from watchlists.models import Occurrence, OccurrenceVerdict

    verdicts = f"{OccurrenceVerdict.objects.count():,} shared verdict rows"
    if engine == "sqlite":
        return f"{Path(settings.DATABASES['default']['NAME']).stat().st_size / 1e6:.0f} MB; {verdicts}"
    if engine == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(pg_database_size(current_database())),"
                " pg_size_pretty(pg_total_relation_size('watchlists_occurrence')),"
                " pg_total_relation_size('watchlists_occurrence'), pg_relation_size('watchlists_occurrence'),"
                " pg_size_pretty(pg_total_relation_size('watchlists_occurrenceverdict'))"
            )
            whole, occurrences, total, table, verdict_size = cursor.fetchone()
        rows = max(1, Occurrence.objects.count())
        return (
            f"{whole} (occurrences with their indexes: {occurrences}, {total / rows:.0f} bytes a row,"
            f" {table / rows:.0f} in the table alone; {verdicts}: {verdict_size})"
        )
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--lists", type=int, default=1000, help="0: the import alone")
    parser.add_argument("--requests", type=int, default=60, help="timed requests per kind")
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--time-only", action="store_true", help="time tiles and pages of the data a previous run left")
    parser.add_argument("--profile", metavar="PATH", help="write a cProfile of the import to PATH")
    parser.add_argument("--rerun", action="store_true", help="import the same file a second time (nothing to write)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from watchlists.importing import occurrences_import
    from watchlists.matching import list_index_clear
    from watchlists.models import Match, Occurrence, WatchList

    rng = random.Random(args.seed)
    owner, _ = get_user_model().objects.get_or_create(username="bench-records")
    if args.time_only:
        big = WatchList.objects.get(owner=owner, name="bench: Europe invaders")
        rows = Occurrence.objects.filter(dataset=DATASET).count()
        print(f"engine {connection.vendor}; {rows:,} rows; the big list holds {big.matches.count():,}", flush=True)
        tile_ms, page_ms = time_requests(big, owner, args.requests)
        print(f"tile_p95_ms={p95(tile_ms):.1f} matches_page_p95_ms={p95(page_ms):.1f} rows={rows}")
        return
    while Match.objects.filter(watch_list__owner=owner).exists():  # in slices, as the records below
        ids = list(Match.objects.filter(watch_list__owner=owner).values_list("pk", flat=True)[:50_000])
        Match.objects.filter(pk__in=ids).delete()
    WatchList.objects.filter(owner=owner).delete()
    while Occurrence.objects.filter(dataset=DATASET).exists():  # in slices: one huge DELETE holds the lock long
        ids = list(Occurrence.objects.filter(dataset=DATASET).values_list("pk", flat=True)[:50_000])
        Occurrence.objects.filter(pk__in=ids).delete()
    list_index_clear()
    engine = connection.vendor
    print(f"engine {engine}; rows {args.rows:,}; lists {args.lists}", flush=True)

    choices = placements(rng)
    print(f"{len(choices)} taxon x country placements", flush=True)
    # The range index and the taxon tree are built once per process (the first verdict builds them):
    # built here, so the import's figures are the import's alone.
    from ranges.index_cache import range_index
    from species.selectors import taxon_tree

    started = time.perf_counter()
    range_index(), taxon_tree()
    print(f"range index and taxon tree built in {time.perf_counter() - started:.1f}s (not in the import's figures)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-download.csv"
        started = time.perf_counter()
        write_download(path, args.rows, choices, rng)
        print(f"generated {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f}s", flush=True)
        started, cpu, server = time.perf_counter(), time.process_time(), server_cpu_s(connection)
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            report = profiler.runcall(occurrences_import, path=path)
            profiler.dump_stats(args.profile)
        else:
            report = occurrences_import(path=path)
        import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
        import_server = server_words(server, server_cpu_s(connection), args.rows)
        if args.rerun:  # the same file again: every row unchanged, nothing written
            again_started, again_cpu, server = time.perf_counter(), time.process_time(), server_cpu_s(connection)
            again = occurrences_import(path=path)
            again_s, again_cpu = time.perf_counter() - again_started, time.process_time() - again_cpu
            again_server = server_words(server, server_cpu_s(connection), args.rows)
            assert (again.created, again.updated, again.unchanged) == (0, 0, args.rows), again.as_dict()
            print(
                f"re-run of the same file: {again.as_dict()} in {again_s:.1f}s wall ({args.rows / again_s:.0f} rows/s),"
                f" {again_cpu / args.rows * 1e6:.1f} µs CPU per row{again_server}",
                flush=True,
            )
    assert report.created == args.rows, report.as_dict()
    # On a shared machine the wall clock mostly measures the others: this process's CPU seconds
    # say what the code costs (the database server's own CPU is not in it).
    print(
        f"import: {report.as_dict()} in {import_s:.1f}s wall, {import_cpu:.1f}s CPU of this process"
        f" ({args.rows / import_cpu:.0f} rows per CPU-second, {import_cpu / args.rows * 1e6:.1f} µs CPU per row"
        f"{import_server}; load average {os.getloadavg()[0]:.1f})",
        flush=True,
    )

    if args.lists == 0:  # the import alone (its cost at a size where matching would not fit the time at hand)
        print(
            f"cost: import {import_s:.0f}s, database {database_size(engine, settings, connection)}, "
            f"peak memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )
        print(
            f"import_rows_per_s={args.rows / import_s:.0f} match_rows_per_s=n/a tile_p95_ms=n/a "
            f"matches_page_p95_ms=n/a rows={args.rows}"
        )
        return
    started = time.perf_counter()
    big = make_lists(owner, choices, args.lists, rng)
    print(f"{args.lists} lists created in {time.perf_counter() - started:.1f}s", flush=True)
    started, cpu, server = time.perf_counter(), time.process_time(), server_cpu_s(connection)
    created = match_all()
    match_s, match_cpu = time.perf_counter() - started, time.process_time() - cpu
    match_server = server_words(server, server_cpu_s(connection), args.rows)
    big_matches = Match.objects.filter(watch_list=big).count()
    print(
        f"matching: {created:,} matches in {match_s:.1f}s wall, {match_cpu:.1f}s CPU of this process"
        f" ({args.rows / match_cpu:.0f} rows per CPU-second, {match_cpu / args.rows * 1e6:.1f} µs CPU per row"
        f"{match_server}); the big list holds {big_matches:,}",
        flush=True,
    )

    tile_ms, page_ms = time_requests(big, owner, args.requests)
    size = database_size(engine, settings, connection)
    print(
        f"cost: import {import_s:.0f}s, matching {match_s:.0f}s, database {size}, "
        f"peak memory of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        flush=True,
    )
    print(
        f"import_rows_per_s={args.rows / import_s:.0f} match_rows_per_s={args.rows / match_s:.0f} "
        f"tile_p95_ms={p95(tile_ms):.1f} matches_page_p95_ms={p95(page_ms):.1f} rows={args.rows}"
    )


if __name__ == "__main__":
    main()
