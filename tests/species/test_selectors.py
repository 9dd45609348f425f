"""Taxon lookup by name: accepted name, synonym, underscores, case, authorship (taxon_by_name for
the API, TaxonNames for the importers)."""
import pytest

from species.models import TaxonSynonym
from species.selectors import TaxonNames, canonical_name, normalise_name, taxon_by_key_or_id, taxon_by_name
from tests.factories import TaxonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mongooses():
    urva = TaxonFactory(scientific_name="Urva auropunctata")
    javan = TaxonFactory(scientific_name="Urva javanica")
    genus = TaxonFactory(scientific_name="Urva", rank="genus")
    TaxonSynonym.objects.create(taxon=urva, name="Herpestes javanicus", source="test")
    return {"auropunctata": urva, "javanica": javan, "genus": genus}


@pytest.mark.parametrize("name", ["Mus Coypus", "mus_coypus", "  Mus   coypus ", "MUS COYPUS"])
def test_normalise_name(name):
    assert normalise_name(name) == "Mus coypus", f"input {name!r}"


@pytest.mark.parametrize("name, expected", [
    ("Herpestes javanicus (É. Geoffroy Saint-Hilaire, 1818)", "Herpestes javanicus"),
    ("Herpestes_javanicus", "Herpestes javanicus"),
    ("Ovis gmelinii subsp. musimon (Pallas, 1811)", "Ovis gmelinii musimon"),
])
def test_canonical_name(name, expected):
    assert canonical_name(name) == expected, f"input {name!r}"


@pytest.mark.parametrize("name, expected", [
    ("Urva auropunctata", "auropunctata"),  # accepted
    ("urva_auropunctata", "auropunctata"),  # underscores, case
    ("URVA AUROPUNCTATA", "auropunctata"),
    ("Herpestes javanicus", "auropunctata"),  # synonym
    ("herpestes_javanicus", "auropunctata"),  # synonym with underscores and lower case
    ("HERPESTES  JAVANICUS", "auropunctata"),
    ("Herpestes javanicus (É. Geoffroy Saint-Hilaire, 1818)", "auropunctata"),  # synonym with authorship
    ("Herpestes Javanicus", "auropunctata"),  # a capitalised epithet, as in old original combinations
    ("Herpestes Javanicus É. Geoffroy Saint-Hilaire, 1818", "auropunctata"),
    ("Urva javanica", "javanica"),  # the strict-sense Javan mongoose keeps its own name
    ("Urva", "genus"),
])
def test_taxon_by_name_accepted_synonym_underscores_case(mongooses, name, expected):
    assert taxon_by_name(name) == mongooses[expected], f"input {name!r}"


@pytest.mark.parametrize("name", ["", "   ", "Herpestes", "Herpestes edwardsii", "Nullus datus"])
def test_taxon_by_name_unknown_is_none(mongooses, name):
    assert taxon_by_name(name) is None, f"input {name!r}"


def test_taxon_by_key_or_id_takes_synonyms_and_ids(mongooses):
    urva = mongooses["auropunctata"]
    assert taxon_by_key_or_id("Herpestes javanicus") == urva
    assert taxon_by_key_or_id(str(urva.pk)) == urva


def test_accepted_name_beats_a_synonym_of_the_same_spelling(mongooses):
    # A synonym that is also an accepted name (importers refuse these, the admin might not).
    TaxonSynonym.objects.create(taxon=mongooses["auropunctata"], name="urva javanica", source="test")
    assert taxon_by_name("Urva javanica") == mongooses["javanica"]
    assert TaxonNames().resolve("Urva javanica") == (mongooses["javanica"].pk, "accepted")


@pytest.mark.parametrize("name, how", [
    ("Urva auropunctata", "accepted"),
    ("urva_auropunctata", "accepted"),
    ("Urva auropunctata Hodgson, 1836", "accepted"),
    ("Herpestes javanicus", "synonym"),
    ("herpestes_javanicus", "synonym"),
    ("Herpestes javanicus (É. Geoffroy Saint-Hilaire, 1818)", "synonym"),
    ("Herpestes Javanicus", "synonym"),
    ("Herpestes Javanicus É. Geoffroy Saint-Hilaire, 1818", "synonym"),
    ("Herpestes javanicus auropunctatus", "synonym of species"),
    ("Urva auropunctata pallipes", "species of infraspecific name"),
])
def test_taxon_names_resolve_says_how(mongooses, name, how):
    assert TaxonNames().resolve(name) == (mongooses["auropunctata"].pk, how), f"input {name!r}"


def test_genus_with_authorship_stays_a_genus(mongooses):
    assert TaxonNames().resolve("Urva Hodgson, 1837") == (mongooses["genus"].pk, "accepted")
    assert taxon_by_name("Urva Hodgson, 1837") == mongooses["genus"]


def test_taxon_names_unmatched(mongooses):
    assert TaxonNames().resolve("Herpestes edwardsii") == (None, "unmatched")
    assert TaxonNames().resolve("") == (None, "unmatched")
