"""A server-side SVG preview of a geometry: works without JavaScript; the admin's Leaflet map replaces it."""

from __future__ import annotations

import shapely
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe


def geometry_svg(geom, *, width: int = 360, height: int = 220) -> SafeString:
    """An <svg> of the geometry in lon/lat (y flipped), simplified to the preview's pixel size."""
    if geom is None or geom.is_empty:
        return mark_safe("<em>no geometry</em>")
    minx, miny, maxx, maxy = geom.bounds
    span = max(maxx - minx, maxy - miny, 1e-6)
    simple = shapely.simplify(geom, span / max(width, height), preserve_topology=True)
    pad = span * 0.05
    path = []
    for poly in getattr(simple, "geoms", [simple]):
        for ring in [poly.exterior, *poly.interiors] if poly.geom_type == "Polygon" else []:
            coords = shapely.get_coordinates(ring)
            path.append("M" + " L".join(f"{x:.4f},{-y:.4f}" for x, y in coords) + " Z")
    view = f"{minx - pad:.4f} {-maxy - pad:.4f} {maxx - minx + 2 * pad:.4f} {maxy - miny + 2 * pad:.4f}"
    # Numbers are formatted here, not in format_html: it escapes its arguments into strings first,
    # so a "{:.3f}" there raises on the string.
    caption = f"bounds {minx:.3f}, {miny:.3f} – {maxx:.3f}, {maxy:.3f}; {shapely.get_num_coordinates(geom)} vertices"
    return format_html(
        '<svg class="geometry-svg" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="{}"'
        ' style="background:#eef4f8;border:1px solid #ccc">'
        '<path d="{}" fill="#6a9f58" fill-opacity="0.6" stroke="#2d5a27" stroke-width="{}" fill-rule="evenodd"/></svg>'
        '<div style="font-size:11px;color:#666">{}</div>',
        width,
        height,
        view,
        " ".join(path),
        f"{span / 300:.5f}",
        caption,
    )
