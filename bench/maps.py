"""Map payload benchmark: size and time of the range GeoJSON (full and display forms) and the base map.

Runs against the database the settings point at (e.g. RANGEWATCH_VAR_DIR=var after `scripts/run` and the
README's imports); each request goes through the real URL, view and renderer (Django's test client).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.local")
# One client asking for every map twice: not the anonymous visitor the throttle is for.
os.environ.setdefault("RANGEWATCH_MAP_ANON_RATE", "1000000/minute")

TAXA = ["Sciurus carolinensis", "Vulpes vulpes", "Myocastor coypus", "Loxodonta africana", "Rattus norvegicus"]
# What the pages ask for (ranges/maps.py): the species page at ~5 km, the result card at ~10 km.
DISPLAY_SIMPLIFY = (0.05, 0.1)


def fetch(client, url: str) -> tuple[int, int, float]:
    """(JSON bytes, bytes on the wire, seconds) of one GET as a browser sends it; the response must be 200."""
    started = time.perf_counter()
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate")
    seconds = time.perf_counter() - started
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    wire = response.content
    body = gzip.decompress(wire) if response.get("Content-Encoding") == "gzip" else wire
    return len(body), len(wire), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--taxa", nargs="*", default=TAXA)
    parser.add_argument("--simplify", type=float, nargs="*", default=DISPLAY_SIMPLIFY)
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.cache import caches
    from django.test import Client

    from species.models import Taxon

    caches["maps"].clear()  # cold numbers first, then the same request again (warm)
    client = Client()
    print(f"{'request':62s} {'JSON KB':>9s} {'wire KB':>9s} {'cold s':>8s} {'warm s':>8s}")
    urls = []
    for name in args.taxa:
        taxon = Taxon.objects.filter(scientific_name=name).order_by("pk").first()
        if taxon is None:
            print(f"{name}: not in this database (import the data first)")
            continue
        urls.append((f"{name}: range, default", f"/api/v1/species/{taxon.pk}/range/"))
        urls += [
            (f"{name}: range, ?simplify={tolerance}", f"/api/v1/species/{taxon.pk}/range/?simplify={tolerance}")
            for tolerance in args.simplify
        ]
    urls.append(("base map: countries, ?simplify=0.2", "/api/v1/regions/geojson/?kind=country&simplify=0.2"))
    # What the map flood of bench/load.py asks for: 20 countries (the largest outlines here), finest and base-map forms.
    from django.db.models.functions import Length

    from ranges.models import RegionOutline

    stored = RegionOutline.objects.filter(region__kind="country", tolerance=0.01).annotate(n=Length("geojson"))
    big = list(stored.order_by("-n").values_list("region__code", flat=True)[:20])
    if big:
        for tolerance in (0.01, 0.2):
            urls.append(
                (
                    f"20 largest countries, ?simplify={tolerance}",
                    f"/api/v1/regions/geojson/?codes={','.join(big)}&simplify={tolerance}",
                )
            )
    for label, url in urls:
        size, wire, cold = fetch(client, url)
        _, _, warm = fetch(client, url)
        print(f"{label:62s} {size / 1000:9.1f} {wire / 1000:9.1f} {cold:8.3f} {warm:8.3f}")


if __name__ == "__main__":
    main()
