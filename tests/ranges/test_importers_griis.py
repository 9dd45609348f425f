"""GRIIS worldwide: the vocabularies as published, catalogues with INDEX.csv, synonym rows and areas
without a polygon, on real excerpts of ../shared/data/invasive (written to tmp at test time)."""

import pytest

from ranges.importers.dwc_vocabulary import establishment_means, invasiveness, occurrence_present, rank_and_synonymy
from ranges.models import RegionalStatus
from species.models import Taxon
from species.selectors import taxon_by_name, taxon_lineage
from tests.conftest import shared_path
from tests.ranges.test_importers import NE, _excerpt_csv, _excerpt_geojson, run

COUNTRIES = ("invasive", "griis_countries")
AREAS = ("invasive", "griis_subnational")


@pytest.mark.parametrize(
    "published, darwin_core",
    [
        ("Alien", "introduced"),
        ("alien", "introduced"),
        ("introduced", "introduced"),
        ("", "introduced"),
        ("Cryptogenic|Uncertain", "uncertain"),
        ("cryptogenic|uncertain", "uncertain"),
        ("Cryptogenic|Uncerain", "uncertain"),
        ("Cryptogenic/uncertain", "uncertain"),
        ("Cryptogenic|Unknown", "uncertain"),
        ("Native|Alien", "native|introduced"),
        ("Native/Alien", "native|introduced"),
        ("Alien/Native", "native|introduced"),
        ("native", None),
        ("Vagrant", None),
    ],
)
def test_establishment_means_to_darwin_core(published, darwin_core):
    assert establishment_means(published) == darwin_core


@pytest.mark.parametrize(
    "published, degree, counted",
    [
        ("Invasive", "invasive", True),
        ("invasive", "invasive", True),
        ("Yes", "invasive", True),
        ("YES", "invasive", True),
        ("TRUE", "invasive", True),
        ("Null", "", True),
        ("null", "", True),
        ("FALSE", "", True),
        ("", "", True),
        ("Invasive?", "", True),
        ("Invasive ?", "", True),
        ("Invasive in the north of the island (122).", "invasive", True),
        ("maybe", "", False),
    ],
)
def test_is_invasive_to_degree_of_establishment(published, degree, counted):
    read = invasiveness(published)
    assert (read.degree, read.recognised) == (degree, counted)
    assert ("?" in published) == ("doubtful" in read.note)


def test_rank_and_synonymy_reads_swapped_columns():
    assert rank_and_synonymy("SPECIES", "ACCEPTED") == ("species", False)
    assert rank_and_synonymy("SYNONYM", "SPECIES") == ("species", True)  # Great Britain, Cervus canadensis
    assert rank_and_synonymy("species", "HOMOTYPIC_SYNONYM") == ("species", True)
    assert rank_and_synonymy("VARIETY", "SYNOYM") == ("subspecies", True)
    assert rank_and_synonymy("", "") == ("", False)
    assert occurrence_present("Present") and occurrence_present("") and not occurrence_present("Uncertain")


def _catalogue(tmp_path, folder, wanted: dict[str, callable]):
    """A catalogue folder: INDEX.csv rows of the wanted files, each file cut to the rows `keep` accepts."""
    out = tmp_path / folder[-1]
    out.mkdir()
    _excerpt_csv(shared_path(*folder, "INDEX.csv"), out, lambda r: r["file"] in wanted)
    for name, keep in wanted.items():
        _excerpt_csv(shared_path(*folder, name), out, keep)
    return out


def _named(*prefixes):
    return lambda r: r["scientificName"].startswith(prefixes)


@pytest.fixture
def regions(tmp_path):
    countries = _excerpt_geojson(
        shared_path(*NE, "ne_50m_admin_0_countries.json"),
        tmp_path,
        "ne_50m_admin_0_countries.json",
        lambda p: p["ADM0_A3"] in {"GBR", "BRA", "AUS", "POL", "YEM", "NZL", "ECU", "FRA", "MHL"},
    )
    run("natural-earth", countries)


@pytest.fixture
def mammals(tmp_path):
    """MDD rows of the mammals the excerpts name, so that the taxonomy here knows both names of a
    GBIF synonym (wapiti and red deer, dog and wolf)."""
    names = {
        "Cervus_canadensis",
        "Cervus_elaphus",
        "Canis_familiaris",
        "Canis_lupus",
        "Vulpes_vulpes",
        "Sciurus_carolinensis",
        "Trichosurus_vulpecula",
    }
    mdd = tmp_path / "mdd"
    mdd.mkdir()
    _excerpt_csv(
        shared_path("ranges", "mdd_mammal_native_countries", "MDD_v1.13_6753species.csv"),
        mdd,
        lambda r: r["sciName"] in names,
    )
    _excerpt_csv(shared_path("ranges", "mdd_mammal_native_countries", "mdd_country_to_iso3.csv"), mdd, lambda r: True)
    run("mdd", mdd)


def _status(name, region):
    return RegionalStatus.objects.get(
        taxon=taxon_by_name(name), region__code=region, source__startswith="GRIIS checklist"
    )


@pytest.mark.django_db
def test_national_catalogue_vocabularies_synonyms_and_citations(tmp_path, regions, mammals):
    """Input: real rows of seven national checklists. Great Britain lists the wapiti as 'Cervus canadensis',
    a GBIF synonym of Cervus elaphus (with its status columns swapped); Brazil lists 'Canis familiaris',
    a GBIF synonym of Canis lupus. Poland spells 'Cryptogenic|Uncerain'; Yemen uses TRUE/FALSE and
    'cryptogenic/uncertain'; Australia has 'Native|Alien'; New Zealand 'introduced'; French Guiana has
    no polygon of its own here."""
    catalogue = _catalogue(
        tmp_path,
        COUNTRIES,
        {
            "griis_great_britain.csv": _named("Cervus canadensis", "Sciurus carolinensis", "Psittacula krameri"),
            "griis_brazil.csv": _named("Canis familiaris"),
            "griis_poland.csv": lambda r: r["establishmentMeans"] == "Cryptogenic|Uncerain",
            "griis_yemen.csv": lambda r: (
                r["isInvasive"] in ("TRUE", "FALSE") or r["establishmentMeans"] == "cryptogenic/uncertain"
            ),
            "griis_australia.csv": lambda r: (
                r["scientificName"].startswith("Vulpes vulpes") or r["establishmentMeans"] == "Native|Alien"
            ),
            "griis_new_zealand.csv": lambda r: (
                r["establishmentMeans"] == "introduced" or r["scientificName"].startswith("Trichosurus vulpecula")
            ),
            "griis_french_guiana.csv": lambda r: True,
        },
    )
    report = run("griis", catalogue)

    # Synonym rows land on the species the register names, not on GBIF's lumped species.
    wapiti = _status("Cervus canadensis", "GBR")
    assert wapiti.taxon.scientific_name == "Cervus canadensis" and wapiti.status == "introduced"
    griis = RegionalStatus.objects.filter(source__startswith="GRIIS checklist")
    assert not griis.filter(
        taxon__scientific_name="Cervus elaphus", region__code="GBR"
    ).exists()  # red deer is native there
    assert _status("Canis familiaris", "BRA").status == "invasive"
    assert not griis.filter(taxon__scientific_name="Canis lupus", region__code="BRA").exists()
    assert any(
        line.startswith("    synonym rows: ") and "on the taxon the register names" in line
        for line in report.summary_lines()
    ), report.summary_lines()

    # Each status cites its checklist.
    squirrel = _status("Sciurus carolinensis", "GBR")
    assert squirrel.status == "invasive" and squirrel.source == "GRIIS checklist: Great Britain v1.7 (ISSG)"
    assert squirrel.source_url.startswith("https://") and "Cite: Roy H, Rorke S" in squirrel.note
    assert _status("Psittacula krameri", "GBR").status == "invasive"
    assert (
        _status("Vulpes vulpes", "AUS").status == "invasive"
        and _status("Trichosurus vulpecula", "NZL").status == "invasive"
    )

    # The vocabularies, as Darwin Core.
    def means(region):
        return set(griis.filter(region__code=region).values_list("establishment_means", flat=True))

    assert means("POL") == {"uncertain"} and "uncertain" in means("YEM") and "native|introduced" in means("AUS")
    assert means("NZL") == {"introduced"}
    yemen = griis.filter(region__code="YEM")
    assert {"invasive", "introduced"} <= set(yemen.values_list("status", flat=True))
    assert not yemen.filter(status="invasive").exclude(degree_of_establishment="invasive").exists()

    # Every kingdom imports, with the lineage its row gives.
    plant = griis.filter(region__code="POL", taxon__rank="species").first().taxon
    assert [t.rank for t in taxon_lineage(plant)][-1] == "kingdom"
    assert {t.scientific_name for t in Taxon.objects.filter(rank="kingdom")} >= {"Animalia", "Plantae"}

    assert report.rejected["area has no polygon here: checklist not imported"] == 1
    assert "French Guiana [GF]" in report.rejected_examples["area has no polygon here: checklist not imported"]
    again = run("griis", catalogue)
    assert again.changed == 0, again.summary_lines()


@pytest.mark.django_db
def test_sub_national_areas_without_a_polygon_are_reported_not_widened(tmp_path, regions):
    """Input: the Galápagos checklist (locationID EC-W) and an atoll of the Marshall Islands (no locationID):
    Ecuador and the Marshall Islands are imported, but neither area has a polygon of its own here."""
    catalogue = _catalogue(
        tmp_path,
        AREAS,
        {
            "griis_galapagos_islands_ecuador.csv": lambda r: True,
            "griis_majuro_atoll_marshall_islands.csv": lambda r: True,
        },
    )
    report = run("griis-areas", catalogue)
    assert report.rejected["area has no polygon here: checklist not imported"] == 2, report.summary_lines()
    assert not RegionalStatus.objects.exists()
    # The same files given one by one, as national checklists, are not widened to their countries either.
    single = run("griis", catalogue / "griis_galapagos_islands_ecuador.csv")
    assert single.rejected and not RegionalStatus.objects.exists()
