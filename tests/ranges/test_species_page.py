"""The species page /species/<id>/: names, facts, where the taxon is native or alien, and its map."""

import html
import json
import re

import pytest

from ranges.maps import map_config
from species.models import SpeciesInfo
from tests.factories import TaxonFactory, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def nutria():
    taxon = TaxonFactory(scientific_name="Myocastor coypus", common_name="nutria")
    status(taxon, region("ARG", "country", (-73, -55, -53, -22), name="Argentina"), "native")
    status(taxon, region("US-LA", "admin1", (-94, 29, -89, 33), name="Louisiana"), "invasive", source="US-RIIS")
    SpeciesInfo.objects.create(
        taxon=taxon,
        summary="A large semi-aquatic rodent.",
        sources=["https://example.org/nutria", "javascript:alert(1)"],
    )
    return taxon


def page_of(client, taxon):
    response = client.get(f"/species/{taxon.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_names_facts_and_where_it_is_native_or_alien(client, nutria):
    page = " ".join(page_of(client, nutria).split())  # the template's line breaks aside
    assert "<h1" in page and "nutria" in page and "<em>Myocastor coypus</em>" in page
    assert "A large semi-aquatic rodent." in page
    assert "Native in 1 region; recorded as alien (introduced or invasive) in 1 region." in page
    native, alien = page.split("Native in</h2>")[1].split("Recorded as alien in</h2>")
    assert "Argentina" in native and "Louisiana" not in native
    assert "Louisiana" in alien and "invasive" in alien and "US-RIIS" in alien
    # Only web links become links: a javascript: URL from the data stays text.
    assert 'href="https://example.org/nutria"' in page and 'href="javascript:' not in page


def test_the_map_loads_the_display_form_of_the_range(client, nutria):
    page = page_of(client, nutria)
    (attribute,) = re.findall(r'id="species-map" class="rangemap" data-rangemap="([^"]*)"', page)
    (layer,) = json.loads(html.unescape(attribute))["layers"]
    assert layer == {"role": "range", "url": f"/api/v1/species/{nutria.pk}/range/?simplify=0.05"}
    assert client.get(layer["url"]).json()["features"]  # the URL the map fetches answers with the range
    # Vendored Leaflet and the map code, and the map settings for rangemap.js.
    assert (
        "/static/leaflet/leaflet.css" in page
        and "/static/leaflet/leaflet.js" in page
        and "/static/ranges/rangemap.js" in page
    )
    (config,) = re.findall(r'<script id="rangemap-config" type="application/json">(.*?)</script>', page)
    assert json.loads(config) == map_config()


def test_a_tile_layer_only_when_configured(client, nutria, settings):
    assert map_config()["tileUrl"] == ""  # the default: the project's own outlines, no tile server
    settings.RANGEWATCH_MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    settings.RANGEWATCH_MAP_TILE_ATTRIBUTION = "© Example tiles"
    page = page_of(client, nutria)
    (config,) = re.findall(r'<script id="rangemap-config" type="application/json">(.*?)</script>', page)
    assert json.loads(config)["tileUrl"] == "https://tiles.example.org/{z}/{x}/{y}.png"
    assert json.loads(config)["tileAttribution"] == "© Example tiles"


def test_a_taxon_without_range_data_says_so(client):
    genus = TaxonFactory(scientific_name="Loxodonta", rank="genus")
    assert "No range data for this genus yet." in " ".join(page_of(client, genus).split())


def test_unknown_taxon_is_404(client):
    assert client.get("/species/999999/").status_code == 404
