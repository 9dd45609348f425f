"""Maps on server-rendered pages: the settings rangemap.js reads, and a read-only map of one geometry."""

from __future__ import annotations

import json

from django.conf import settings
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from ranges.geojson import feature_collection, map_feature, preview_tolerance
from ranges.svg import geometry_svg

# The outlines under every map when no tile layer is set: all countries at ~20 km, 120 kB gzipped.
BASE_MAP_SIMPLIFY = 0.2
# The display forms of a range (bench/maps.py): ~5 km on the species page, a map made to be looked at
# (a third of the API's default size); ~10 km on the phone's result card (a fifth).
SPECIES_PAGE_SIMPLIFY = 0.05
RESULT_CARD_SIMPLIFY = 0.1

# The static files a page with a map loads (vendored Leaflet, then the project's map code).
MAP_CSS = ("leaflet/leaflet.css", "ranges/rangemap.css")
MAP_JS = ("leaflet/leaflet.js", "ranges/rangemap.js")


def map_config() -> dict:
    """What rangemap.js needs to draw the base of a map."""
    return {
        "tileUrl": settings.RANGEWATCH_MAP_TILE_URL,
        "tileAttribution": settings.RANGEWATCH_MAP_TILE_ATTRIBUTION,
        "outlinesUrl": f"{reverse('region-geojson')}?kind=country&simplify={BASE_MAP_SIMPLIFY}",
        "regionsUrl": reverse("region-geojson"),
        "cardSimplify": RESULT_CARD_SIMPLIFY,
    }


def map_assets() -> SafeString:
    """The <link> and <script> tags of a page with a map."""
    css = format_html_join("\n", '<link rel="stylesheet" href="{}">', ((static(path),) for path in MAP_CSS))
    js = format_html_join("\n", '<script src="{}"></script>', ((static(path),) for path in MAP_JS))
    return format_html("{}\n{}", css, js)


def geometry_map(geom, *, role: str, status: str = "", label: str = "") -> SafeString:
    """A read-only Leaflet map of one geometry (the admin's region and range pages), drawn from the
    GeoJSON embedded in the element. Its SVG preview stays inside for browsers without JavaScript."""
    if geom is None or geom.is_empty:
        return mark_safe("<em>no geometry</em>")
    feature = map_feature(geometry=geom, tolerance=preview_tolerance(geom), kind=role, status=status, name=label)
    spec = {
        "config": map_config(),
        "layers": [{"role": role, "geojson": feature_collection([feature] if feature else [])}],
    }
    return format_html(
        '<div class="rangemap rangemap-admin" data-rangemap="{}">{}</div>', json.dumps(spec), geometry_svg(geom)
    )
