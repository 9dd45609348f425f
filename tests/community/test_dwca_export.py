"""Darwin Core Archive export after a review round, read back with python-dwca-reader: every term of
every row, the multimedia extension (its signed links serve the photo to anyone), the EML (contact,
licence link), the GBIF validator's rules that can be applied offline, and what is left out."""

from datetime import datetime
from urllib.parse import urlsplit

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from community.services import observation_review
from tests.community.gbif_rules import CC_BY, DC, DWC, gbif_offline_problems, read_archive
from tests.factories import TaxonFactory
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db
BASE = "https://rangewatch.example.org"


@pytest.fixture
def publishing(settings):
    settings.RANGEWATCH_PUBLIC_BASE_URL = BASE
    settings.RANGEWATCH_DWCA_LICENSE = CC_BY
    settings.RANGEWATCH_DWCA_PUBLISHER = "Aland Wildlife Watch"
    settings.RANGEWATCH_DWCA_CONTACT_EMAIL = "records@aland.example.org"
    return settings


@pytest.fixture
def review_round(users, geo, model_version, taxa):
    """Uploads of every kind, then a reviewer's pass: confirm, correct, reject."""
    taxa["rarus"].sensitivity = "1"
    taxa["rarus"].save()
    plants = TaxonFactory(scientific_name="Plantae", rank="kingdom")
    plant = TaxonFactory(scientific_name="Plantus viridis", parent=plants)
    made = {
        "confirmed": classified(users["alice"], 7, 2, [("Testus invasor", 0.7)], model_version, accuracy_m=8.4),
        "corrected": classified(users["bob"], 6, 3, [("Testus invasor", 0.8)], model_version, accuracy_m=15),
        "sensitive": classified(users["bob"], 2.25, 8.75, [("Testus rarus", 0.9)], model_version, accuracy_m=20),
        "private": classified(
            users["alice"], 3.3, 4.4, [("Testus nativus", 0.9)], model_version, geoprivacy="private", accuracy_m=5
        ),
        "no_accuracy": classified(users["alice"], 1, 1, [("Testus nativus", 0.9)], model_version),
        "rejected": classified(users["bob"], 4, 4, [("Testus invasor", 0.9)], model_version),
        "no_animal": classified(users["alice"], 5, 5, [("no_animal", 0.97)], model_version),
        "unidentified": classified(
            users["alice"], 5, 6, [("Testus nativus", 0.2), ("Testus invasor", 0.2)], model_version
        ),
        "plant": classified(users["bob"], 5, 7, [("Testus nativus", 0.6)], model_version),
    }
    rita = users["rita"]
    observation_review(observation=made["confirmed"], reviewer=rita, decision="confirm", taxon=taxa["invasor"])
    observation_review(observation=made["corrected"], reviewer=rita, decision="confirm", taxon=taxa["nativus"])
    observation_review(observation=made["rejected"], reviewer=rita, decision="reject")
    observation_review(observation=made["plant"], reviewer=rita, decision="confirm", taxon=plant)
    for observation in made.values():
        observation.refresh_from_db()
    return made


def test_export_after_a_review_round_passes_the_offline_checks_term_by_term(publishing, review_round, tmp_path, capsys):
    out = tmp_path / "dwca.zip"
    call_command("export_dwca", str(out))
    assert "wrote 5 occurrences and 4 photo links" in capsys.readouterr().out
    rows, _ = read_archive(out)
    assert gbif_offline_problems(rows) == []
    made = {name: f"urn:uuid:{o.uuid}" for name, o in review_round.items()}
    # Not occurrences: no animal in the photo, nobody could name it, a plant, a record the reviewer rejected.
    assert set(rows) == {made[n] for n in ("confirmed", "corrected", "sensitive", "private", "no_accuracy")}

    confirmed, media = rows[made["confirmed"]]
    assert confirmed == {
        "occurrenceID": made["confirmed"],
        "basisOfRecord": "HumanObservation",
        "occurrenceStatus": "present",
        "scientificName": "Testus invasor",
        "taxonRank": "species",
        "kingdom": "Animalia",
        "eventDate": review_round["confirmed"].created.replace(microsecond=0).isoformat(),
        "decimalLatitude": "7",
        "decimalLongitude": "2",
        "geodeticDatum": "EPSG:4326",
        "coordinateUncertaintyInMeters": "9",  # 8.4 m from the phone, rounded up
        "countryCode": "AL",
        "stateProvince": "North Aland",
        "establishmentMeans": "introduced",
        "degreeOfEstablishment": "invasive",
        "identificationVerificationStatus": "verified",
        "identifiedBy": "rita",
        "dateIdentified": review_round["confirmed"].verified_at.replace(microsecond=0).isoformat(),
        "dataGeneralizations": "",
        "informationWithheld": "",
        "recordedBy": "alice",
        "occurrenceRemarks": "first record in AAA-N1, AAA-N, AAA",  # the first verified Testus invasor there
        "dcterms:license": CC_BY,
    }
    assert len(media) == 1
    photo = {key.replace(DC, ""): value for key, value in media[0].items() if key != DWC + "occurrenceID"}
    assert photo.pop("identifier").startswith(
        f"{BASE}/api/v1/observations/{review_round['confirmed'].uuid}/photo/?sig="
    )
    assert photo == {
        "type": "StillImage",
        "format": "image/jpeg",
        "references": f"{BASE}/api/v1/feed/{review_round['confirmed'].uuid}/",
        "creator": "alice",
        "license": CC_BY,
    }

    corrected, _ = rows[made["corrected"]]
    assert (corrected["scientificName"], corrected["establishmentMeans"], corrected["degreeOfEstablishment"]) == (
        "Testus nativus",
        "native",
        "native",
    )
    assert corrected["coordinateUncertaintyInMeters"] == "15" and corrected["basisOfRecord"] == "HumanObservation"

    sensitive, sensitive_media = rows[made["sensitive"]]
    assert (
        sensitive["basisOfRecord"] == "MachineObservation"
        and sensitive["identifiedBy"] == "RangeWatch model test-model-1"
    )
    assert sensitive["identificationVerificationStatus"] == "unverified" and sensitive["dateIdentified"] == ""
    # Generalised to the centre of its 1° cell: half the cell's diagonal (78,715 m) plus the phone's 20 m.
    assert (
        sensitive["decimalLatitude"],
        sensitive["decimalLongitude"],
        sensitive["coordinateUncertaintyInMeters"],
    ) == ("2.5", "8.5", "78735")
    assert "1°" in sensitive["dataGeneralizations"] and len(sensitive_media) == 1

    private, private_media = rows[made["private"]]
    assert (
        private["decimalLatitude"],
        private["decimalLongitude"],
        private["geodeticDatum"],
        private["coordinateUncertaintyInMeters"],
    ) == ("",) * 4
    assert private["informationWithheld"] and private["countryCode"] == "AL" and private["stateProvince"] == ""
    assert private_media == []  # a withheld location keeps its photo too

    assert rows[made["no_accuracy"]][0]["coordinateUncertaintyInMeters"] == ""  # unknown stays empty (Darwin Core)


def test_photo_links_serve_the_photo_to_anyone(publishing, review_round, tmp_path):
    out = tmp_path / "dwca.zip"
    call_command("export_dwca", str(out))
    rows, _ = read_archive(out)
    links = [item[DC + "identifier"] for _, media in rows.values() for item in media]
    assert len(links) == 4 and all(link.startswith(f"{BASE}/api/v1/observations/") for link in links)
    anonymous = APIClient()
    for link in links:
        parts = urlsplit(link)
        response = anonymous.get(f"{parts.path}?{parts.query}")
        assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
        assert response.content[:2] == b"\xff\xd8"
    unsigned = anonymous.get(urlsplit(links[0]).path)
    assert unsigned.status_code == 401


def test_eml_names_the_contact_and_links_the_licence(publishing, review_round, tmp_path):
    out = tmp_path / "dwca.zip"
    call_command("export_dwca", str(out))
    _, eml = read_archive(out)
    assert eml.tag == "{eml://ecoinformatics.org/eml-2.1.1}eml" and eml.get("packageId")
    dataset = eml.find("dataset")
    assert dataset.findtext("title") == "RangeWatch citizen-science occurrences"
    for party in ("creator", "metadataProvider", "contact"):
        assert dataset.findtext(f"{party}/organizationName") == "Aland Wildlife Watch"
        assert dataset.findtext(f"{party}/electronicMailAddress") == "records@aland.example.org"
        assert dataset.findtext(f"{party}/onlineUrl") == BASE
    link = dataset.find("intellectualRights/para/ulink")
    assert link.get("url") == CC_BY and "CC-BY" in link.findtext("citetitle")
    datetime.fromisoformat(dataset.findtext("pubDate"))
    assert dataset.findtext("coverage/temporalCoverage/rangeOfDates/beginDate/calendarDate")
    assert "5 animal occurrences" in dataset.findtext("abstract/para")


def test_loopback_base_url_exports_no_photo_links_and_says_why(settings, review_round, tmp_path, capsys):
    settings.RANGEWATCH_PUBLIC_BASE_URL = "http://localhost:8000"
    settings.RANGEWATCH_DWCA_CONTACT_EMAIL = ""
    out = tmp_path / "dwca.zip"
    call_command("export_dwca", str(out))
    captured = capsys.readouterr()
    assert (
        "0 photo links" in captured.out
        and "localhost:8000" in captured.err
        and "RANGEWATCH_DWCA_CONTACT_EMAIL" in captured.err
    )
    rows, eml = read_archive(out)
    assert all(media == [] for _, media in rows.values()) and len(rows) == 5
    assert eml.find("dataset/contact/onlineUrl") is None and eml.findtext("dataset/contact/organizationName")


def test_a_licence_gbif_would_refuse_stops_the_export(settings, tmp_path):
    settings.RANGEWATCH_DWCA_LICENSE = "CC-BY 4.0"
    with pytest.raises(CommandError, match="RANGEWATCH_DWCA_LICENSE"):
        call_command("export_dwca", str(tmp_path / "dwca.zip"))
    assert not (tmp_path / "dwca.zip").exists()


def test_export_endpoint_for_reviewers_only(
    users, geo, model_version, tmp_path, eager_celery, django_capture_on_commit_callbacks
):
    classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    assert api_for(users["alice"]).get("/api/v1/exports/dwca/").status_code == 403
    assert api_for(users["alice"]).post("/api/v1/exports/dwca/", {}, format="json").status_code == 403
    rita = api_for(users["rita"])
    path = tmp_path / "from-api.zip"
    for verified_only, expected in ((False, 1), (True, 0)):
        with django_capture_on_commit_callbacks(execute=True):  # the job runs (eagerly) after commit
            started = rita.post("/api/v1/exports/dwca/", {"verified_only": verified_only}, format="json")
        assert started.status_code == 202
        download = rita.get(started["Location"]).data["download"]
        response = rita.get(download)
        assert response.status_code == 200 and response["Content-Type"] == "application/zip"
        path.write_bytes(b"".join(response.streaming_content))
        assert len(read_archive(path)[0]) == expected
