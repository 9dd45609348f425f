"""The words an answer gives people: no model jargon, and a genus or family answer never called "this species"."""

import pytest

from ranges.answers import alert_message, verdict_answer
from ranges.identification import identify
from tests.factories import TaxonFactory
from tests.ranges.test_identification import HERE, TAXA, THRESHOLDS, index  # noqa: F401 - index is a fixture

JARGON = ("model", "class", "label", "logit")


@pytest.mark.parametrize("status", ["invasive", "introduced", "out_of_range"])
def test_a_family_answer_is_worded_as_a_group_never_as_this_species(status):
    words = alert_message(status, "family")
    assert "this species" not in words.lower() and "this family" in words


def test_a_species_answer_keeps_its_species_wording():
    assert alert_message("out_of_range", "species").startswith("This species is not known from here")
    assert alert_message("out_of_range", None) == alert_message("out_of_range", "species")


def test_a_please_verify_answer_asks_for_a_check_at_any_rank():
    assert alert_message("uncertain", "species") == alert_message("uncertain", "genus")
    assert "reviewer verifies it" in alert_message("uncertain", "genus")


@pytest.mark.django_db
def test_the_answer_of_a_family_level_out_of_range_verdict_says_no_species_of_this_family():
    elephants = TaxonFactory(scientific_name="Elephantidae", rank="family", common_name="elephants")
    answer = verdict_answer(
        status="out_of_range",
        explanation="",
        region_code=None,
        region_codes=[],
        sources=[],
        taxon=elephants,
        contacts=[],
    )
    assert answer["alert"]["message"].startswith("No species of this family is known from here")


def test_identification_explanations_speak_of_the_photo_not_the_model(index):  # noqa: F811
    no_animal = identify({"no_animal": 0.9, "Canis mesomelas": 0.1}, *HERE, index, TAXA, THRESHOLDS)
    unsure = identify({"Canis mesomelas": 0.3, "Felis catus": 0.1, "no_animal": 0.3}, *HERE, index, TAXA, THRESHOLDS)
    verify = identify({"Canis latrans": 0.45, "Canis mesomelas": 0.4}, *HERE, index, TAXA, THRESHOLDS)
    assert verify.needs_review, verify  # the look-alike not expected here: "please verify"
    for answer in (no_animal, unsure, verify):
        text = answer.verdict.explanation.lower()
        assert not any(word in text for word in JARGON), text
        assert "out_of_range" not in text  # statuses in words, not identifiers
