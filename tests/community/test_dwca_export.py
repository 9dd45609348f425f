"""Darwin Core Archive export, read back with python-dwca-reader: every field, both basisOfRecord
values, the multimedia extension, the management command and the reviewers' endpoint."""
import io

import pytest
from django.core.management import call_command
from dwca.read import DwCAReader

from community.services import observation_review
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db
DWC = "http://rs.tdwg.org/dwc/terms/"
FIELDS = [
    "occurrenceID", "basisOfRecord", "scientificName", "taxonRank", "kingdom", "eventDate", "decimalLatitude", "decimalLongitude",
    "geodeticDatum", "coordinateUncertaintyInMeters", "countryCode", "stateProvince", "establishmentMeans", "degreeOfEstablishment",
    "identificationVerificationStatus", "identifiedBy", "dataGeneralizations", "informationWithheld",
]


def _read(path):
    with DwCAReader(str(path)) as archive:
        assert archive.descriptor.core.type == DWC + "Occurrence"
        assert "eml" in archive.metadata.tag  # eml.xml parsed
        rows = {}
        for row in archive:
            data = {term.replace(DWC, ""): value for term, value in row.data.items()}
            media = [ext.data for ext in row.extensions]
            rows[data["occurrenceID"]] = (data, media)
        return rows


def test_export_round_trip_with_every_field(users, geo, model_version, taxa, tmp_path):
    taxa["rarus"].sensitivity = "1"
    taxa["rarus"].save()
    verified = classified(users["alice"], 7, 2, [("Testus invasor", 0.7)], model_version)
    observation_review(observation=verified, reviewer=users["rita"], decision="confirm")
    machine = classified(users["bob"], 2.25, 8.75, [("Testus rarus", 0.9)], model_version)
    out = tmp_path / "dwca.zip"
    call_command("export_dwca", str(out))
    rows = _read(out)
    assert set(rows) == {f"urn:uuid:{verified.uuid}", f"urn:uuid:{machine.uuid}"}

    v, media = rows[f"urn:uuid:{verified.uuid}"]
    assert all(field in v for field in FIELDS)
    assert v["basisOfRecord"] == "HumanObservation" and v["identifiedBy"] == "rita" and v["identificationVerificationStatus"] == "verified"
    assert (v["scientificName"], v["taxonRank"], v["kingdom"]) == ("Testus invasor", "species", "Animalia")
    assert (v["decimalLatitude"], v["decimalLongitude"], v["geodeticDatum"]) == ("7", "2", "EPSG:4326")
    assert (v["countryCode"], v["stateProvince"]) == ("AL", "North Aland")
    assert (v["establishmentMeans"], v["degreeOfEstablishment"]) == ("introduced", "invasive")
    assert v["eventDate"].startswith(verified.created.date().isoformat())
    assert v["dataGeneralizations"] == "" and v["informationWithheld"] == ""
    assert media[0]["http://purl.org/dc/terms/type"] == "StillImage" and f"{verified.uuid}/photo/" in media[0]["http://purl.org/dc/terms/identifier"]

    m, _ = rows[f"urn:uuid:{machine.uuid}"]
    assert m["basisOfRecord"] == "MachineObservation" and m["identifiedBy"] == "RangeWatch model test-model-1"
    assert m["identificationVerificationStatus"] == "unverified"
    assert (m["decimalLatitude"], m["decimalLongitude"], m["coordinateUncertaintyInMeters"]) == ("2.5", "8.5", "78715")
    assert "1°" in m["dataGeneralizations"] and m["establishmentMeans"] == "native" and m["countryCode"] == "AL"


def test_export_endpoint_for_reviewers_only(users, geo, model_version, tmp_path, eager_celery, django_capture_on_commit_callbacks):
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
        assert len(_read(path)) == expected
