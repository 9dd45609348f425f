"""The starter pack's names and facts read as words for people: real common names or none, no
placeholders ("loxodonta species", "old world porcupine family"), no talk of the model's classes."""

import csv
import json
import re
from pathlib import Path

PACK = Path(__file__).resolve().parents[2] / "species" / "starter_pack"
PLACEHOLDER = re.compile(r"\b(species|family|genus|order|class)$", re.IGNORECASE)
JARGON = re.compile(r"\bthe model\b|\bclass(es)?\b|'[a-z ]+' class|imagenet|\blabel", re.IGNORECASE)


def test_common_names_are_real_names_or_empty():
    rows = list(csv.DictReader((PACK / "taxa.csv").open(encoding="utf-8")))
    placeholders = [(r["scientific_name"], r["common_name"]) for r in rows if PLACEHOLDER.search(r["common_name"])]
    assert placeholders == []
    # Sentence case as sources give it: lower case except proper nouns ("Old World monkeys", "Nile crocodile").
    shouting = [r["common_name"] for r in rows if r["common_name"] and r["common_name"].split()[-1][:1].isupper()]
    assert shouting == []
    assert {r["scientific_name"]: r["common_name"] for r in rows}["Loxodonta"] == "African elephants"


def test_fact_cards_do_not_talk_about_the_model():
    cards = json.loads((PACK / "species_info.json").read_text(encoding="utf-8"))
    fields = ("summary", "habitat", "diet", "conservation_note", "how_to_help")
    jargon = [(c["scientific_name"], c[f]) for c in cards for f in fields if JARGON.search(c.get(f) or "")]
    assert jargon == []
