"""Geoprivacy (DESIGN §8): docs/reliability.md R16-R18; per taxon × region; the observer's choice."""

import io

import pytest
from rest_framework.test import APIClient

from community.dwca import dwca_write
from observations.geoprivacy import generalise, strictest
from observations.models import TaxonRegionSensitivity
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db
EXACT = (7.123456, 2.654321)


def test_generalise_snaps_to_the_cell_centre():
    assert (generalise(*EXACT, "0.1").latitude, generalise(*EXACT, "0.1").longitude) == (7.15, 2.65)
    assert (generalise(*EXACT, "1").latitude, generalise(*EXACT, "1").longitude) == (7.5, 2.5)
    assert (generalise(-0.01, -0.01, "0.01").latitude, generalise(-0.01, -0.01, "0.01").longitude) == (-0.005, -0.005)
    withheld = generalise(*EXACT, "withhold")
    assert withheld.latitude is None and withheld.information_withheld
    assert generalise(*EXACT, "none").latitude == EXACT[0]
    assert strictest(["none", "0.01", "1", "0.1"]) == "1" and strictest(["0.1", "withhold"]) == "withhold"


def _export_rows():
    from dwca.read import DwCAReader

    buf = io.BytesIO()
    dwca_write(buf)
    path = "/tmp/rangewatch-geoprivacy-test.zip"
    with open(path, "wb") as fh:
        fh.write(buf.getvalue())
    with DwCAReader(path) as archive:
        return [row.data for row in archive]


def _feed_location(observation):
    return APIClient().get(f"/api/v1/feed/{observation.uuid}/").data["location"]


def test_r16_sensitive_taxon_in_top_k_generalised_on_every_public_surface(
    users, geo, taxa, model_version, caplog, eager_celery, django_capture_on_commit_callbacks
):
    taxa["rarus"].sensitivity = "0.1"
    taxa["rarus"].save()
    from tests.factories import contact

    hotline = contact(geo["county"], "Lake County Hotline", "invasive_species_hotline")
    hotline.email = "hotline@example.org"
    hotline.save()
    # The model's best guess is an invasive species; the sensitive one is only second in the top-k.
    with django_capture_on_commit_callbacks(execute=True):
        observation = classified(
            users["alice"], *EXACT, [("Testus invasor", 0.95), ("Testus rarus", 0.04)], model_version
        )
    feed = APIClient().get("/api/v1/feed/").data["results"][0]["location"]
    assert (
        (feed["latitude"], feed["longitude"]) == (7.15, 2.65) and feed["generalised"] and feed["data_generalizations"]
    )
    assert _feed_location(observation)["latitude"] == 7.15
    row = _export_rows()[0]
    assert row["http://rs.tdwg.org/dwc/terms/decimalLatitude"] == "7.15"
    assert "0.1°" in row["http://rs.tdwg.org/dwc/terms/dataGeneralizations"]
    # Logs are public too: the alert log line carries the generalised point, never the exact one.
    assert "7.15" in caplog.text and "7.123456" not in caplog.text and "2.654321" not in caplog.text
    # The hotline (not an agency) gets the generalised point in its alert; the owner sees it exact.
    from alerts.models import AlertDelivery

    delivery = AlertDelivery.objects.get()
    assert delivery.payload["observation"]["location"]["latitude"] == 7.15
    owner = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/").data
    assert (owner["location"]["latitude"], owner["location"]["longitude"]) == EXACT
    assert owner["citizen_science"]["public_location"]["latitude"] == 7.15


def test_r16_ancestor_sensitivity_applies(users, geo, taxa, model_version):
    taxa["genus"].sensitivity = "1"
    taxa["genus"].save()
    observation = classified(users["alice"], *EXACT, [("Testus nativus", 0.9)], model_version)
    assert _feed_location(observation)["latitude"] == 7.5


def test_r17_repeated_reads_give_the_same_point(users, geo, taxa, model_version):
    taxa["rarus"].sensitivity = "0.01"
    taxa["rarus"].save()
    observation = classified(users["alice"], *EXACT, [("Testus rarus", 0.9)], model_version)
    points = {(loc["latitude"], loc["longitude"]) for loc in (_feed_location(observation) for _ in range(5))}
    exports = {
        (r["http://rs.tdwg.org/dwc/terms/decimalLatitude"], r["http://rs.tdwg.org/dwc/terms/decimalLongitude"])
        for r in _export_rows() + _export_rows()
    }
    assert points == {(7.125, 2.655)} and exports == {("7.125", "2.655")}


def test_r18_taxon_newly_marked_sensitive_is_followed_by_existing_records(users, geo, taxa, model_version):
    observation = classified(users["alice"], *EXACT, [("Testus rarus", 0.9)], model_version)
    assert _feed_location(observation)["latitude"] == EXACT[0]
    assert _export_rows()[0]["http://rs.tdwg.org/dwc/terms/decimalLatitude"] == "7.123456"
    taxa["rarus"].sensitivity = "withhold"
    taxa["rarus"].save()
    location = _feed_location(observation)
    assert location["latitude"] is None and location["information_withheld"]
    row = _export_rows()[0]
    assert (
        row["http://rs.tdwg.org/dwc/terms/decimalLatitude"] == ""
        and row["http://rs.tdwg.org/dwc/terms/informationWithheld"]
    )
    # Region names finer than the country are withheld too.
    feed = APIClient().get(f"/api/v1/feed/{observation.uuid}/").data
    assert [r["code"] for r in feed["regions"]] == ["AAA"]


def test_taxon_region_sensitivity_applies_only_in_that_region(users, geo, taxa, model_version):
    TaxonRegionSensitivity.objects.create(taxon=taxa["nativus"], region=geo["county"], sensitivity="0.1")
    inside = classified(users["alice"], *EXACT, [("Testus nativus", 0.9)], model_version)  # in the county
    outside = classified(users["alice"], 2.2, 8.8, [("Testus nativus", 0.9)], model_version)  # AAA, not the county
    assert _feed_location(inside)["latitude"] == 7.15
    assert _feed_location(outside)["latitude"] == 2.2


def test_observer_geoprivacy_obscured_and_private(users, geo, model_version):
    obscured = classified(users["alice"], *EXACT, [("Testus nativus", 0.9)], model_version, geoprivacy="obscured")
    private = classified(users["alice"], *EXACT, [("Testus nativus", 0.9)], model_version, geoprivacy="private")
    assert _feed_location(obscured)["latitude"] == 7.15
    assert _feed_location(private)["latitude"] is None
    assert api_for(users["alice"]).get(f"/api/v1/observations/{private.uuid}/").data["location"]["latitude"] == EXACT[0]
    reviewer = api_for(users["rita"]).get(f"/api/v1/observations/{private.uuid}/").data
    assert reviewer["location"]["latitude"] == EXACT[0]
