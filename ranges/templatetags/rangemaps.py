"""Template tags of pages with a map: `{% rangemap_assets %}` in the head, `{% rangemap_config %}` once."""

from django import template
from django.utils.html import json_script

from ranges.maps import map_assets, map_config

register = template.Library()


@register.simple_tag
def rangemap_assets():
    return map_assets()


@register.simple_tag
def rangemap_config():
    """The map settings as <script type="application/json" id="rangemap-config">, read by rangemap.js."""
    return json_script(map_config(), "rangemap-config")


@register.filter
def is_web_link(url) -> bool:
    """Only http(s) sources become links: a register's URL field may hold anything (javascript:, a DOI string)."""
    return isinstance(url, str) and url.startswith(("https://", "http://"))
