"""Taxon lookup by name: accepted name, synonym, underscores, case, authorship (taxon_by_name for
the API, TaxonNames for the importers)."""

import pytest
from django.db.models import F

from species.models import Taxon, TaxonSynonym
from species.selectors import TaxonNames, canonical_name, normalise_name, taxon_by_key_or_id, taxon_by_name, taxon_tree
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


@pytest.mark.parametrize(
    "name, expected",
    [
        ("Herpestes javanicus (É. Geoffroy Saint-Hilaire, 1818)", "Herpestes javanicus"),
        ("Herpestes_javanicus", "Herpestes javanicus"),
        ("Ovis gmelinii subsp. musimon (Pallas, 1811)", "Ovis gmelinii musimon"),
    ],
)
def test_canonical_name(name, expected):
    assert canonical_name(name) == expected, f"input {name!r}"


@pytest.mark.parametrize(
    "name, expected",
    [
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
    ],
)
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


@pytest.mark.parametrize(
    "name, how",
    [
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
    ],
)
def test_taxon_names_resolve_says_how(mongooses, name, how):
    assert TaxonNames().resolve(name) == (mongooses["auropunctata"].pk, how), f"input {name!r}"


def test_genus_with_authorship_stays_a_genus(mongooses):
    assert TaxonNames().resolve("Urva Hodgson, 1837") == (mongooses["genus"].pk, "accepted")
    assert taxon_by_name("Urva Hodgson, 1837") == mongooses["genus"]


def test_taxon_names_unmatched(mongooses):
    assert TaxonNames().resolve("Herpestes edwardsii") == (None, "unmatched")
    assert TaxonNames().resolve("") == (None, "unmatched")


# -- the taxon tree: owned by species, invalidated by every species write ----------------------


def test_taxon_tree_is_kept_until_the_taxonomy_changes():
    genus = TaxonFactory(scientific_name="Urva", rank="genus")
    TaxonFactory(scientific_name="Urva auropunctata", parent=genus)
    tree = taxon_tree()
    assert taxon_tree() is tree  # no write: the same copy
    assert tree.parents["Urva auropunctata"] == "Urva" and tree.member_species("Urva") == ["Urva auropunctata"]


def test_every_species_write_reaches_the_taxon_tree_without_a_range_write():
    from ranges.index_cache import data_version
    from species.services import SynonymRow, TaxonRecord, taxa_ensure, taxon_synonym_add, taxon_synonyms_sync

    genus = TaxonFactory(scientific_name="Urva", rank="genus")
    urva = TaxonFactory(scientific_name="Urva auropunctata", parent=genus)
    ranges_version = data_version()
    assert taxon_tree().member_species("Urva") == ["Urva auropunctata"]

    TaxonFactory(scientific_name="Urva javanica", parent=genus)  # an instance save (admin, shell)
    assert taxon_tree().member_species("Urva") == ["Urva auropunctata", "Urva javanica"]

    taxon_synonym_add(taxon=urva, name="Herpestes javanicus")
    assert taxon_tree().accepted_name("Herpestes javanicus") == "Urva auropunctata"

    _, counts = taxa_ensure([TaxonRecord("Urva edwardsii", "species", lineage=(("genus", "Urva"),))])  # a bulk write
    assert counts["created"] == 1 and "Urva edwardsii" in taxon_tree().member_species("Urva")

    sync = taxon_synonyms_sync(rows=[SynonymRow("Herpestes edwardsii", taxon_tree_id("Urva edwardsii"), "test")])
    assert sync.counts["created"] == 1 and taxon_tree().accepted_name("Herpestes edwardsii") == "Urva edwardsii"

    TaxonSynonym.objects.get(name="Herpestes javanicus").delete()
    assert taxon_tree().accepted_name("Herpestes javanicus") == "Herpestes javanicus"
    assert data_version() == ranges_version  # the range index was never rebuilt for any of it


def test_another_process_write_is_seen_through_the_version():
    """A write in another process moves the version row; this process's copy is then stale."""
    from species.models import TaxonomyVersion

    genus = TaxonFactory(scientific_name="Urva", rank="genus")
    tree = taxon_tree()
    Taxon.objects.bulk_create(
        [Taxon(scientific_name="Urva smithii", rank="species", parent=genus)]
    )  # no signal, no bump
    assert taxon_tree() is tree  # not seen yet: nothing said the taxonomy moved
    TaxonomyVersion.objects.update(version=F("version") + 1)  # what taxonomy_changed() does elsewhere
    assert taxon_tree().member_species("Urva") == ["Urva smithii"]


def test_genus_verdict_sees_a_new_member_at_once(monkeypatch):
    """The bug this ownership fixes: a new species was invisible to group verdicts until an
    unrelated range write rebuilt the index."""
    from ranges.at_point import verdict_at
    from ranges.verdict import CompleteChecklist
    from tests.factories import region, status

    # The genus's member list counts as complete (as MDD makes a mammal genus): out_of_range is possible.
    monkeypatch.setattr("ranges.verdict.COMPLETE_CHECKLISTS", (CompleteChecklist("Urva", "", 1),))
    genus = TaxonFactory(scientific_name="Urva", rank="genus")
    first = TaxonFactory(scientific_name="Urva auropunctata", parent=genus)
    here, elsewhere = region("AAA", "country", (0, 0, 10, 10)), region("BBB", "country", (20, 0, 30, 10))
    status(first, elsewhere, "native")
    assert verdict_at("Urva", 5, 5).status == "out_of_range"  # its only member is native elsewhere
    second = TaxonFactory(scientific_name="Urva javanica", parent=genus)  # no range data yet
    assert verdict_at("Urva", 5, 5).status == "unknown"  # it could be the one native here
    status(second, here, "native")
    assert verdict_at("Urva", 5, 5).status == "native"


def taxon_tree_id(name: str) -> int:
    return Taxon.objects.get(scientific_name=name).pk
