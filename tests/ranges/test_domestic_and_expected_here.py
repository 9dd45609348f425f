"""Issue 21 through the service: a domestic animal is answered as one (no alert, its facts,
`expected_here` null) until a reviewer confirms a free-roaming one where a register lists it;
`expected_here` is null where there is no range data, in the stored candidates and in /check/."""

import pytest
from rest_framework.test import APIClient

from observations.models import Verdict
from species.models import IucnCategory, SpeciesInfo, Taxon
from tests.factories import TaxonFactory, UserFactory, region, status
from tests.world import api_for, classified

pytestmark = pytest.mark.django_db


@pytest.fixture
def dog(taxa, geo):
    """A pet-dog taxon, domesticated, that Aland's register lists as invasive (feral dogs)."""
    genus = TaxonFactory(scientific_name="Canis", rank="genus", parent=taxa["kingdom"])
    dog = TaxonFactory(scientific_name="Canis familiaris", parent=genus, common_name="dog")
    SpeciesInfo.objects.create(taxon=dog, summary="A dog.", iucn_category=IucnCategory.DOMESTICATED)
    status(dog, geo["country"], "invasive", source="GRIIS checklist: Aland")
    return dog


def test_a_pet_dog_where_a_register_lists_feral_dogs_is_domestic_with_facts_and_no_alert(users, dog, model_version):
    observation = classified(users["alice"], 2, 2, [("Canis familiaris", 0.95)], model_version)
    verdict = Verdict.objects.get(observation=observation)
    assert verdict.status == "domestic" and verdict.alert_level == "" and verdict.contacts == []
    assert "domestic animal" in verdict.explanation and "feral" in verdict.explanation
    body = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/").json()
    assert body["alert"] is None and body["species_info"]["summary"] == "A dog."
    assert body["predictions"][0]["expected_here"] is None


def test_a_reviewer_confirming_a_free_roaming_dog_where_the_register_lists_it_alerts(users, dog, model_version):
    observation = classified(users["alice"], 2, 2, [("Canis familiaris", 0.95)], model_version)
    url = f"/api/v1/observations/{observation.uuid}/review/"
    rita = api_for(users["rita"])
    assert rita.post(url, {"decision": "confirm", "taxon": "Canis familiaris"}, format="json").status_code == 200
    assert Verdict.objects.get(observation=observation).status == "domestic"  # a plain confirmation: still a pet
    other = UserFactory(username="rex")
    other.groups.add(*users["rita"].groups.all())
    answer = api_for(other).post(
        url, {"decision": "confirm", "taxon": "Canis familiaris", "free_roaming": True}, format="json"
    )
    assert answer.status_code == 200, answer.content
    stored = Verdict.objects.get(observation=observation)
    assert stored.status == "invasive" and stored.alert_level == "alert" and "free-roaming" in stored.explanation


def test_expected_here_is_null_without_range_data_in_candidates_and_check(users, taxa, geo, model_version):
    """Otherus alius has no range data: 'no range data here', not 'not expected here'."""
    elsewhere = region("BBB", "country", (20, 0, 30, 10), name="Bland")
    status(taxa["rarus"], elsewhere, "native")  # (also native in Aland: expected there)
    observation = classified(users["alice"], 2, 2, [("Otherus alius", 0.6), ("Testus nativus", 0.3)], model_version)
    predictions = api_for(users["alice"]).get(f"/api/v1/observations/{observation.uuid}/").json()["predictions"]
    by_key = {p["key"]: p["expected_here"] for p in predictions}
    assert by_key == {"Otherus alius": None, "Testus nativus": True}
    check = APIClient().get("/api/v1/check/", {"taxon": "Otherus alius", "lat": 2, "lon": 2}).json()
    assert check["verdict"]["status"] == "unknown" and check["expected_here"] is None
    outside = APIClient().get("/api/v1/check/", {"taxon": "Testus nativus", "lat": 5, "lon": 25}).json()
    assert outside["verdict"]["status"] == "out_of_range" and outside["expected_here"] is False


def test_check_looks_a_name_up_in_the_kingdom_it_is_asked_for(taxa, geo):
    """A bare name is an animal; a plant homonym answers only when asked for by its kingdom."""
    plants = Taxon.objects.create(scientific_name="Plantae", rank="kingdom")
    Taxon.objects.create(scientific_name="Testus", rank="genus", parent=plants)
    assert sorted(Taxon.objects.filter(scientific_name="Testus").values_list("kingdom", flat=True)) == [
        "Animalia",
        "Plantae",
    ]
    animal = APIClient().get("/api/v1/check/", {"taxon": "Testus", "lat": 2, "lon": 2}).json()
    assert animal["taxon"]["id"] == taxa["genus"].pk
    plant = APIClient().get("/api/v1/check/", {"taxon": "Testus", "kingdom": "Plantae", "lat": 2, "lon": 2}).json()
    assert plant["taxon"]["id"] != taxa["genus"].pk and plant["verdict"]["status"] == "unknown"
