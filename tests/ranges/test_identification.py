"""Location-aware identification (DESIGN §5.6) on an in-memory world: the prior, the alert gate,
"please verify", and the candidates' expected_here marks."""

import pytest
import shapely

from ml.taxonomy import TaxonTree, reweight_by_prior, subtree_total
from ranges.identification import ALERT_LEVEL, REVIEW_LEVEL, IdentificationThresholds, identify
from ranges.range_index import RangeIndex, RegionRecord, StatusRecord
from ranges.verdict import INVASIVE, NATIVE, NO_ANIMAL, OUT_OF_RANGE, UNCERTAIN

# Tanzania-like AAA (0..10) and America-like BBB (20..30).
REGIONS = [
    (RegionRecord("AAA", "country", "Aland"), shapely.box(0, 0, 10, 10)),
    (RegionRecord("BBB", "country", "Bland"), shapely.box(20, 0, 30, 10)),
]
STATUSES = [
    ("Canis mesomelas", "AAA", NATIVE),  # the jackal, native here
    ("Canis latrans", "BBB", NATIVE),  # the coyote, native elsewhere: out_of_range here
    ("Felis catus", "AAA", INVASIVE),  # an established alien here: expected
    ("Felis catus", "BBB", INVASIVE),
]
TAXA = TaxonTree(
    parents={"Canis mesomelas": "Canis", "Canis latrans": "Canis", "Canis": "Canidae", "Felis catus": "Felis"},
    ranks={
        "Canis mesomelas": "species",
        "Canis latrans": "species",
        "Canis": "genus",
        "Canidae": "family",
        "Felis catus": "species",
        "Felis": "genus",
    },
)
THRESHOLDS = IdentificationThresholds(confidence=0.5, alert=0.7, review=0.2, prior_floor=0.1)
HERE = (5.0, 5.0)


@pytest.fixture(scope="module")
def index():
    return RangeIndex(
        regions=[r for r, _ in REGIONS],
        region_geometries=[g for _, g in REGIONS],
        statuses=[StatusRecord(t, c, s, "test source") for t, c, s in STATUSES],
    )


def test_the_prior_prefers_the_native_look_alike_and_marks_every_candidate(index):
    scores = {"Canis latrans": 0.55, "Canis mesomelas": 0.40, "no_animal": 0.05}
    found = identify(scores, *HERE, index, TAXA, THRESHOLDS)
    assert found.decision.key == "Canis mesomelas"
    marks = {c.key: (c.expected_here, c.status) for c in found.candidates}
    assert marks == {"Canis mesomelas": (True, NATIVE), "Canis latrans": (False, OUT_OF_RANGE)}
    coyote = next(c for c in found.candidates if c.key == "Canis latrans")
    assert 0 < coyote.weighted < coyote.score  # down-weighted, never removed
    # The coyote's own visual evidence (55 %) asks for a check: not silently dropped, no alert.
    assert found.verdict.status == UNCERTAIN and found.alert_level == REVIEW_LEVEL
    assert "Possibly Canis latrans" in found.verdict.explanation and "please verify" in found.verdict.explanation


def test_without_the_prior_the_same_scores_name_the_coyote_but_do_not_alert(index):
    scores = {"Canis latrans": 0.55, "Canis mesomelas": 0.40, "no_animal": 0.05}
    found = identify(scores, *HERE, index, TAXA, THRESHOLDS, use_prior=False)
    assert found.decision.key == "Canis latrans"
    assert found.verdict.status == UNCERTAIN and found.needs_review  # 55 % < the 70 % an alert needs


def test_strong_visual_evidence_alerts_whatever_the_prior(index):
    found = identify({"Canis latrans": 0.95, "Canis mesomelas": 0.04}, *HERE, index, TAXA, THRESHOLDS)
    assert (
        found.decision.key == "Canis latrans"
        and found.verdict.status == OUT_OF_RANGE
        and found.alert_level == ALERT_LEVEL
    )


def test_a_native_animal_with_weak_look_alikes_is_simply_native(index):
    found = identify({"Canis mesomelas": 0.85, "Canis latrans": 0.1}, *HERE, index, TAXA, THRESHOLDS)
    assert found.verdict.status == NATIVE and found.alert_level == "" and not found.needs_review


def test_an_established_alien_is_expected_here_and_alerts_on_strong_evidence(index):
    found = identify({"Felis catus": 0.9}, *HERE, index, TAXA, THRESHOLDS)
    assert found.candidates[0].expected_here and found.verdict.status == INVASIVE and found.alert_level == ALERT_LEVEL
    weak = identify({"Felis catus": 0.3, "Canis mesomelas": 0.25}, *HERE, index, TAXA, THRESHOLDS)
    assert weak.verdict.status == UNCERTAIN and weak.needs_review  # the old low-confidence watch-list case


def test_no_animal_and_unconfident_answers(index):
    assert (
        identify({"no_animal": 0.9, "Canis mesomelas": 0.1}, *HERE, index, TAXA, THRESHOLDS).verdict.status == NO_ANIMAL
    )
    unsure = identify({"Canis mesomelas": 0.3, "Felis catus": 0.1, "no_animal": 0.3}, *HERE, index, TAXA, THRESHOLDS)
    assert (
        unsure.verdict.status == UNCERTAIN and not unsure.needs_review and "not confident" in unsure.verdict.explanation
    )
    assert unsure.verdict.region_codes == ("AAA",)


def test_reweight_by_prior_keeps_the_no_animal_score_and_the_animal_total():
    out = reweight_by_prior({"a": 0.6, "b": 0.3, "no_animal": 0.1}, {"a": 0.1})
    assert out["no_animal"] == 0.1 and sum(v for k, v in out.items() if k != "no_animal") == pytest.approx(0.9)
    assert out["b"] > out["a"] > 0
    with pytest.raises(ValueError, match="floor"):
        reweight_by_prior({"a": 1.0}, {"a": 0.0})


def test_subtree_total_is_the_visual_evidence_for_a_group():
    assert subtree_total(
        {"Canis latrans": 0.3, "Canis mesomelas": 0.2, "Felis catus": 0.4}, "Canis", TAXA.parents
    ) == pytest.approx(0.5)


DOMESTIC_TAXA = TaxonTree(
    parents={**TAXA.parents, "Canis familiaris": "Canis"},
    ranks={**TAXA.ranks, "Canis familiaris": "species"},
    domestic=frozenset({"Canis familiaris", "Felis catus"}),
)


def test_a_domestic_form_needs_the_domestic_score_to_be_named_and_gets_no_prior(index):
    """Issue 21: wild canids on camera-trap frames are often called "dog"; the prior neither boosts
    nor penalises a domestic form (its expected_here is null)."""
    strict = IdentificationThresholds(confidence=0.5, alert=0.7, review=0.2, prior_floor=0.1, domestic=0.6)
    weak = identify({"Canis familiaris": 0.55, "Canis latrans": 0.3}, *HERE, index, DOMESTIC_TAXA, strict)
    assert weak.decision.outcome == "uncertain" and weak.alert_level != ALERT_LEVEL
    strong = identify({"Canis familiaris": 0.65, "Canis mesomelas": 0.3}, *HERE, index, DOMESTIC_TAXA, strict)
    assert strong.decision.key == "Canis familiaris" and strong.verdict.status == "domestic"
    assert strong.alert_level == ""
    dog = next(c for c in strong.candidates if c.key == "Canis familiaris")
    assert dog.expected_here is None and dog.weighted == pytest.approx(dog.score)  # neither boost nor penalty
    cat = identify({"Felis catus": 0.9}, *HERE, index, DOMESTIC_TAXA, strict)  # a register lists cats here
    assert cat.verdict.status == "domestic" and cat.alert_level == ""
