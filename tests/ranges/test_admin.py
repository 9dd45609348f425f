"""The admin of ranges and species: every registered model's pages load, geometry uploads are validated."""
import json

import pytest
import shapely
from django.contrib import admin
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from ranges.geometry import clean_polygonal
from ranges.models import Contact, DataVersion, GeofenceEntry, RangePolygon
from ranges.selectors import data_version
from species.models import SpeciesInfo, TaxonSynonym
from tests.factories import TaxonFactory, UserFactory, box, contact, region, status

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
    RangePolygon.objects.create(taxon=taxon, origin="native", geometry=clean_polygonal(box(-70, -40, -55, -25)).wkb, source="test range")
    GeofenceEntry.objects.create(taxon=taxon, region=usa, rule="allow", source="test geofence")
    contact(louisiana)
    TaxonSynonym.objects.create(taxon=taxon, name="Myopotamus coypus")
    SpeciesInfo.objects.create(taxon=taxon, summary="A large semi-aquatic rodent.")
    DataVersion.objects.get_or_create(key="ranges")
    return taxon


def registered_models():
    return sorted((m for m in admin.site._registry if m._meta.app_label in ("ranges", "species")), key=lambda m: m._meta.label)


def test_every_ranges_and_species_model_is_registered():
    labels = {m._meta.label for m in registered_models()}
    assert {"ranges.Region", "ranges.RangePolygon", "ranges.RegionalStatus", "ranges.GeofenceEntry", "ranges.Contact", "ranges.DataVersion", "species.Taxon", "species.TaxonSynonym", "species.SpeciesInfo"} <= labels


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


def test_region_change_page_shows_an_svg_preview(admin_client, one_of_each):
    row = RangePolygon.objects.get()
    page = admin_client.get(reverse("admin:ranges_rangepolygon_change", args=[row.pk])).content.decode()
    assert "<svg" in page


def geojson_upload(coordinates, name="range.geojson"):
    body = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [coordinates]}}]}
    return SimpleUploadedFile(name, json.dumps(body).encode(), content_type="application/geo+json")


def range_form(taxon, upload):
    return {"taxon": taxon.pk, "origin": "introduced", "presence": "extant", "geometry_file": upload, "source": "admin upload", "source_url": "", "source_key": "", "license": ""}


def test_self_intersecting_upload_is_repaired_with_a_message(admin_client, one_of_each):
    version = data_version()
    bowtie = [[-90, 30], [-80, 40], [-80, 30], [-90, 40], [-90, 30]]
    response = admin_client.post(reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, geojson_upload(bowtie)))
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
    response = admin_client.post(reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, geojson_upload(swapped)))
    assert response.status_code == 200  # the form again, with the error
    assert "lat/lon" in response.content.decode()
    assert not RangePolygon.objects.filter(source="admin upload").exists()


def test_unreadable_upload_is_rejected(admin_client, one_of_each):
    upload = SimpleUploadedFile("range.txt", b"not a geometry")
    response = admin_client.post(reverse("admin:ranges_rangepolygon_add"), range_form(one_of_each, upload))
    assert response.status_code == 200 and "upload a .geojson" in response.content.decode()
    assert not RangePolygon.objects.filter(source="admin upload").exists()


def test_contact_admin_action_deactivates(admin_client, one_of_each):
    row = Contact.objects.get()
    response = admin_client.post(reverse("admin:ranges_contact_changelist"), {"action": "deactivate", "_selected_action": [row.pk]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert not row.is_active
