"""Issue 22: region sources decoded with their declared encoding, one owner per region (the better
source wins whatever the order), and a second run of every README import and of `bootstrap` changes
nothing."""

import zipfile

import pytest

from backend.installation import regions_bootstrap
from bench.verdict import IMPORTS
from ranges.geometry_files import read_frame, undeclared_shapefile
from ranges.importers import ImportConfig, data_import
from ranges.importers.regions import county_name
from ranges.models import Contact, Region, RegionalStatus
from ranges.services import region_source_rank
from ranges.starter import load_statuses_and_contacts
from species.models import Taxon
from species.starter import load_taxa_and_facts
from tests.conftest import SHARED_DATA, shared_path

MOJIBAKE = ("Ã", "Â")  # UTF-8 bytes read as ISO-8859-1: "Ã§" for "ç", "Â°" for "°"


def _mojibake(values) -> list[str]:
    return sorted({v for v in values if v and any(m in v for m in MOJIBAKE)})


def _stored_mojibake() -> list[str]:
    return (
        _mojibake(Region.objects.values_list("name", flat=True))
        + _mojibake(Taxon.objects.values_list("scientific_name", flat=True))
        + _mojibake(Taxon.objects.values_list("common_name", flat=True))
        + _mojibake(Contact.objects.values_list("organisation", flat=True))
        + _mojibake(RegionalStatus.objects.values_list("note", flat=True).distinct())
    )


def test_undeclared_shapefile_is_read_in_its_publishers_encoding(tmp_path):
    """Input: a zipped shapefile with a UTF-8 name and no .cpg (as the packaged Natural Earth and
    plotly-geo files are). GDAL's default (ISO-8859-1) made "Curaçao" into "CuraÃ§ao"."""
    import geopandas
    import shapely

    frame = geopandas.GeoDataFrame(
        {"NAME": ["Curaçao", "Åland", "Bayamón"]}, geometry=[shapely.box(0, 0, 1, 1)] * 3, crs=4326
    )
    folder = tmp_path / "layer"
    folder.mkdir()
    frame.to_file(folder / "names.shp", encoding="UTF-8")
    archive = tmp_path / "names.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for part in folder.iterdir():
            if part.suffix != ".cpg":  # the declaration the packaged files lack
                out.write(part, part.name)
    assert undeclared_shapefile(archive)
    assert list(read_frame(archive).NAME) == ["Curaçao", "Åland", "Bayamón"]

    (folder / "names.cpg").write_text("UTF-8")
    assert not undeclared_shapefile(folder / "names.shp")
    assert list(read_frame(folder / "names.shp").NAME) == ["Curaçao", "Åland", "Bayamón"]


def test_county_equivalents_are_named_as_the_census_names_them():
    assert county_name("Bayamón", "13", "PR") == "Bayamón Municipio, PR"
    assert county_name("Orleans", "15", "LA") == "Orleans Parish, LA"
    assert county_name("Baltimore", "25", "MD") == "Baltimore city, MD"
    assert county_name("District of Columbia", "00", "DC") == "District of Columbia, DC"
    assert county_name("Doña Ana", "06", "NM") == "Doña Ana County, NM"


def test_census_2020_outranks_plotly_geo_census_2016_and_coarser_maps():
    census_2020 = region_source_rank(500_000, "US Census Bureau cartographic boundary file cb_2020_us_state_500k")
    plotly_2016 = region_source_rank(500_000, "US Census cartographic boundary 2016 1:500k states (via plotly-geo)")
    natural_earth = region_source_rank(50_000_000, "Natural Earth ne_50m_admin_1_states_provinces (v4.0.0)")
    assert census_2020 < plotly_2016 < natural_earth
    assert region_source_rank(None, "a GeoJSON of unknown scale") > natural_earth


@pytest.mark.django_db
@pytest.mark.slow
def test_fresh_install_regions_have_no_mojibake_and_a_rerun_changes_nothing():
    """Input: the regions a fresh install loads from registry packages (Natural Earth 1:10m countries,
    plotly-geo's Census 2016 states and counties), twice. Before: "CuraÃ§ao", "SÃ£o TomÃ© and PrÃ­ncipe",
    "Ã\x85land", "DoÃ±a Ana County, NM" and 17 Puerto Rico municipios."""
    first = regions_bootstrap(counties=True, log=lambda _: None)
    assert first["countries"]["created"] > 200 and first["US counties"]["created"] > 3000
    assert _mojibake(Region.objects.values_list("name", flat=True)) == []
    names = dict(
        Region.objects.filter(code__in=["CUW", "STP", "ALA", "US-35013", "US-72021"]).values_list("code", "name")
    )
    assert names == {
        "CUW": "Curaçao",
        "STP": "São Tomé and Príncipe",
        "ALA": "Åland",
        "US-35013": "Doña Ana County, NM",
        "US-72021": "Bayamón Municipio, PR",
    }
    second = regions_bootstrap(counties=True, log=lambda _: None)
    assert {what: counts["created"] + counts["updated"] for what, counts in second.items()} == {
        "countries": 0,
        "US states": 0,
        "US counties": 0,
    }


@pytest.mark.django_db
def test_census_2020_states_stay_when_bootstrap_runs_again():
    """Input: bootstrap's regions, `import_data us-census` (Census 2020), bootstrap again, the import again.
    Before: each run reported "US states: updated 56" and bootstrap put the 2016 outlines back."""
    census = shared_path("geo", "us_census_states", "cb_2020_us_state_500k.zip")
    regions_bootstrap(counties=False, log=lambda _: None)
    first = data_import(ImportConfig(fmt="us-census", paths=(census,), progress=False))
    assert first.updated["US states"] == 56
    again = regions_bootstrap(counties=False, log=lambda _: None)
    assert again["US states"] == {"created": 0, "updated": 0, "unchanged": 56, "kept": 56}
    assert Region.objects.get(code="US-FL").source.endswith("cb_2020_us_state_500k")
    second = data_import(ImportConfig(fmt="us-census", paths=(census,), progress=False))
    assert second.changed == 0, second.summary_lines()


def _import_everything() -> dict[str, int]:
    """bootstrap's data (as `scripts/run` loads it), then the README's imports in order, then bootstrap
    again (the README's last step). Returns the rows each step changed."""
    changed: dict[str, int] = {}
    regions = regions_bootstrap(counties=True, log=lambda _: None)
    changed["bootstrap regions"] = sum(c["created"] + c["updated"] for c in regions.values())
    taxa = load_taxa_and_facts()
    changed["bootstrap taxa and facts"] = sum(v for k, v in taxa.items() if not k.endswith("skipped"))
    changed["bootstrap statuses and contacts"] = sum(
        v for k, v in load_statuses_and_contacts().items() if k != "skipped"
    )
    for fmt, paths in IMPORTS:
        report = data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False))
        changed[f"{fmt} {paths[0].name}"] = report.changed
    regions = regions_bootstrap(counties=True, log=lambda _: None)
    changed["bootstrap again: regions"] = sum(c["created"] + c["updated"] for c in regions.values())
    taxa = load_taxa_and_facts()
    changed["bootstrap again: taxa and facts"] = sum(v for k, v in taxa.items() if not k.endswith("skipped"))
    changed["bootstrap again: statuses and contacts"] = sum(
        v for k, v in load_statuses_and_contacts().items() if k != "skipped"
    )
    return changed


@pytest.mark.django_db
@pytest.mark.slow
def test_every_readme_import_and_bootstrap_twice_second_run_changes_nothing_and_no_mojibake():
    """Input: all of ../shared/data through every README import, with bootstrap before and after, twice.
    Before: the second round created 41 GRIIS statuses (a synonym row naming a taxon the first run had
    created only as a lineage ancestor, e.g. Bryophyllum daigremontianum in Malawi) and 6 US-RIIS ones
    (birds such as Horornis diphone that native-countries created after US-RIIS had run)."""
    for _, paths in IMPORTS:
        for path in paths:
            shared_path(*path.relative_to(SHARED_DATA).parts)  # skips when ../shared/data lacks it
    _import_everything()
    assert _stored_mojibake() == []
    second = _import_everything()
    assert {step: n for step, n in second.items() if n} == {}, second
