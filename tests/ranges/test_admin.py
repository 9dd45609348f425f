"""The admin of ranges and species: every registered model's pages load, maps show, geometry uploads are validated."""

import html
import json
import re

import pytest
import shapely
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ranges.geometry import clean_polygonal
from ranges.index_cache import data_version
from ranges.models import Contact, DataVersion, GeofenceEntry, RangePolygon, RangeSource, RegionOutline
from ranges.svg import geometry_svg
from species.models import SpeciesInfo, TaxonSynonym
from tests.factories import RegionFactory, TaxonFactory, UserFactory, box, contact, region, status

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


@pytest.fixture
def one_of_each():
    """A row for every model the ranges and species admins register."""
    taxon = TaxonFactory(scientific_name="Myocastor coypus", common_name="nutria")
    usa = region("USA", "country", (-125, 25, -66, 49), name="United States")
    louisiana = region("US-LA", "admin1", (-94, 29, -89, 33), parent=usa, name="Louisiana")
    status(taxon, louisiana, "invasive")
    RangePolygon.objects.create(
        taxon=taxon, origin="native", geometry=clean_polygonal(box(-70, -40, -55, -25)).wkb, source="test range"
    )
    GeofenceEntry.objects.create(taxon=taxon, region=usa, rule="allow", source="test geofence")
    contact(louisiana)
    TaxonSynonym.objects.create(taxon=taxon, name="Myopotamus coypus")
    SpeciesInfo.objects.create(taxon=taxon, summary="A large semi-aquatic rodent.")
    DataVersion.objects.get_or_create(key="ranges")
    RangeSource.objects.create(name="test range", absence_means_not_native=False, taxon_group="Aves")
    return taxon


def registered_models():
    return sorted(
        (m for m in admin.site._registry if m._meta.app_label in ("ranges", "species")), key=lambda m: m._meta.label
    )


def test_every_ranges_and_species_model_is_registered():
    labels = {m._meta.label for m in registered_models()}
    assert {
        "ranges.Region",
        "ranges.RangePolygon",
        "ranges.RegionalStatus",
        "ranges.GeofenceEntry",
        "ranges.Contact",
        "ranges.DataVersion",
        "species.Taxon",
        "species.TaxonSynonym",
        "species.SpeciesInfo",
    } <= labels


@pytest.mark.parametrize("model", registered_models(), ids=lambda m: m._meta.label)
def test_changelist_and_change_page_load(admin_client, one_of_each, model):
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    row = model.objects.order_by("pk").first()
    assert row is not None, f"no {opts.label} row to open"
    change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
    assert change.status_code == 200
    assert str(row).split(" (")[0][:20] in change.content.decode()


def embedded_map(page: str) -> dict:
    """The spec of the one Leaflet map on an admin page (rangemap.js draws it from this)."""
    (attribute,) = re.findall(r'class="rangemap rangemap-admin" data-rangemap="([^"]*)"', page)
    return json.loads(html.unescape(attribute))


def test_range_polygon_page_shows_its_map(admin_client, one_of_each):
    row = RangePolygon.objects.get()
    page = admin_client.get(reverse("admin:ranges_rangepolygon_change", args=[row.pk])).content.decode()
    spec = embedded_map(page)
    (layer,) = spec["layers"]
    (feature,) = layer["geojson"]["features"]
    assert layer["role"] == "range" and feature["properties"]["status"] == "native"
    assert shapely.geometry.shape(feature["geometry"]).bounds == pytest.approx((-70, -40, -55, -25))
    assert spec["config"]["outlinesUrl"].startswith("/api/v1/regions/geojson/?kind=country")
    # The vendored Leaflet and the map code load with the page; nothing from a CDN.
    assert "/static/leaflet/leaflet.js" in page and "/static/ranges/rangemap.js" in page
    assert "unpkg" not in page and "cdn" not in page.lower()
    # Inside the map box, the server-drawn SVG for browsers without JavaScript: the real outline.
    assert re.search(r'<path d="M-(70|55)\.0000,(40|25)\.0000 L', page)  # y is flipped in SVG
    assert "bounds -70.000, -40.000 – -55.000, -25.000; 5 vertices" in page


def test_group_region_page_shows_its_members(admin_client):
    group = RegionFactory(code="US-TEST", kind="group", name="Two states", geometry=b"")
    group.members.add(region("US-OH", "admin1", (-85, 38, -80, 42)), region("US-IN", "admin1", (-88, 38, -85, 42)))
    page = admin_client.get(reverse("admin:ranges_region_change", args=[group.pk])).content.decode()
    (feature,) = embedded_map(page)["layers"][0]["geojson"]["features"]
    assert shapely.geometry.shape(feature["geometry"]).bounds == pytest.approx((-88, 38, -80, 42))


def test_a_group_edited_in_the_admin_gets_its_members_outline(admin_client):
    ohio, indiana = region("US-OH", "admin1", (-85, 38, -80, 42)), region("US-IN", "admin1", (-88, 38, -85, 42))
    group = RegionFactory(code="US-TEST", kind="group", name="Two states", geometry=b"")
    form = {"kind": "group", "code": "US-TEST", "name": "Two states", "iso_a2": "", "source": "admin"}
    for members, bounds in (([ohio.pk, indiana.pk], (-88, 38, -80, 42)), ([ohio.pk], (-85, 38, -80, 42))):
        response = admin_client.post(
            reverse("admin:ranges_region_change", args=[group.pk]), {**form, "members": members}
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        outline = RegionOutline.objects.get(region=group, tolerance=0.01).geojson
        assert shapely.geometry.shape(json.loads(outline)).bounds == pytest.approx(bounds)


def test_svg_preview_draws_the_geometry_with_its_bounds():
    # format_html escapes its arguments to strings first: numbers must be formatted before it.
    svg = str(geometry_svg(box(-70, -40, -55, -25)))
    assert svg.startswith('<svg class="geometry-svg"') and 'viewBox="-70.7500 24.2500 16.5000 16.5000"' in svg
    assert re.search(r'<path d="M-?\d+\.0000,-?\d+\.0000( L-?\d+\.0000,-?\d+\.0000){4} Z"', svg)
    assert "bounds -70.000, -40.000 – -55.000, -25.000; 5 vertices" in svg
    assert str(geometry_svg(None)) == "<em>no geometry</em>"


def geojson_upload(coordinates, name="range.geojson"):
    body = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [coordinates]}}
        ],
    }
    return SimpleUploadedFile(name, json.dumps(body).encode(), content_type="application/geo+json")


def range_form(taxon, upload):
    return {
        "taxon": taxon.pk,
        "origin": "introduced",
        "presence": "extant",
        "geometry_file": upload,
        "source": "admin upload",
        "source_url": "",
        "source_key": "",
        "license": "",
    }


def test_self_intersecting_upload_is_repaired_with_a_message(admin_client, one_of_each):
    version = data_version()
    bowtie = [[-90, 30], [-80, 40], [-80, 30], [-90, 40], [-90, 30]]
    response = admin_client.post(
        reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, geojson_upload(bowtie))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    saved = RangePolygon.objects.get(source="admin upload")
    geom = shapely.from_wkb(bytes(saved.geometry))
    assert geom.is_valid and geom.area == pytest.approx(50)  # two triangles of the bow tie
    assert "Self-intersection" in saved.geometry_note
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("repaired" in t and "Self-intersection" in t for t in texts), texts
    assert data_version() > version  # every process rebuilds its index


def test_swapped_lat_lon_upload_is_rejected_with_the_reason(admin_client, one_of_each):
    # Alaska written as (lat, lon): "latitudes" of -160..-140 cannot be.
    swapped = [[55, -160], [65, -160], [65, -140], [55, -140], [55, -160]]
    response = admin_client.post(
        reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, geojson_upload(swapped))
    )
    assert response.status_code == 200  # the form again, with the error
    assert "lat/lon" in response.content.decode()
    assert not RangePolygon.objects.filter(source="admin upload").exists()


def test_unreadable_upload_is_rejected(admin_client, one_of_each):
    upload = SimpleUploadedFile("range.txt", b"not a geometry")
    response = admin_client.post(reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, upload))
    assert response.status_code == 200 and "range.txt: upload GeoJSON (.geojson or .json)" in response.content.decode()
    assert not RangePolygon.objects.filter(source="admin upload").exists()


def test_contact_admin_action_deactivates(admin_client, one_of_each):
    row = Contact.objects.get()
    response = admin_client.post(
        reverse("admin:ranges_contact_changelist"), {"action": "deactivate", "_selected_action": [row.pk]}
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert not row.is_active
