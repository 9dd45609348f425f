"""Taxa are unique by (name, rank, kingdom), and every lookup says which branch it expects."""

import pytest

from ranges.importers import ImportConfig, data_import
from species.models import Taxon
from species.selectors import taxa_by_keys, taxon_by_name, taxon_key, taxon_names, taxon_tree
from species.services import TaxonRecord, taxa_ensure
from tests.conftest import shared_path

pytestmark = pytest.mark.django_db

ELEPHANT = (("kingdom", "Animalia"), ("class", "Mammalia"), ("order", "Proboscidea"), ("family", "Elephantidae"))
UNICORN_PLANT = (("kingdom", "Plantae"), ("order", "Lamiales"), ("family", "Martyniaceae"), ("genus", "Proboscidea"))


def _both():
    taxa_ensure([TaxonRecord("Loxodonta africana", "species", "", (*ELEPHANT, ("genus", "Loxodonta")))])
    taxa_ensure([TaxonRecord("Proboscidea louisianica", "species", "", UNICORN_PLANT)])


def test_a_plant_genus_never_lands_on_the_animal_order_of_its_name():
    _both()
    assert sorted(Taxon.objects.filter(scientific_name="Proboscidea").values_list("rank", "kingdom")) == [
        ("genus", "Plantae"),
        ("order", "Animalia"),
    ]
    tree = taxon_tree()
    assert tree.ranks["Proboscidea"] == "order" and tree.parents["Elephantidae"] == "Proboscidea"
    assert tree.parents["Proboscidea louisianica"] == "Proboscidea (Plantae)"
    assert tree.member_species("Proboscidea") == ["Loxodonta africana"]
    plant = Taxon.objects.get(scientific_name="Proboscidea", kingdom="Plantae")
    assert taxon_key(plant) == "Proboscidea (Plantae)" and taxa_by_keys(["Proboscidea (Plantae)"]) == {
        "Proboscidea (Plantae)": plant
    }


def test_lookups_say_which_kingdom_they_mean():
    _both()
    assert taxon_by_name("Proboscidea").rank == "order"  # a bare name is an animal
    assert taxon_by_name("Proboscidea", kingdom="Plantae").rank == "genus"
    assert taxon_by_name("Proboscidea louisianica") is None  # no animal by that name
    assert taxon_by_name("Proboscidea louisianica", kingdom=None).kingdom == "Plantae"
    names = taxon_names()
    order = Taxon.objects.get(scientific_name="Proboscidea", rank="order").pk
    genus = Taxon.objects.get(scientific_name="Proboscidea", rank="genus").pk
    assert names.resolve("Proboscidea", "Animalia")[0] == order
    assert names.resolve("Proboscidea", "Plantae")[0] == genus
    assert names.resolve("Proboscidea", "Fungi") == (None, "unmatched")  # a genus name stays in its kingdom
    # A species name filed under another kingdom by a register is still that species.
    pk, how = names.resolve("Loxodonta africana", "Plantae")
    assert pk == Taxon.objects.get(scientific_name="Loxodonta africana").pk and "another kingdom" in how


def test_griis_belgium_reports_the_homonym_it_makes():
    """Belgium's checklist lists the unicorn plant; after the starter pack, the import says that
    Proboscidea is now an order in Animalia and a genus in Plantae."""
    from django.core.management import call_command

    path = shared_path("invasive", "griis_belgium", "griis_belgium.csv")
    call_command("bootstrap", "--skip-counties", "--skip-model", verbosity=0)
    report = data_import(ImportConfig(fmt="griis", paths=(path,), progress=False))
    assert "Proboscidea: genus in Plantae, order in Animalia" in report.homonyms
    assert any("same name in several kingdoms" in line for line in report.summary_lines())
    assert taxon_by_name("Proboscidea").kingdom == "Animalia"
    again = data_import(ImportConfig(fmt="griis", paths=(path,), progress=False))
    assert again.homonyms == [] and again.changed == 0
