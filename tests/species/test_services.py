"""taxon_synonyms_sync: bulk, idempotent, never a synonym that is an accepted name, first writer wins."""

import pytest

from species.models import TaxonSynonym
from species.services import (
    REASON_ACCEPTED,
    REASON_AMBIGUOUS,
    REASON_TAKEN,
    SynonymRow,
    taxon_synonym_add,
    taxon_synonyms_sync,
)
from tests.factories import TaxonFactory

pytestmark = pytest.mark.django_db
MDD = "MDD v1.13"


@pytest.fixture
def taxa():
    return {
        n: TaxonFactory(scientific_name=n)
        for n in ("Myocastor coypus", "Lariscus obscurus", "Funambulus obscurus", "Urva auropunctata", "Urva javanica")
    }


def test_creates_normalised_synonyms_then_nothing_changes(taxa):
    rows = [
        SynonymRow(
            "Mus Coypus",
            taxa["Myocastor coypus"].pk,
            MDD,
            "https://doi.org/10.5281/zenodo.10595931",
            "original combination",
        )
    ]
    first = taxon_synonyms_sync(rows=rows)
    assert first.counts == {"created": 1, "updated": 0, "unchanged": 0} and not first.rejected
    synonym = TaxonSynonym.objects.get()
    assert (synonym.name, synonym.taxon, synonym.source) == (
        "Mus coypus",
        taxa["Myocastor coypus"],
        MDD,
    )  # input "Mus Coypus"
    again = taxon_synonyms_sync(rows=rows)
    assert again.counts == {"created": 0, "updated": 0, "unchanged": 1}


def test_a_synonym_that_is_another_taxons_accepted_name_is_not_added(taxa):
    # MDD v1.13: Lariscus obscurus was described as Funambulus obscurus, today another species' name.
    result = taxon_synonyms_sync(rows=[SynonymRow("Funambulus obscurus", taxa["Lariscus obscurus"].pk, MDD)])
    assert result.counts["created"] == 0 and not TaxonSynonym.objects.exists()
    assert result.rejected == [(REASON_ACCEPTED, "Funambulus obscurus (for Lariscus obscurus)")]


def test_the_taxons_own_name_is_skipped_silently(taxa):
    result = taxon_synonyms_sync(rows=[SynonymRow("myocastor_coypus", taxa["Myocastor coypus"].pk, MDD)])
    assert result.counts == {"created": 0, "updated": 0, "unchanged": 0} and not result.rejected


def test_one_name_for_two_taxa_in_one_source_is_not_added(taxa):
    rows = [
        SynonymRow("Herpestes javanicus", taxa["Urva auropunctata"].pk, "src"),
        SynonymRow("Herpestes javanicus", taxa["Urva javanica"].pk, "src"),
    ]
    result = taxon_synonyms_sync(rows=rows)
    assert not TaxonSynonym.objects.exists()
    assert result.rejected == [(REASON_AMBIGUOUS, "Herpestes javanicus (for Urva auropunctata, Urva javanica)")]


def test_first_source_wins_and_a_source_may_correct_its_own_rows(taxa):
    taxon_synonyms_sync(rows=[SynonymRow("Herpestes javanicus", taxa["Urva auropunctata"].pk, "curated")])
    other = taxon_synonyms_sync(rows=[SynonymRow("Herpestes javanicus", taxa["Urva javanica"].pk, "another source")])
    assert other.rejected and other.rejected[0][0] == REASON_TAKEN
    assert TaxonSynonym.objects.get(name="Herpestes javanicus").taxon == taxa["Urva auropunctata"]
    same_taxon = taxon_synonyms_sync(
        rows=[SynonymRow("Herpestes javanicus", taxa["Urva auropunctata"].pk, "another source")]
    )
    assert same_taxon.counts["unchanged"] == 1 and TaxonSynonym.objects.get().source == "curated"
    corrected = taxon_synonyms_sync(
        rows=[SynonymRow("Herpestes javanicus", taxa["Urva javanica"].pk, "curated", note="fixed")]
    )
    assert corrected.counts["updated"] == 1
    assert TaxonSynonym.objects.get().taxon == taxa["Urva javanica"]


def test_existing_synonym_is_found_whatever_its_case(taxa):
    TaxonSynonym.objects.create(taxon=taxa["Myocastor coypus"], name="mus coypus", source=MDD)
    result = taxon_synonyms_sync(rows=[SynonymRow("Mus Coypus", taxa["Myocastor coypus"].pk, MDD)])
    assert result.counts["unchanged"] == 1 and TaxonSynonym.objects.count() == 1


def test_taxon_synonym_add_normalises_and_replaces(taxa):
    taxon_synonym_add(taxon=taxa["Urva javanica"], name="herpestes_javanicus", source="admin")
    synonym = taxon_synonym_add(taxon=taxa["Urva auropunctata"], name="Herpestes javanicus", source="admin")
    assert synonym.name == "Herpestes javanicus" and TaxonSynonym.objects.get().taxon == taxa["Urva auropunctata"]
