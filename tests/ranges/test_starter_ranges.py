"""The starter pack knows where the species its model names live: MDD native countries for every
mammal, GRIIS alien records with their checklists' citations, loaded without ../shared."""

import csv
import gzip

import pytest

from ranges.models import RegionalStatus
from ranges.starter import MDD_EXTRACT, load_griis_extract, load_statuses_and_contacts
from species.starter import STARTER_PACK, imagenet_classes, load_taxa_and_facts, read_csv
from tests.factories import region

MDD_DOI = "https://doi.org/10.5281/zenodo.10595931"


def _model_species() -> dict[str, str]:
    """Species the starter model names -> their class."""
    taxa = {r["scientific_name"]: r for r in read_csv("taxa.csv")}
    _, label_taxa = imagenet_classes()
    return {name: taxa[name]["class"] for name in set(label_taxa) if name and taxa[name]["rank"] == "species"}


def test_every_mammal_the_model_names_has_mdd_native_countries_or_is_domestic():
    """The MDD rows live in mdd_species.csv.gz (every MDD species); native_ranges.csv keeps the
    curated rows and the domestic forms' empty ones."""
    with gzip.open(STARTER_PACK / MDD_EXTRACT, "rt", newline="", encoding="utf-8") as fh:
        mdd = {r["scientific_name"]: r for r in csv.DictReader(fh)}
    curated = {r["scientific_name"]: r for r in read_csv("native_ranges.csv")}
    mammals = [name for name, klass in _model_species().items() if klass == "Mammalia"]
    assert len(mammals) >= 50
    for name in mammals:
        if name in mdd and mdd[name]["countries"]:
            assert not curated.get(name, {}).get("countries"), f"{name}: MDD and a curated row"
            continue
        row = curated.get(name)  # MDD: "Domesticated", no native range (dog, cat, cattle, dromedary, ...)
        assert row is not None and row["countries"] == "", f"{name}: neither MDD countries nor a domestic row"
        assert row["source"] == "RangeWatch starter pack: native ranges", name
    red_fox = mdd["Vulpes vulpes"]["countries"].split()
    assert {"GBR", "DEU", "USA", "CAN"} <= set(red_fox) and "AUS" not in red_fox


def test_griis_extract_covers_only_model_species_and_cites_each_checklist():
    species = _model_species()
    checklists = {r["source"]: r for r in read_csv("griis_checklists.csv")}
    rows = read_csv("griis_statuses.csv")
    assert rows and {r["scientific_name"] for r in rows} <= set(species)
    for row in rows:
        checklist = checklists[row["source"]]
        assert row["source"].startswith("GRIIS checklist: ") and row["status"] in ("introduced", "invasive")
        assert checklist["license"] == "CC-BY-4.0" and "Invasive Species Specialist Group" in checklist["citation"]
        assert checklist["source_url"].startswith("https://")
    fox = {(r["region_code"], r["status"]) for r in rows if r["scientific_name"] == "Vulpes vulpes"}
    assert ("AUS", "invasive") in fox


@pytest.mark.django_db
def test_fresh_install_loads_native_and_alien_records_with_sources():
    """Input: three country regions (no ../shared); the starter pack's taxa, native ranges and GRIIS extract."""
    australia, britain = region("AUS", "country", (113, -44, 154, -10)), region("GBR", "country", (-8, 50, 2, 59))
    region("USA", "country", (-125, 25, -66, 49))
    load_taxa_and_facts()
    first = load_statuses_and_contacts()
    assert first["statuses"] > 0
    fox = RegionalStatus.objects.filter(taxon__scientific_name="Vulpes vulpes")
    native = fox.get(region=britain)
    assert (
        native.status == "native"
        and native.source == "Mammal Diversity Database v1.13"
        and native.source_url == MDD_DOI
    )
    alien = fox.get(region=australia, source__startswith="GRIIS")  # beside the curated "documented introductions" row
    assert alien.status == "invasive" and alien.source == "GRIIS checklist: Australia v1.10 (ISSG)"
    assert alien.note.startswith("Cite: Randall J") and alien.source_url.startswith("https://")
    again = load_griis_extract()
    assert (again["created"], again["updated"]) == (0, 0) and again["unchanged"] > 0
    assert again["skipped"] > 0  # records of countries that are not regions here
    assert load_statuses_and_contacts()["statuses"] == 0
