"""Roll-up and the identify/no-animal/uncertain decision."""

from ml.taxonomy import decide, rollup

PARENTS = {
    "Loxodonta africana": "Loxodonta",
    "Elephas maximus": "Elephas",
    "Loxodonta": "Elephantidae",
    "Elephas": "Elephantidae",
    "Elephantidae": "Proboscidea",
    "Proboscidea": "Mammalia",
    "Mammalia": None,
}
RANKS = {
    "Loxodonta africana": "species",
    "Elephas maximus": "species",
    "Loxodonta": "genus",
    "Elephas": "genus",
    "Elephantidae": "family",
    "Proboscidea": "order",
    "Mammalia": "class",
}


def test_confident_species_is_kept():
    assert rollup({"Loxodonta africana": 0.8, "Elephas maximus": 0.1}, PARENTS, RANKS, 0.5).key == "Loxodonta africana"


def test_doubtful_species_rolls_up_to_family():
    picked = rollup({"Loxodonta africana": 0.3, "Elephantidae": 0.25, "Elephas maximus": 0.1}, PARENTS, RANKS, 0.5)
    assert picked.key == "Elephantidae" and picked.rank == "family"
    assert abs(picked.score - 0.65) < 1e-9


def test_never_rolls_above_family():
    assert rollup({"Loxodonta africana": 0.3, "Proboscidea": 0.3}, PARENTS, RANKS, 0.5) is None


def test_decide_no_animal_and_uncertain():
    assert decide({"no_animal": 0.9, "Loxodonta africana": 0.1}, PARENTS, RANKS, 0.5).outcome == "no_animal"
    low = decide({"no_animal": 0.3, "Loxodonta africana": 0.2, "Elephas maximus": 0.1}, PARENTS, RANKS, 0.5)
    assert low.outcome == "uncertain" and low.key == "Loxodonta africana"
