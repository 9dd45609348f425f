"""Native countries from open tables (issue 21): the starter pack's complete MDD mammal list, and
`import_data native-countries` over the shared BirdLife (open world) and AmphibiaWeb (closed world) tables."""

import csv
import gzip
import json
import time

import pytest

from ranges.importers import ImportConfig, data_import
from ranges.importers.report import ImportInputError
from ranges.index_cache import build_range_index
from ranges.models import RangeSource, RegionalStatus
from ranges.starter import MDD_EXTRACT, load_statuses_and_contacts
from ranges.verdict import ALERT_STATUSES, verdict
from species.models import Taxon
from species.selectors import taxon_by_name, taxon_tree
from species.starter import STARTER_PACK, load_taxa_and_facts
from tests.conftest import shared_path
from tests.factories import region

BIRDS = ("ranges", "birds_native_countries")
AMPHIBIANS = ("ranges", "amphibians_countries")
MDD = ("ranges", "mdd_mammal_native_countries")


def _mdd_extract() -> dict[str, dict]:
    with gzip.open(STARTER_PACK / MDD_EXTRACT, "rt", newline="", encoding="utf-8") as fh:
        return {row["scientific_name"]: row for row in csv.DictReader(fh)}


def test_starter_pack_ships_every_mdd_mammal_with_its_native_countries():
    rows = _mdd_extract()
    assert len(rows) == 6753
    assert (STARTER_PACK / MDD_EXTRACT).stat().st_size < 200_000  # small: ~130 kB gzipped
    assert "TZA" in rows["Phacochoerus africanus"]["countries"].split()
    assert rows["Phacochoerus africanus"]["family"] == "Suidae" and rows["Phacochoerus africanus"]["order"] == (
        "Artiodactyla"
    )
    assert rows["Canis familiaris"]["countries"] == ""  # domestic: no native range
    squirrel = rows["Sciurus carolinensis"]
    assert "USA" in squirrel["countries"].split() and "CA" not in squirrel["us_states"].split()


def test_mdd_extract_matches_the_shared_table():
    """Every species of MDD v1.13 is in the extract, with the same family."""
    folder = shared_path(*MDD)
    with open(folder / "MDD_v1.13_6753species.csv", newline="", encoding="utf-8-sig") as fh:
        shared = {r["sciName"].replace("_", " "): r["family"].capitalize() for r in csv.DictReader(fh)}
    extract = _mdd_extract()
    assert {name: row["family"] for name, row in extract.items()} == shared


@pytest.mark.django_db
def test_fresh_install_knows_every_mammal_family_whole_and_mdd_is_closed_world():
    """Input: two country regions (no ../shared); the starter pack. The warthog genus, absent from the
    starter model's taxa, is native at the Serengeti through its MDD members."""
    region("TZA", "country", (29.3, -11.7, 40.4, -1.0))
    region("AUS", "country", (113, -44, 154, -10))
    load_taxa_and_facts()
    started = time.perf_counter()
    load_statuses_and_contacts()
    seconds = time.perf_counter() - started
    assert seconds < 60, seconds

    mammals = Taxon.objects.filter(rank="species", parent__parent__parent__parent__scientific_name="Mammalia")
    assert mammals.count() >= 6753
    source = RangeSource.objects.get(name="Mammal Diversity Database v1.13")
    assert source.absence_means_not_native and source.lists_every_species and source.taxon_group == "Mammalia"
    assert source.license == "MIT" and source.url == "https://doi.org/10.5281/zenodo.10595931"

    index, tree = build_range_index(), taxon_tree()
    assert "Mammalia" in index.complete_taxon_groups
    assert set(tree.member_species("Phacochoerus")) >= {"Phacochoerus africanus", "Phacochoerus aethiopicus"}
    assert verdict("Phacochoerus", 34.83, -2.33, index, tree).status == "native"
    assert verdict("Phacochoerus africanus", 34.83, -2.33, index, tree).status == "native"
    # Closed world: a warthog in Australia is outside its known native range.
    assert verdict("Phacochoerus africanus", 135.0, -25.0, index, tree).status == "out_of_range"
    # Loading again changes nothing.
    assert load_statuses_and_contacts()["statuses"] == 0


@pytest.mark.django_db
def test_starter_pack_amphibians_come_from_amphibiaweb_through_the_synonyms():
    """Input: the starter pack's AmphibiaWeb extract, which names the bullfrog Rana catesbeiana."""
    usa, belgium = region("USA", "country", (-125, 25, -66, 49)), region("BEL", "country", (2.5, 49.5, 6.4, 51.5))
    load_taxa_and_facts()
    load_statuses_and_contacts()
    bullfrog = taxon_by_name("Lithobates catesbeianus")
    source = "Amphibian countries (AmphibiaWeb taxonomy snapshot 2025-10-01)"
    assert RegionalStatus.objects.get(taxon=bullfrog, region=usa, source=source).status == "native"
    introduced = RegionalStatus.objects.get(taxon=bullfrog, region=belgium, source=source)
    assert introduced.status == "introduced" and introduced.establishment_means == "introduced"
    assert RangeSource.objects.get(name=source).license == "CC-BY-4.0"


# -- import_data native-countries -------------------------------------------------------------


def _countries():
    data_import(
        ImportConfig(
            fmt="natural-earth",
            paths=(shared_path("geo", "natural_earth", "ne_110m_admin_0_countries.json"),),
            progress=False,
        )
    )


@pytest.mark.django_db
@pytest.mark.slow
def test_birds_and_amphibians_import_with_open_and_closed_world_verdicts():
    """Input: Natural Earth countries, the starter taxa and synonyms, then both shared tables at once."""
    birds, amphibians = shared_path(*BIRDS), shared_path(*AMPHIBIANS)
    _countries()
    load_taxa_and_facts()
    started = time.perf_counter()
    report = data_import(ImportConfig(fmt="native-countries", paths=(birds, amphibians), progress=False))
    seconds = time.perf_counter() - started
    print("\n".join(report.summary_lines()))
    assert seconds <= 60, f"both folders took {seconds:.1f}s"
    assert report.created["statuses"] > 100_000
    assert report.matched_via_synonym > 0 and "Rana catesbeiana" in report.synonym_examples
    assert report.created["taxa"] > 10_000  # most birds and amphibians are new to the starter taxonomy

    birds_source = RangeSource.objects.get(name__startswith="Bird native countries")
    assert not birds_source.absence_means_not_native and "non-commercial" in birds_source.license
    assert RangeSource.objects.get(name__startswith="Amphibian countries").absence_means_not_native

    index, tree = build_range_index(), taxon_tree()
    # Listed = native: the secretarybird in Tanzania, the house sparrow in Spain.
    assert verdict("Sagittarius serpentarius", 34.83, -2.33, index, tree).status == "native"
    assert verdict("Passer domesticus", -3.7, 40.4, index, tree).status == "native"
    # An open-world omission: the table lists the Canada goose only in Greenland and Mexico. In
    # Canada that proves nothing: unknown, never out_of_range and never an alert.
    assert index.native_region_codes("Branta canadensis") == {"GRL", "MEX"}
    in_canada = verdict("Branta canadensis", -79.4, 45.0, index, tree)
    assert in_canada.status not in ALERT_STATUSES and in_canada.status == "unknown", in_canada
    # Closed world: AmphibiaWeb's bullfrog (Rana catesbeiana -> Lithobates catesbeianus) is native in
    # the USA, introduced in Belgium where it says so, and out of range where it lists nothing.
    assert verdict("Lithobates catesbeianus", -90.0, 38.0, index, tree).status == "native"
    belgium = verdict("Lithobates catesbeianus", 4.5, 50.8, index, tree)
    assert belgium.status == "introduced" and belgium.sources[0]["name"].startswith("Amphibian countries")
    assert verdict("Lithobates catesbeianus", 25.0, -29.0, index, tree).status == "out_of_range"  # South Africa

    again = data_import(ImportConfig(fmt="native-countries", paths=(birds, amphibians), progress=False))
    assert again.changed == 0 and again.unchanged["statuses"] == report.created["statuses"]


@pytest.mark.django_db
def test_native_countries_dry_run_writes_nothing_and_reports_names(tmp_path):
    """Input: real rows from the shared amphibian table (the bullfrog and a species new to the taxonomy)."""
    folder = shared_path(*AMPHIBIANS)
    region("USA", "country", (-125, 25, -66, 49))
    load_taxa_and_facts()
    table = tmp_path / "amphibians"
    table.mkdir()
    (table / "meta.json").write_text((folder / "meta.json").read_text(encoding="utf-8"), encoding="utf-8")
    with open(folder / "amphibians_countries.csv", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["scientificName"] in ("Rana catesbeiana", "Abavorana decorata")]
    with open(table / "rows.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    before = RegionalStatus.objects.count(), Taxon.objects.count()
    report = data_import(ImportConfig(fmt="native-countries", paths=(table,), dry_run=True, progress=False))
    assert (RegionalStatus.objects.count(), Taxon.objects.count()) == before
    assert report.created["statuses"] == 1  # the bullfrog in the USA; the other rows' countries are not regions here
    assert report.created["taxa"] >= 1 and any("Abavorana decorata" in n for n in report.notes)
    assert report.rejected["country code not a country region here"] > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "meta, header, message",
    [
        (None, "scientificName,countryCode,countryName,establishmentMeans", "no meta.json"),
        (
            {"name": "x", "citation": "", "url": "", "license": ""},
            "scientificName,countryCode",
            "absence_means_not_native",
        ),
        (
            {"name": "x", "citation": "", "url": "", "license": "", "absence_means_not_native": "no"},
            "scientificName,countryCode,countryName,establishmentMeans",
            "must be true or false",
        ),
        (
            {"name": "x", "citation": "", "url": "", "license": "", "absence_means_not_native": True},
            "scientificName,countryName",
            "missing column(s) countryCode, establishmentMeans",
        ),
    ],
)
def test_native_countries_bad_input_is_a_clear_error(tmp_path, meta, header, message):
    if meta is not None:
        (tmp_path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / "t.csv").write_text(header + "\n", encoding="utf-8")
    with pytest.raises(ImportInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data_import(ImportConfig(fmt="native-countries", paths=(tmp_path,), progress=False))


# -- the range index: an open-world source never proves absence ---------------------------------


def _two_countries(statuses, open_world=frozenset()):
    from ranges.range_index import RangeIndex, RegionRecord

    regions = [RegionRecord("AAA", "country", "Aland"), RegionRecord("BBB", "country", "Bland")]
    return RangeIndex(
        regions=regions,
        region_geometries=[shapely_box(0, 0, 10, 10), shapely_box(20, 0, 30, 10)],
        statuses=statuses,
        open_world_sources=frozenset(open_world),
    )


def shapely_box(*bounds):
    import shapely

    return shapely.box(*bounds)


def test_open_world_native_countries_say_native_but_never_out_of_range():
    """A bird listed in Aland only, by an open-world table: native in Aland, unknown in Bland (no
    alert); the same row from a closed-world table makes Bland out_of_range."""
    from ranges.range_index import StatusRecord

    rows = [StatusRecord("Branta canadensis", "AAA", "native", "Birds (open world)")]
    open_index = _two_countries(rows, open_world={"Birds (open world)"})
    assert verdict("Branta canadensis", 5, 5, open_index).status == "native"
    assert not open_index.native_range_known("Branta canadensis")
    assert verdict("Branta canadensis", 25, 5, open_index).status == "unknown"
    closed_index = _two_countries(rows)
    assert verdict("Branta canadensis", 25, 5, closed_index).status == "out_of_range"
    # A closed-world source beside the open one makes the range known again.
    both = _two_countries([*rows, StatusRecord("Branta canadensis", "AAA", "native", "MDD")], {"Birds (open world)"})
    assert both.native_range_known("Branta canadensis")
