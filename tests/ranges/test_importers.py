"""Each importer on small excerpts of the real data in ../shared/data (written to tmp at test time)."""
import csv
import json

import pytest
import shapely
from django.core.management import CommandError, call_command

from ranges.importers import ImportConfig, data_import
from ranges.importers.report import ImportInputError
from ranges.models import GeofenceEntry, RangePolygon, Region, RegionalStatus
from ranges.selectors import build_range_index
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
    countries = _excerpt_geojson(shared_path(*NE, "ne_50m_admin_0_countries.json"), tmp_path, "ne_50m_admin_0_countries.json",
                                 lambda p: p["ADM0_A3"] in {"USA", "FRA", "NOR", "DEU", "ARG", "ESP", "BEL", "CAN"})
    states = _excerpt_geojson(shared_path(*NE, "ne_110m_admin_1_states_provinces.json"), tmp_path, "ne_110m_admin_1_states_provinces.json", lambda p: True)
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
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"ISO_A3": "XXA", "ADM0_A3": "XXA", "NAME_EN": "Bowtie", "ISO_A2": "XA"}, "geometry": bowtie}]}))
    report = run("natural-earth", path)
    assert any("repaired" in n for n in report.notes)
    assert shapely.from_wkb(bytes(Region.objects.get(code="XXA").geometry)).is_valid


def test_swapped_axes_rejected_with_reason(tmp_path):
    poly = {"type": "Polygon", "coordinates": [[[40, 100], [41, 100], [41, 101], [40, 101], [40, 100]]]}
    path = tmp_path / "ne_50m_admin_0_countries.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"ISO_A3": "XXB", "NAME_EN": "Swapped"}, "geometry": poly}]}))
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
    _excerpt_csv(shared_path("ranges", "mdd_mammal_native_countries", "MDD_v1.13_6753species.csv"), mdd_dir, lambda r: r["sciName"] in names)
    _excerpt_csv(shared_path("ranges", "mdd_mammal_native_countries", "mdd_country_to_iso3.csv"), mdd_dir, lambda r: True)
    report = run("mdd", mdd_dir)
    assert report.created["taxa"] >= 5 and report.created["statuses"] > 0
    assert any("doubtful" in r for r in report.rejected)  # Urva auropunctata: Jordan? Oman? ...
    assert run("mdd", mdd_dir).changed == 0

    TaxonSynonym.objects.create(taxon=Taxon.objects.get(scientific_name="Urva auropunctata"), name="Herpestes javanicus")
    riis_dir = tmp_path / "riis"
    riis_dir.mkdir()
    wanted = {"Myocastor coypus", "Sus scrofa", "Herpestes javanicus", "Achillea ptarmica"}
    _excerpt_csv(shared_path("invasive", "us_riis", "US-RIIS_MasterList.csv"), riis_dir, lambda r: r["scientificName"] in wanted, encoding="utf-8-sig")
    report = run("us-riis", riis_dir)
    assert "Achillea ptarmica" in report.unmatched  # a plant: reported, not invented
    mongoose = RegionalStatus.objects.get(taxon__scientific_name="Urva auropunctata", region__code="US-HI")
    assert mongoose.status == "invasive" and "Herpestes javanicus" in mongoose.note
    assert Region.objects.get(code="US-L48").members.filter(code="US-LA").exists()

    griis = _excerpt_csv(shared_path("invasive", "griis_belgium", "griis_belgium.csv"), tmp_path, lambda r: r["scientificName"].startswith(("Sciurus carolinensis", "Myocastor coypus")))
    report = run("griis", griis)
    assert RegionalStatus.objects.filter(taxon__scientific_name="Myocastor coypus", region__code="BEL", status="introduced").exists()

    fence = tmp_path / "geofence_fixes.csv"
    lines = shared_path("speciesnet", "geofence_fixes.csv").read_text(encoding="utf-8").splitlines()
    fence.write_text("\n".join([lines[0], *[l for l in lines if "carolinensis" in l or l.startswith("# Allow Eastern gray")]]) + "\n")
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
    path.write_text("\n".join([l for l in lines if ";sciurus;" in l or l.endswith(";blank")]) + "\n")
    report = run("speciesnet-taxonomy", path)
    grey = Taxon.objects.get(scientific_name="Sciurus carolinensis")
    assert grey.parent.scientific_name == "Sciurus" and grey.parent.parent.scientific_name == "Sciuridae"
    assert report.rejected and run("speciesnet-taxonomy", path).changed == 0


def test_iucn_ranges_from_a_synthetic_geopackage(tmp_path):
    import geopandas

    frame = geopandas.GeoDataFrame(
        {"binomial": ["Vulpes testus", "Vulpes testus", "Vulpes testus", "Vulpes testus"], "presence": [1, 1, 5, 1], "origin": [1, 3, 1, 4],
         "kingdom": ["ANIMALIA"] * 4, "phylum": ["CHORDATA"] * 4, "class": ["MAMMALIA"] * 4, "order_": ["CARNIVORA"] * 4, "family": ["CANIDAE"] * 4, "genus": ["Vulpes"] * 4},
        geometry=[shapely.box(0, 0, 5, 5), shapely.box(20, 0, 25, 5), shapely.box(40, 0, 45, 5), shapely.box(60, 0, 65, 5)], crs=4326,
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
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"ISO_A3": "XXC", "NAME_EN": "Dry"}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}]}))
    data_import(ImportConfig(fmt="natural-earth", paths=(path,), dry_run=True, progress=False))
    assert Region.objects.count() == before
