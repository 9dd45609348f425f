"""Camera-trap class names to taxa: curated labels decide, names and synonyms match, SpeciesNet's
common names count, a genus and its species on one lineage give the species, and an ambiguous or
unknown name is reported with the reason, never guessed."""

import json

import pytest
from django.core.management import call_command

from species.label_matching import match_labels_to_taxa
from tests.conftest import shared_path
from tests.factories import TaxonFactory

pytestmark = pytest.mark.django_db


@pytest.mark.slow(reason="imports the SpeciesNet taxonomy from ../shared: about 10 s")
def test_every_class_of_the_shared_photos_matches_after_the_readme_imports(tmp_path):
    """The README's order: bootstrap's starter pack, then the MDD import; then train_classifier on
    ../shared/data/photos/photos_index.cct.json must not stop on unmatched classes."""
    from species.starter import load_taxa_and_facts

    index = shared_path("photos", "photos_index.cct.json")
    classes = [c["name"] for c in json.loads(index.read_text())["categories"]]
    load_taxa_and_facts()
    call_command(
        "import_data",
        "mdd",
        str(shared_path("ranges", "mdd_mammal_native_countries")),
        stdout=(tmp_path / "log").open("w"),
    )

    matching = match_labels_to_taxa(classes)

    assert matching.unmatched == []
    assert len(matching.taxa) == len(classes) == 22
    assert {
        k: matching.taxa[k]
        for k in ("civet", "porcupine", "wildcat", "aardwolf", "ostrich", "caracal", "mongoose", "blank", "vehicle")
    } == {
        "civet": "Civettictis civetta",
        "porcupine": "Hystrix cristata",
        "wildcat": "Felis lybica",
        "aardwolf": "Proteles septentrionalis",
        "ostrich": "Struthio camelus",
        "caracal": "Caracal caracal",
        "mongoose": "Herpestidae",
        "blank": None,
        "vehicle": None,
    }
    assert matching.how["civet"] == "curated in camera_trap_labels.csv"


def test_a_name_shared_by_taxa_on_different_branches_is_reported_not_guessed():
    TaxonFactory(scientific_name="Hystrix", rank="genus", common_name="porcupines")
    TaxonFactory(scientific_name="Erethizon", rank="genus", common_name="porcupines")

    matching = match_labels_to_taxa(["porcupines"], curated=None)

    assert matching.taxa == {}
    (unmatched,) = matching.unmatched
    assert unmatched.label == "porcupines"
    assert (
        "ambiguous, 2 taxa go by 'porcupines': Erethizon (genus, porcupines), Hystrix (genus, porcupines)"
        in unmatched.reason
    )


def test_a_genus_and_its_species_on_one_lineage_give_the_species():
    genus = TaxonFactory(scientific_name="Caracal", rank="genus")
    TaxonFactory(scientific_name="Caracal caracal", common_name="Caracal", parent=genus)

    assert match_labels_to_taxa(["caracal"], curated=None).taxa == {"caracal": "Caracal caracal"}


def test_speciesnet_common_names_match_when_ours_differ():
    TaxonFactory(
        scientific_name="Loxodonta africana",
        common_name="African bush elephant",
        speciesnet_label="55631055-3e0e-4b7a-9612-dedebe9f78b0;mammalia;proboscidea;elephantidae;loxodonta;africana;"
        "african elephant",
    )

    assert match_labels_to_taxa(["african elephant"], curated=None).taxa == {"african elephant": "Loxodonta africana"}


def test_a_curated_label_whose_taxon_is_not_loaded_says_what_to_import(tmp_path):
    curated = tmp_path / "labels.csv"
    curated.write_text("label,scientific_name,source,note\ncivet,Civettictis civetta,https://example.org,\n")
    TaxonFactory(scientific_name="Paradoxurus hermaphroditus", common_name="Asian palm civet")

    (unmatched,) = match_labels_to_taxa(["civet"], curated=curated).unmatched

    assert unmatched.reason.startswith("labels.csv names Civettictis civetta, which is not a taxon here yet (import")


def test_an_unknown_name_lists_similar_common_names():
    TaxonFactory(scientific_name="Paradoxurus hermaphroditus", common_name="Asian palm civet")

    (unmatched,) = match_labels_to_taxa(["civet"], curated=None).unmatched

    assert (
        str(unmatched) == "civet: no taxon has this scientific or common name; "
        "common names like it: Paradoxurus hermaphroditus (species, Asian palm civet)"
    )
