"""Verdict benchmark over the imported ../shared/data: index build, memory, latency, throughput vs naive and sjoin."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")

# Every data set in ../shared/data, in dependency order (regions before the data placed on them).
IMPORTS = [
    ("natural-earth", sorted((SHARED / "geo" / "natural_earth").glob("*.json"))),
    ("us-census", [SHARED / "geo" / "us_census_states" / "cb_2020_us_state_500k.zip"]),
    (
        "speciesnet-taxonomy",
        [
            SHARED / "speciesnet" / "taxonomy_release.txt",
            SHARED / "speciesnet" / "always_crop_99710272_22x8_v12_epoch_00148.labels.txt",
        ],
    ),
    ("mdd", [SHARED / "ranges" / "mdd_mammal_native_countries"]),
    # GRIIS creates the taxa of every kingdom it names, so US-RIIS (which only matches names) comes after it.
    (
        "griis",
        [SHARED / "invasive" / "griis_belgium" / "griis_belgium.csv", SHARED / "invasive" / "belgium_alien_mammals"],
    ),
    ("griis", [SHARED / "invasive" / "griis_countries"]),
    ("griis-areas", [SHARED / "invasive" / "griis_subnational"]),
    # After the taxonomies and GRIIS, so birds and amphibians land on the taxa they created.
    ("native-countries", [SHARED / "ranges" / "birds_native_countries", SHARED / "ranges" / "amphibians_countries"]),
    # US-RIIS only matches names: last, so the birds native-countries creates (Horornis diphone) are
    # matched on the first run, not only on a second one.
    ("us-riis", [SHARED / "invasive" / "us_riis"]),
    ("speciesnet-geofence", [SHARED / "speciesnet" / "geofence_fixes.csv"]),
]

# The real answers the product must keep giving (name, taxon, lon, lat, expected status).
REAL_ANSWERS = [
    ("nutria in Louisiana", "Myocastor coypus", -91.1, 30.5, "invasive"),
    ("nutria in Argentina", "Myocastor coypus", -60.0, -34.0, "native"),
    ("wild boar in Germany", "Sus scrofa", 10.0, 51.0, "native"),
    ("wild boar in Hawaii", "Sus scrofa", -155.5, 19.6, "invasive"),
    ("eastern grey squirrel in Ohio", "Sciurus carolinensis", -82.9, 40.0, "native"),
    (
        "eastern grey squirrel in Washington",
        "Sciurus carolinensis",
        -120.5,
        47.4,
        "introduced",
    ),  # the starter pack documents its introduction in WA, OR, CA
    ("bobcat in Spain", "Lynx rufus", -3.7, 40.4, "out_of_range"),
    # US-RIIS lists it as Herpestes javanicus: the synonym must land on MDD's accepted name
    ("small Asian mongoose in Hawaii", "Urva auropunctata", -155.1, 19.7, "invasive"),
    # GRIIS national checklists (issue 14)
    ("red fox in Australia", "Vulpes vulpes", 146.0, -36.0, "invasive"),
    ("European rabbit in Australia", "Oryctolagus cuniculus", 135.0, -30.0, "invasive"),
    ("dromedary in Australia", "Camelus dromedarius", 132.0, -25.0, "invasive"),
    ("donkey in Australia", "Equus asinus", 130.0, -17.0, "invasive"),
    ("feral pig in Australia", "Sus scrofa", 145.0, -17.0, "invasive"),
    ("nutria in Italy", "Myocastor coypus", 12.5, 41.9, "invasive"),
    ("eastern grey squirrel in Great Britain", "Sciurus carolinensis", -1.3, 52.0, "invasive"),
    ("ring-necked parakeet in Great Britain", "Psittacula krameri", -0.1, 51.5, "invasive"),
    ("brushtail possum in New Zealand", "Trichosurus vulpecula", 175.0, -39.0, "invasive"),
    ("red deer in New Zealand", "Cervus elaphus", 170.5, -44.0, "invasive"),
    ("North American beaver in Tierra del Fuego", "Castor canadensis", -67.7, -54.3, "invasive"),
    ("Nile perch in Uganda", "Lates niloticus", 33.0, 1.0, "invasive"),
]

TAXA = [
    "Myocastor coypus",
    "Sus scrofa",
    "Sciurus carolinensis",
    "Lynx rufus",
    "Procyon lotor",
    "Vulpes vulpes",
    "Rattus norvegicus",
    "Nullus datus",
]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def process_rss(role: str) -> None:
    """Child mode (`--rss-of web|worker`): start up as that process does, answer once, print VmRSS.
    web: the WSGI application, its range index warmed (backend/serve.py, gunicorn.conf.py), one
    /api/v1/check/ answered; worker: the inference worker's warm-up (the range index and the active
    model, classifier.inference.warm_up), then one answer named and judged at a point."""
    import django

    django.setup()
    if role == "web":
        import logging

        from django.core.wsgi import get_wsgi_application
        from django.test import Client

        from ranges.index_cache import range_index_warm

        get_wsgi_application()
        range_index_warm(logging.getLogger("bench"))
        Client().get("/api/v1/check/", {"lat": -2.33, "lon": 34.83, "taxon": "Loxodonta africana"})
    else:
        from classifier.inference import warm_up
        from ranges.at_point import identify_here

        warm_up()
        identify_here(taxon_scores={"Loxodonta africana": 0.9}, lon=34.83, lat=-2.33)
    print(f"rss_mb={rss_mb():.0f}")


def processes_rss() -> dict[str, float]:
    """RSS of a fresh web process and a fresh inference worker, each measured in its own process."""
    import subprocess

    found = {}
    for role in ("web", "worker"):
        run = subprocess.run(
            [sys.executable, __file__, "--rss-of", role], capture_output=True, text=True, timeout=600, check=False
        )
        line = [x for x in run.stdout.splitlines() if x.startswith("rss_mb=")]
        found[role] = float(line[-1].split("=")[1]) if line else float("nan")
        if not line:
            print(f"{role}: no RSS ({run.stderr.strip().splitlines()[-1:]})")
    return found


def import_all(rounds: int) -> None:
    from ranges.importers import ImportConfig, data_import

    for round_no in range(1, rounds + 1):
        total = 0.0
        for fmt, paths in IMPORTS:
            report = data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False))
            total += report.seconds
            print(
                f"import round {round_no}: {fmt:20s} {report.seconds:6.1f}s  changed {report.changed:6d}  unchanged {sum(report.unchanged.values()):6d}  rejected {sum(report.rejected.values()):5d}  unmatched {len(report.unmatched):6d}"
            )
        print(f"import round {round_no}: total {total:.1f}s")


def sample_points(index, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """95 % on land (inside some country), 5 % anywhere (coasts, sea: the snapping path)."""
    lons, lats = [], []
    while len(lons) < n * 0.95:
        x, y = rng.uniform(-170, 180, 4000), rng.uniform(-55, 70, 4000)
        hits = index.regions_at_many(x, y)
        keep = [i for i, h in enumerate(hits) if h and not h[0].snapped]
        lons.extend(x[keep]), lats.extend(y[keep])
    lons, lats = lons[: int(n * 0.95)], lats[: int(n * 0.95)]
    rest = n - len(lons)
    lons.extend(rng.uniform(-180, 180, rest)), lats.extend(rng.uniform(-60, 75, rest))
    order = rng.permutation(n)
    return np.asarray(lons)[order], np.asarray(lats)[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--import",
        dest="do_import",
        type=int,
        default=0,
        metavar="ROUNDS",
        help="first import all of ../shared/data this many times",
    )
    parser.add_argument("--points", type=int, default=20000)
    parser.add_argument("--rss-of", choices=["web", "worker"], help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-processes", action="store_true", help="skip the RSS of a fresh web process and inference worker"
    )
    args = parser.parse_args()
    if args.rss_of:
        process_rss(args.rss_of)
        return

    import django

    django.setup()
    import geopandas
    import shapely

    from ranges.index_cache import build_range_index
    from ranges.range_index import RegionHit
    from ranges.verdict import verdict, verdict_at_hits, verdicts_many

    if args.do_import:
        import_all(args.do_import)

    rss_before = rss_mb()
    started = time.perf_counter()
    index = build_range_index()
    build_s = time.perf_counter() - started
    rss = rss_mb()
    print(
        f"index: {len(index.regions)} regions, {len(index.statuses)} statuses, {len(index.ranges)} range polygons, {len(index.geofence)} geofence rules"
    )

    wrong = 0
    for name, taxon, lon, lat, expected in REAL_ANSWERS:
        got = verdict(taxon, lon, lat, index)
        wrong += got.status != expected
        print(
            f"real answer: {name:38s} {got.status:13s} {'ok' if got.status == expected else 'WRONG, expected ' + expected}  ({', '.join(got.region_codes)}; {'; '.join(src['name'] for src in got.sources[:2])})"
        )

    rng = np.random.default_rng(7)
    lons, lats = sample_points(index, args.points, rng)
    taxa = [TAXA[i % len(TAXA)] for i in range(args.points)]

    for i in range(200):  # warm up prepared geometries and caches
        verdict(taxa[i], lons[i], lats[i], index)
    latencies = np.empty(args.points)
    singles = [None] * args.points
    for i in range(args.points):
        t0 = time.perf_counter_ns()
        found = verdict(taxa[i], lons[i], lats[i], index)
        latencies[i] = (time.perf_counter_ns() - t0) / 1000
        singles[i] = found
    p50, p99 = np.percentile(latencies, [50, 99])

    # Vectorised, cold: the per-index caches (region sets, verdicts per taxon and region set) are
    # emptied first, as after a data change; then warm, as in a running process.
    for cache in ("_combos", "_verdict_cache"):
        getattr(index, cache, {}).clear()
    t0 = time.perf_counter()
    cold = verdicts_many(taxa, lons, lats, index)
    vec_rate = args.points / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    warm = verdicts_many(taxa, lons, lats, index)
    warm_rate = args.points / (time.perf_counter() - t0)
    assert singles == cold == warm, "verdicts_many disagrees with verdict"

    # Naive: a Python loop over every region polygon (not prepared, no tree), then the same rules.
    from ranges.range_index import KINDS_MOST_SPECIFIC_FIRST

    order = {k: i for i, k in enumerate(KINDS_MOST_SPECIFIC_FIRST)}
    plain = [
        (r, shapely.from_wkb(shapely.to_wkb(g)))
        for r, g in zip(index.regions, index.region_geometries)
        if g is not None and not g.is_empty
    ]
    n_naive = 300
    t0 = time.perf_counter()
    for i in range(n_naive):
        point = shapely.Point(lons[i], lats[i])
        hits = sorted((RegionHit(r) for r, g in plain if g.contains(point)), key=lambda h: order[h.region.kind])
        verdict_at_hits(taxa[i], lons[i], lats[i], hits, index)
    naive_rate = n_naive / (time.perf_counter() - t0)

    # geopandas.sjoin: points within regions, grouped per point, then the same rules.
    frame = geopandas.GeoDataFrame({"i": range(len(plain))}, geometry=[g for _, g in plain], crs=4326)
    t0 = time.perf_counter()
    pts = geopandas.GeoDataFrame({"p": range(args.points)}, geometry=geopandas.points_from_xy(lons, lats), crs=4326)
    joined = geopandas.sjoin(pts, frame, predicate="within", how="left")
    per_point: dict[int, list] = {}
    for p, r in zip(joined["p"].to_numpy(), joined["i"].to_numpy()):
        if r == r:
            per_point.setdefault(int(p), []).append(RegionHit(plain[int(r)][0]))
    for i in range(args.points):
        hits = sorted(per_point.get(i, []), key=lambda h: order[h.region.kind])
        verdict_at_hits(taxa[i], lons[i], lats[i], hits, index)
    sjoin_rate = args.points / (time.perf_counter() - t0)

    print()
    print("| measure | value |")
    print("| --- | --- |")
    print(f"| index build | {build_s:.2f} s |")
    print(f"| resident memory (after build; before {rss_before:.0f} MB) | {rss:.0f} MB |")
    print(f"| single verdict p50 / p99 | {p50:.1f} / {p99:.1f} µs |")
    print(f"| vectorised verdicts (verdicts_many), cold caches / warm | {vec_rate:,.0f} / {warm_rate:,.0f} /s |")
    print(f"| naive loop over polygons + same rules | {naive_rate:,.0f} /s |")
    print(f"| geopandas.sjoin + same rules | {sjoin_rate:,.0f} /s |")
    print(f"real answers: {len(REAL_ANSWERS) - wrong}/{len(REAL_ANSWERS)} as expected")
    if not args.no_processes:
        rss_of = processes_rss()
        print(
            f"| RSS of a web process / an inference worker after start-up (target ≤ 400 MB each) | {rss_of['web']:.0f} / {rss_of['worker']:.0f} MB |"
        )
        print(f"web_rss_mb={rss_of['web']:.0f} worker_rss_mb={rss_of['worker']:.0f}")
    print(
        f"verdict_p99_us={p99:.0f} build_s={build_s:.2f} rss_mb={rss:.0f} vs_naive={warm_rate / naive_rate:.0f} vs_sjoin={warm_rate / sjoin_rate:.1f} vs_naive_cold={vec_rate / naive_rate:.0f} vs_sjoin_cold={vec_rate / sjoin_rate:.1f}"
    )


if __name__ == "__main__":
    main()
