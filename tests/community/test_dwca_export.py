"""Darwin Core Archive export after a review round, read back with python-dwca-reader: every term of
every row, the multimedia extension (its signed links serve the photo to anyone), the EML (contact,
licence link), the GBIF validator's rules that can be applied offline, and what is left out."""

import re
from datetime import datetime
from urllib.parse import urlsplit

import pycountry
import pytest
from django.core.management import CommandError, call_command
from dwca.read import DwCAReader
from rest_framework.test import APIClient

from community.services import observation_review
from tests.factories import TaxonFactory
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db
DWC = "http://rs.tdwg.org/dwc/terms/"
DC = "http://purl.org/dc/terms/"
BASE = "https://rangewatch.example.org"
CC_BY = "http://creativecommons.org/licenses/by/4.0/legalcode"
# GBIF accepts exactly these dataset licences (IPT wording).
GBIF_LICENSE_URIS = {
    "http://creativecommons.org/publicdomain/zero/1.0/legalcode",
    CC_BY,
    "http://creativecommons.org/licenses/by-nc/4.0/legalcode",
}
BASIS_OF_RECORD = {
    "PreservedSpecimen",
    "FossilSpecimen",
    "LivingSpecimen",
    "MaterialSample",
    "MaterialEntity",
    "MaterialCitation",
    "HumanObservation",
    "MachineObservation",
    "Occurrence",
    "Event",
    "Taxon",
}
ESTABLISHMENT_MEANS = {
    "",
    "native",
    "nativeReintroduced",
    "introduced",
    "introducedAssistedColonisation",
    "vagrant",
    "uncertain",
}
DEGREE_OF_ESTABLISHMENT = {
    "",
    "native",
    "captive",
    "cultivated",
    "released",
    "failing",
    "casual",
    "reproducing",
    "established",
    "colonising",
    "invasive",
    "widespreadInvasive",
}
TAXON_RANKS = {"kingdom", "phylum", "class", "order", "family", "subfamily", "genus", "species", "subspecies"}
MAX_UNCERTAINTY_M = 20_037_509


@pytest.fixture
def publishing(settings):
    settings.RANGEWATCH_PUBLIC_BASE_URL = BASE
    settings.RANGEWATCH_DWCA_LICENSE = CC_BY
    settings.RANGEWATCH_DWCA_PUBLISHER = "Aland Wildlife Watch"
    settings.RANGEWATCH_DWCA_CONTACT_EMAIL = "records@aland.example.org"
    return settings


def read_archive(path):
    """(rows by occurrenceID: (core terms, [multimedia rows]), the EML root) via python-dwca-reader."""
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor.core.type == DWC + "Occurrence"
        assert [ext.type for ext in archive.descriptor.extensions] == ["http://rs.gbif.org/terms/1.0/Multimedia"]
        rows = {}
        for row in archive:
            data = {term.replace(DWC, "").replace(DC, "dcterms:"): value for term, value in row.data.items()}
            assert data["occurrenceID"] not in rows, "occurrenceID must be unique"
            rows[data["occurrenceID"]] = (data, [ext.data for ext in row.extensions])
        return rows, archive.metadata


def gbif_offline_problems(rows) -> list[str]:
    """The GBIF data validator's checks that need no network, one message per failing value."""
    problems = []
    for occurrence_id, (row, media) in rows.items():
        for term in ("occurrenceID", "basisOfRecord", "scientificName", "eventDate", "kingdom", "countryCode"):
            if not row.get(term):
                problems.append(f"{occurrence_id}: {term} is empty")
        if row["basisOfRecord"] not in BASIS_OF_RECORD:
            problems.append(f"{occurrence_id}: basisOfRecord {row['basisOfRecord']!r} not in the vocabulary")
        try:
            datetime.fromisoformat(row["eventDate"])
        except ValueError:
            problems.append(f"{occurrence_id}: eventDate {row['eventDate']!r} is not ISO 8601")
        lat, lon = row["decimalLatitude"], row["decimalLongitude"]
        if bool(lat) != bool(lon):
            problems.append(f"{occurrence_id}: only one of decimalLatitude/decimalLongitude")
        if lat and not (-90 <= float(lat) <= 90 and -180 <= float(lon) <= 180):
            problems.append(f"{occurrence_id}: coordinates out of range")
        if lat and row["geodeticDatum"] != "EPSG:4326":
            problems.append(f"{occurrence_id}: geodeticDatum missing")
        uncertainty = row["coordinateUncertaintyInMeters"]
        if uncertainty and not (re.fullmatch(r"\d+", uncertainty) and 1 <= int(uncertainty) <= MAX_UNCERTAINTY_M):
            problems.append(f"{occurrence_id}: coordinateUncertaintyInMeters {uncertainty!r} invalid")
        if uncertainty and not lat:
            problems.append(f"{occurrence_id}: coordinateUncertaintyInMeters without coordinates")
        if pycountry.countries.get(alpha_2=row["countryCode"]) is None:
            problems.append(f"{occurrence_id}: countryCode {row['countryCode']!r} is not ISO 3166-1 alpha-2")
        if (
            row["establishmentMeans"] not in ESTABLISHMENT_MEANS
            or row["degreeOfEstablishment"] not in DEGREE_OF_ESTABLISHMENT
        ):
            problems.append(f"{occurrence_id}: establishment terms outside their vocabularies")
        if row["taxonRank"] not in TAXON_RANKS:
            problems.append(f"{occurrence_id}: taxonRank {row['taxonRank']!r}")
        if row["occurrenceStatus"] not in ("present", "absent"):
            problems.append(f"{occurrence_id}: occurrenceStatus {row['occurrenceStatus']!r}")
        if row["dcterms:license"] not in GBIF_LICENSE_URIS:
            problems.append(f"{occurrence_id}: license {row['dcterms:license']!r} is not a GBIF licence URI")
        for item in media:
            if item[DC + "license"] not in GBIF_LICENSE_URIS or not item[DC + "identifier"].startswith("https://"):
                problems.append(f"{occurrence_id}: multimedia row without an absolute link or licence URI")
    return problems


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
    observation_review(observation=made["confirmed"], reviewer=rita, decision="confirm")
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


def test_export_endpoint_for_reviewers_only(users, geo, model_version, tmp_path):
    classified(users["alice"], 7, 2, [("Testus nativus", 0.9)], model_version)
    assert api_for(users["alice"]).get("/api/v1/exports/dwca/").status_code == 403
    response = api_for(users["rita"]).get("/api/v1/exports/dwca/?verified_only=false")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    path = tmp_path / "from-api.zip"
    path.write_bytes(response.content)
    assert len(read_archive(path)[0]) == 1
    only_verified = api_for(users["rita"]).get("/api/v1/exports/dwca/?verified_only=true")
    path.write_bytes(only_verified.content)
    assert len(read_archive(path)[0]) == 0
