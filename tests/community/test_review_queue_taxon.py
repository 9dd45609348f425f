"""The review queue's taxon filter: a taxon keeps the observations that name it or a taxon below it."""

import pytest

from tests.world import api_for, classified

pytestmark = pytest.mark.django_db


def queue_ids(client, query: str) -> set[str]:
    response = client.get(f"/api/v1/review/queue/?{query}")
    assert response.status_code == 200, response.data
    return {item["id"] for item in response.data["results"]}


def test_taxon_filter_keeps_the_taxon_and_the_taxa_below_it(users, geo, model_version, taxa):
    invader = classified(users["alice"], 7, 2, [("Testus invasor", 0.7)], model_version)
    native = classified(users["alice"], 2, 8, [("Testus nativus", 0.95)], model_version)
    other = classified(users["bob"], 2, 8, [("Otherus alius", 0.9)], model_version)
    rita = api_for(users["rita"])

    assert queue_ids(rita, "") == {str(invader.uuid), str(native.uuid), str(other.uuid)}
    assert queue_ids(rita, "taxon=Testus+invasor") == {str(invader.uuid)}
    assert queue_ids(rita, f"taxon={taxa['nativus'].pk}") == {str(native.uuid)}  # an id works too
    assert queue_ids(rita, "taxon=Testus") == {str(invader.uuid), str(native.uuid)}  # the genus keeps its species
    assert queue_ids(rita, "taxon=Testus&region=AAA-N1") == {str(invader.uuid)}  # filters combine


def test_an_unknown_taxon_is_a_field_error_not_an_empty_queue(users, geo, model_version):
    response = api_for(users["rita"]).get("/api/v1/review/queue/?taxon=Nonexistus+fictus")
    assert response.status_code == 400
    assert "taxon" in response.data["error"]["fields"]


def test_a_please_verify_answer_is_found_by_its_candidates(users, geo, model_version, taxa):
    # Too weak for the model to name anything: no taxon on the prediction or the verdict, only candidates.
    unsure = classified(users["alice"], 2, 8, [("Testus rarus", 0.3), ("Otherus alius", 0.25)], model_version)
    assert unsure.prediction.taxon is None
    rita = api_for(users["rita"])
    assert queue_ids(rita, "taxon=Testus") == {str(unsure.uuid)}
    assert queue_ids(rita, "taxon=Otherus+alius") == {str(unsure.uuid)}
    assert queue_ids(rita, "taxon=Testus+invasor") == set()
