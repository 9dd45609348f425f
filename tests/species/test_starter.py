"""The curated synonyms (species/starter_pack/synonyms.csv) and their loading by the starter pack."""

import re

import pytest

from species.models import Taxon, TaxonSynonym
from species.selectors import normalise_name, taxon_by_name
from species.services import REASON_ACCEPTED
from species.starter import REASON_NO_ACCEPTED, SYNONYMS_SOURCE, load_synonyms, load_taxa_and_facts, read_csv
from tests.factories import TaxonFactory

SOURCE_URL = re.compile(
    r"https://(www\.mammaldiversity\.org/taxon/\d+/|www\.itis\.gov/servlet/SingleRpt/SingleRpt\?search_topic=TSN&search_value=\d+|www\.gbif\.org/species/\d+)$"
)


def test_curated_list_is_well_formed():
    rows = read_csv("synonyms.csv")
    assert set(rows[0]) == {"synonym", "accepted", "source", "note"}
    pairs = {(r["synonym"], r["accepted"]) for r in rows}
    assert {("Herpestes javanicus", "Urva auropunctata"), ("Herpestes auropunctatus", "Urva auropunctata")} <= pairs
    synonyms = [normalise_name(r["synonym"]) for r in rows]
    assert len(synonyms) == len(set(synonyms)), "a synonym listed twice"
    accepted = {normalise_name(r["accepted"]) for r in rows}
    for row in rows:
        assert (
            normalise_name(row["synonym"]) == row["synonym"] and normalise_name(row["accepted"]) == row["accepted"]
        ), row
        assert row["synonym"] != row["accepted"] and row["synonym"] not in accepted, row
        assert SOURCE_URL.match(row["source"]), (
            f"{row['synonym']}: source {row['source']!r} is not an MDD, ITIS or GBIF species page"
        )
        assert row["note"].strip(), row["synonym"]


@pytest.mark.django_db
def test_load_synonyms_skips_missing_accepted_names_and_is_idempotent():
    urva = TaxonFactory(scientific_name="Urva auropunctata")
    mink = TaxonFactory(scientific_name="Neogale vison")
    first = load_synonyms()
    assert first.counts["created"] == 4  # two mongoose names, two mink names; nothing else is a taxon here
    assert taxon_by_name("Herpestes javanicus") == urva and taxon_by_name("herpestes_auropunctatus") == urva
    assert taxon_by_name("Neovison vison") == mink and taxon_by_name("Mustela vison") == mink
    synonym = TaxonSynonym.objects.get(name="Herpestes javanicus")
    assert (
        synonym.source == SYNONYMS_SOURCE
        and synonym.source_url == "https://www.mammaldiversity.org/taxon/1006050/"
        and "Hawaii" in synonym.note
    )
    assert (REASON_NO_ACCEPTED, "Bison bison -> Bos bison") in first.rejected  # Bos bison comes with the MDD import
    again = load_synonyms()
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 4}


@pytest.mark.django_db
def test_load_synonyms_refuses_a_synonym_that_is_an_accepted_name():
    # The SpeciesNet taxonomy has Bison bison as a species of its own; MDD has Bos bison.
    TaxonFactory(scientific_name="Bison bison")
    TaxonFactory(scientific_name="Bos bison")
    result = load_synonyms()
    assert (REASON_ACCEPTED, "Bison bison (for Bos bison)") in result.rejected
    assert not TaxonSynonym.objects.filter(name="Bison bison").exists()
    assert taxon_by_name("Bison bison").scientific_name == "Bison bison"


@pytest.mark.slow(reason="loads the whole starter pack: about 15 s")
@pytest.mark.django_db
def test_starter_pack_loads_synonyms_after_its_taxa():
    counts = load_taxa_and_facts()
    assert counts["synonyms_created"] >= 4 and counts["synonyms_skipped"] > 0  # input: the whole starter pack
    assert taxon_by_name("Herpestes javanicus") == Taxon.objects.get(
        scientific_name="Urva auropunctata", rank="species"
    )
    assert taxon_by_name("Rana catesbeiana").scientific_name == "Lithobates catesbeianus"
    again = load_taxa_and_facts()
    assert again["synonyms_created"] == 0 and again["synonyms_updated"] == 0
