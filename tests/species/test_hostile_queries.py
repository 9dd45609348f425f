"""What an outside attack found in taxon queries (issue 15, Low): `/check/?taxon=²` answered 500
(str.isdigit() then int()), and `/species/?limit=100000` had no ceiling."""

import pytest
from rest_framework.test import APIClient

from species.selectors import taxon_by_key_or_id
from tests.factories import TaxonFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("taxon", ["²", "٣", "1²", "99999999999999999999999", "9223372036854775808"])
def test_low_check_with_a_unicode_digit_or_huge_id_is_404_not_500(taxon):
    response = APIClient().get("/api/v1/check/", {"lat": 1, "lon": 1, "taxon": taxon})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_taxon"


def test_low_taxon_by_ascii_id_still_found():
    taxon = TaxonFactory(scientific_name="Testus nativus")
    assert taxon_by_key_or_id(f" {taxon.pk} ") == taxon and taxon_by_key_or_id("²") is None


def test_low_species_list_limit_has_a_ceiling():
    for i in range(205):
        TaxonFactory(scientific_name=f"Testus species{i}")
    page = APIClient().get("/api/v1/species/?limit=100000").json()
    assert page["count"] == 205 and len(page["results"]) == 200
    assert len(APIClient().get("/api/v1/species/").json()["results"]) == 50
