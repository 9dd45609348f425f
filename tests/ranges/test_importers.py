"""Each importer on small excerpts of the real data in ../shared/data (written to tmp at test time)."""

import csv
import json

import pytest
import shapely
from django.core.management import CommandError, call_command

from ranges.importers import ImportConfig, data_import
from ranges.importers.report import ImportInputError
from ranges.index_cache import build_range_index
from ranges.models import GeofenceEntry, RangePolygon, Region, RegionalStatus
from ranges.verdict import verdict
from species.models import Taxon, TaxonSynonym
from tests.conftest import shared_path

pytestmark = pytest.mark.django_db
NE = ("geo", "natural_earth")


def _excerpt_geojson(src, tmp_path, name, keep):
    data = json.loads(src.read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if keep(f["properties"])]
    out = tmp_path / name
    out.write_text(json.dumps(data), encoding="utf-8")
    return out


def _excerpt_csv(src, tmp_path, keep, encoding="utf-8"):
    with open(src, newline="", encoding=encoding) as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if keep(r)]
        fields = reader.fieldnames
    out = tmp_path / src.name
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return out


def run(fmt, *paths):
    return data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False))


@pytest.fixture
def world(tmp_path):
    """Countries from the 50m layer (France/Norway have ISO_A3 -99) and US states from the 110m admin-1."""
    countries = _excerpt_geojson(
        shared_path(*NE, "ne_50m_admin_0_countries.json"),
        tmp_path,
        "ne_50m_admin_0_countries.json",
        lambda p: p["ADM0_A3"] in {"USA", "FRA", "NOR", "DEU", "ARG", "ESP", "BEL", "CAN"},
    )
    states = _excerpt_geojson(
        shared_path(*NE, "ne_110m_admin_1_states_provinces.json"),
        tmp_path,
        "ne_110m_admin_1_states_provinces.json",
        lambda p: True,
    )
    report = run("natural-earth", states, countries)  # admin-1 listed first: the importer orders them
    return report


def test_natural_earth_codes_fallback_and_idempotent(world, tmp_path):
    assert Region.objects.filter(code="FRA", kind="country").exists() and Region.objects.filter(code="NOR").exists()
    assert Region.objects.get(code="US-WA").parent.code == "USA"
    assert Region.objects.get(code="USA").iso_a2 == "US"
    countries = tmp_path / "ne_50m_admin_0_countries.json"
    again = run("natural-earth", tmp_path / "ne_110m_admin_1_states_provinces.json", countries)
    assert again.changed == 0


def test_invalid_polygon_is_repaired_and_said(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    path = tmp_path / "ne_50m_admin_0_countries.json"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ISO_A3": "XXA", "ADM0_A3": "XXA", "NAME_EN": "Bowtie", "ISO_A2": "XA"},
                        "geometry": bowtie,
                    }
                ],
            }
        )
    )
    report = run("natural-earth", path)
    assert any("repaired" in n for n in report.notes)
    assert shapely.from_wkb(bytes(Region.objects.get(code="XXA").geometry)).is_valid


def test_swapped_axes_rejected_with_reason(tmp_path):
    poly = {"type": "Polygon", "coordinates": [[[40, 100], [41, 100], [41, 101], [40, 101], [40, 100]]]}
    path = tmp_path / "ne_50m_admin_0_countries.json"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"ISO_A3": "XXB", "NAME_EN": "Swapped"}, "geometry": poly}
                ],
            }
        )
    )
    report = run("natural-earth", path)
    assert any("lat/lon" in reason for reason in report.rejected)


def test_unreadable_input_exits_non_zero(tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("not json")
    with pytest.raises(CommandError):
        call_command("import_data", "natural-earth", str(bad), "--no-progress")
    with pytest.raises(ImportInputError):
        run("mdd", tmp_path)


def test_mdd_riis_griis_geofence_verdicts(world, tmp_path):
    names = {"Myocastor_coypus", "Sus_scrofa", "Sciurus_carolinensis", "Lynx_rufus", "Urva_auropunctata"}
    mdd_dir = tmp_path / "mdd"
    mdd_dir.mkdir()
    _excerpt_csv(
        shared_path("ranges", "mdd_mammal_native_countries", "MDD_v1.13_6753species.csv"),
        mdd_dir,
        lambda r: r["sciName"] in names,
    )
    _excerpt_csv(
        shared_path("ranges", "mdd_mammal_native_countries", "mdd_country_to_iso3.csv"), mdd_dir, lambda r: True
    )
    report = run("mdd", mdd_dir)
    assert report.created["taxa"] >= 5 and report.created["statuses"] > 0
    assert any("doubtful" in r for r in report.rejected)  # Urva auropunctata: Jordan? Oman? ...
    assert run("mdd", mdd_dir).changed == 0

    # The curated list (species/starter_pack/synonyms.csv) came with the MDD import.
    assert TaxonSynonym.objects.get(name="Herpestes javanicus").taxon.scientific_name == "Urva auropunctata"
    riis_dir = tmp_path / "riis"
    riis_dir.mkdir()
    wanted = {"Myocastor coypus", "Sus scrofa", "Herpestes javanicus", "Achillea ptarmica"}
    _excerpt_csv(
        shared_path("invasive", "us_riis", "US-RIIS_MasterList.csv"),
        riis_dir,
        lambda r: r["scientificName"] in wanted,
        encoding="utf-8-sig",
    )
    report = run("us-riis", riis_dir)
    assert "Achillea ptarmica" in report.unmatched  # a plant: reported, not invented
    mongoose = RegionalStatus.objects.get(taxon__scientific_name="Urva auropunctata", region__code="US-HI")
    assert mongoose.status == "invasive" and "Herpestes javanicus" in mongoose.note
    assert Region.objects.get(code="US-L48").members.filter(code="US-LA").exists()

    griis = _excerpt_csv(
        shared_path("invasive", "griis_belgium", "griis_belgium.csv"),
        tmp_path,
        lambda r: r["scientificName"].startswith(("Sciurus carolinensis", "Myocastor coypus")),
    )
    report = run("griis", griis)
    assert RegionalStatus.objects.filter(
        taxon__scientific_name="Myocastor coypus", region__code="BEL", status="introduced"
    ).exists()

    fence = tmp_path / "geofence_fixes.csv"
    lines = shared_path("speciesnet", "geofence_fixes.csv").read_text(encoding="utf-8").splitlines()
    fence.write_text(
        "\n".join(
            [lines[0], *[line for line in lines if "carolinensis" in line or line.startswith("# Allow Eastern gray")]]
        )
        + "\n"
    )
    report = run("speciesnet-geofence", fence)
    assert GeofenceEntry.objects.filter(region__code="US-WA", rule="allow").exists()

    index = build_range_index()
    assert verdict("Myocastor coypus", -91.1, 30.5, index).status == "invasive"  # Louisiana
    assert verdict("Myocastor coypus", -64.2, -31.4, index).status == "native"  # Argentina
    assert verdict("Sus scrofa", 10.0, 51.0, index).status == "native"  # Germany
    assert verdict("Sus scrofa", -155.5, 19.6, index).status == "invasive"  # Hawaii
    assert verdict("Sciurus carolinensis", -82.9, 40.0, index).status == "native"  # Ohio
    washington = verdict("Sciurus carolinensis", -120.5, 47.4, index)
    assert washington.status == "out_of_range" and "geofence" in washington.explanation
    spain = verdict("Lynx rufus", -3.7, 40.4, index)
    assert spain.status == "out_of_range" and spain.sources
    assert verdict("Nullus datus", 10.0, 51.0, index).status == "unknown"


def test_us_census_states(world):
    report = run("us-census", shared_path("geo", "us_census_states", "cb_2020_us_state_500k.zip"))
    assert report.created["US states"] + report.updated["US states"] == 56
    assert Region.objects.get(code="US-NJ").source.startswith("US Census")
    assert run("us-census", shared_path("geo", "us_census_states", "cb_2020_us_state_500k.zip")).changed == 0


def test_speciesnet_taxonomy_creates_lineage(tmp_path):
    lines = shared_path("speciesnet", "taxonomy_release.txt").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "taxonomy_release.txt"
    path.write_text("\n".join([line for line in lines if ";sciurus;" in line or line.endswith(";blank")]) + "\n")
    report = run("speciesnet-taxonomy", path)
    grey = Taxon.objects.get(scientific_name="Sciurus carolinensis")
    assert grey.parent.scientific_name == "Sciurus" and grey.parent.parent.scientific_name == "Sciuridae"
    assert report.rejected and run("speciesnet-taxonomy", path).changed == 0


def test_iucn_ranges_from_a_synthetic_geopackage(tmp_path):
    import geopandas

    frame = geopandas.GeoDataFrame(
        {
            "binomial": ["Vulpes testus", "Vulpes testus", "Vulpes testus", "Vulpes testus"],
            "presence": [1, 1, 5, 1],
            "origin": [1, 3, 1, 4],
            "kingdom": ["ANIMALIA"] * 4,
            "phylum": ["CHORDATA"] * 4,
            "class": ["MAMMALIA"] * 4,
            "order_": ["CARNIVORA"] * 4,
            "family": ["CANIDAE"] * 4,
            "genus": ["Vulpes"] * 4,
        },
        geometry=[
            shapely.box(0, 0, 5, 5),
            shapely.box(20, 0, 25, 5),
            shapely.box(40, 0, 45, 5),
            shapely.box(60, 0, 65, 5),
        ],
        crs=4326,
    )
    path = tmp_path / "ranges.gpkg"
    frame.to_file(path, driver="GPKG")
    report = run("iucn-ranges", path)
    assert RangePolygon.objects.count() == 2
    assert sum(report.rejected.values()) == 2  # extinct and vagrant
    assert run("iucn-ranges", path).changed == 0
    index = build_range_index()
    assert verdict("Vulpes testus", 2, 2, index).status == "native"
    assert verdict("Vulpes testus", 22, 2, index).status == "introduced"


def test_dry_run_writes_nothing(world, tmp_path):
    before = Region.objects.count()
    path = tmp_path / "ne_50m_admin_0_countries.json"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"ISO_A3": "XXC", "NAME_EN": "Dry"},
                        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]},
                    }
                ],
            }
        )
    )
    data_import(ImportConfig(fmt="natural-earth", paths=(path,), dry_run=True, progress=False))
    assert Region.objects.count() == before


MDD_DIR = ("ranges", "mdd_mammal_native_countries")
MDD_FILE = "MDD_v1.13_6753species.csv"


def _mdd_excerpt(tmp_path, names):
    """The real MDD table cut to the species in `names` (sciName), with the full country-name table."""
    mdd_dir = tmp_path / "mdd"
    mdd_dir.mkdir(exist_ok=True)
    _excerpt_csv(shared_path(*MDD_DIR, MDD_FILE), mdd_dir, lambda r: r["sciName"] in names)
    _excerpt_csv(shared_path(*MDD_DIR, "mdd_country_to_iso3.csv"), mdd_dir, lambda r: True)
    return mdd_dir


def test_mdd_original_combinations_become_synonyms(tmp_path):
    """Input: MDD v1.13 rows of 11 species chosen for their originalNameCombination."""
    from species.selectors import TaxonNames
    from species.services import REASON_ACCEPTED

    mdd_dir = _mdd_excerpt(
        tmp_path,
        {
            "Myocastor_coypus",  # Mus Coypus: capitalised epithet
            "Sus_scrofa",  # Sus Scrofa: the accepted name itself, no synonym
            "Urva_auropunctata",  # Mangusta auropunctata
            "Urva_javanica",  # ichneumon javanicus: lower-case genus
            "Neogale_vison",  # Mustela vison (also in the curated list)
            "Lariscus_obscurus",
            "Funambulus_obscurus",  # Funambulus obscurus is both: collision
            "Pseudomys_shortridgei",
            "Mus_shortridgei",  # Mus shortridgei is both: collision; Leggadilla shortridgei
            "Caenolestes_caniventer",  # Cænolestes caniventer: ligature
            "Marmosa_adleri",  # Marmosa (Micoureus) adleri: subgenus
        },
    )
    report = run("mdd", mdd_dir)
    synonyms = {s.name: s for s in TaxonSynonym.objects.filter(source="MDD v1.13").select_related("taxon")}
    assert {n: s.taxon.scientific_name for n, s in synonyms.items()} == {
        "Mus coypus": "Myocastor coypus",
        "Mangusta auropunctata": "Urva auropunctata",
        "Ichneumon javanicus": "Urva javanica",
        "Mustela vison": "Neogale vison",
        "Leggadilla shortridgei": "Mus shortridgei",
    }  # Caenolestes caniventer and Marmosa adleri: the corrected original is the accepted name
    assert synonyms["Mus coypus"].source_url == "https://doi.org/10.5281/zenodo.10595931"
    assert report.created["synonyms"] == 5
    # The two collisions are reported, not added.
    assert report.rejected[REASON_ACCEPTED] == 2
    assert set(report.rejected_examples[REASON_ACCEPTED]) == {
        "Funambulus obscurus (for Lariscus obscurus)",
        "Mus shortridgei (for Pseudomys shortridgei)",
    }
    assert not TaxonSynonym.objects.filter(name__in=["Funambulus obscurus", "Mus shortridgei"]).exists()
    # The curated list: the mongoose names and Neovison vison land; Bos bison and others are not taxa here.
    assert TaxonSynonym.objects.get(name="Herpestes javanicus").taxon.scientific_name == "Urva auropunctata"
    assert report.created["curated synonyms"] == 3 and any(
        "accepted name not in the database" in r for r in report.rejected
    )
    assert any("synonyms: " in line for line in report.summary_lines())

    names = TaxonNames()
    coypu = Taxon.objects.get(scientific_name="Myocastor coypus")
    for name in ("Mus coypus", "mus_coypus", "MUS COYPUS", "Mus Coypus Molina, 1782"):
        assert names.resolve(name) == (coypu.pk, "synonym"), f"input {name!r}"
    assert names.resolve("Funambulus obscurus")[0] == Taxon.objects.get(scientific_name="Funambulus obscurus").pk

    again = run("mdd", mdd_dir)
    assert again.changed == 0, again.summary_lines()
    assert again.unchanged["synonyms"] == 5 and again.rejected[REASON_ACCEPTED] == 2


def test_us_riis_mongoose_lands_on_urva_auropunctata_and_is_invasive_in_hawaii(world, tmp_path):
    """Input: MDD rows of Urva auropunctata, Urva javanica and Neogale vison; the US-RIIS rows named
    Herpestes javanicus (Hawaii); the GRIIS Belgium rows named Mustela vison."""
    from rest_framework.test import APIClient

    run("mdd", _mdd_excerpt(tmp_path, {"Urva_auropunctata", "Urva_javanica", "Neogale_vison"}))
    riis_dir = tmp_path / "riis"
    riis_dir.mkdir()
    _excerpt_csv(
        shared_path("invasive", "us_riis", "US-RIIS_MasterList.csv"),
        riis_dir,
        lambda r: r["scientificName"] == "Herpestes javanicus",
        encoding="utf-8-sig",
    )
    report = run("us-riis", riis_dir)
    assert report.matched == {"synonym": 1} and report.matched_via_synonym == 1
    assert any("via synonym: 1 rows, e.g. Herpestes javanicus" in line for line in report.summary_lines()), (
        report.summary_lines()
    )
    mongoose = RegionalStatus.objects.get(region__code="US-HI", source__startswith="US-RIIS")
    assert mongoose.taxon.scientific_name == "Urva auropunctata"  # not Urva javanica, not a new Herpestes taxon
    assert mongoose.status == "invasive" and "as Herpestes javanicus" in mongoose.note
    assert not Taxon.objects.filter(scientific_name="Herpestes javanicus").exists()

    index = build_range_index()
    hilo = verdict("Urva auropunctata", -155.1, 19.7, index)
    assert hilo.status == "invasive" and hilo.region_code == "US-HI", hilo
    assert verdict("Urva javanica", -155.1, 19.7, index).status != "invasive"

    api = APIClient()
    for name in ("Herpestes javanicus", "herpestes_javanicus", "Urva auropunctata"):
        answer = api.get("/api/v1/check/", {"taxon": name, "lat": 19.7, "lon": -155.1})
        assert answer.status_code == 200, f"input {name!r}: {answer.content[:200]}"
        assert answer.data["taxon"]["scientific_name"] == "Urva auropunctata", f"input {name!r}"
        assert answer.data["verdict"]["status"] == "invasive", f"input {name!r}"

    griis = _excerpt_csv(
        shared_path("invasive", "griis_belgium", "griis_belgium.csv"),
        tmp_path,
        lambda r: r["scientificName"].startswith("Mustela vison"),
    )
    report = run("griis", griis)
    assert report.matched_via_synonym >= 1 and "Mustela vison" in report.synonym_examples[0]
    assert RegionalStatus.objects.filter(taxon__scientific_name="Neogale vison", region__code="BEL").exists()
