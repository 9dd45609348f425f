"""Issue 21 on the real data: a group answers from the complete tree, every name resolves inside its
own branch (Proboscidea: elephants, not the unicorn plant), and a domestic animal is answered as one."""

import csv

import pytest
import shapely
from django.core.management import call_command

from bench.verdict import IMPORTS
from ranges.identification import IdentificationThresholds, identify
from ranges.importers import ImportConfig, data_import
from ranges.index_cache import build_range_index
from ranges.models import RegionalStatus
from ranges.verdict import ALERT_STATUSES, DOMESTIC, OUT_OF_RANGE, expected_here, verdict
from species.models import Taxon
from species.selectors import ANIMALS, taxa_by_keys, taxon_by_name, taxon_tree
from species.starter import STARTER_PACK
from tests.conftest import SHARED_DATA, shared_path

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

SERENGETI = (34.83, -2.33)
THRESHOLDS = IdentificationThresholds(confidence=0.5, alert=0.7, review=0.2, prior_floor=0.1)
ELEPHANT_PHOTO = {"Loxodonta africana": 0.45, "Elephas maximus": 0.35, "Phacochoerus africanus": 0.1, "no_animal": 0.01}
PET_DOG = {"Canis familiaris": 0.92, "Canis lupus": 0.04, "no_animal": 0.01}
# Kansas (US-RIIS lists feral dogs in the lower 48), Germany, the Serengeti.
DOG_PLACES = [(-98.0, 38.5), (10.0, 51.0), SERENGETI]


def _starter_model_species() -> list[str]:
    with open(STARTER_PACK / "imagenet_classes.csv", newline="", encoding="utf-8") as fh:
        return sorted({r["scientific_name"].strip() for r in csv.DictReader(fh) if r["scientific_name"].strip()})


def _native_regions_loaded(parents: dict[str, str | None]) -> dict[str, list[str]]:
    """Species -> the most specific regions the loaded data makes it native to (the starter pack's
    MDD extract and curated lists): a species native to some US states is placed in those states,
    not anywhere in the country."""
    native: dict[str, set[str]] = {}
    rows = RegionalStatus.objects.filter(status="native", region__kind__in=("country", "admin1")).values_list(
        "taxon__scientific_name", "region__code"
    )
    for name, code in rows:
        native.setdefault(name, set()).add(code)
    return {
        name: sorted(c for c in codes if not any(parents.get(o) == c for o in codes)) for name, codes in native.items()
    }


def test_starter_only_no_mammal_group_is_out_of_range_inside_a_members_native_range():
    """Fresh install, no ../shared: every genus and family above a mammal the starter model names,
    placed in each of its members' native countries, is never out_of_range (the starter taxonomy
    is not the whole family), and its candidates are never expected_here False without a range."""
    call_command("bootstrap", "--skip-counties", "--skip-model", verbosity=0)
    index, taxa = build_range_index(), taxon_tree()
    native = _native_regions_loaded({r.code: r.parent_code for r in index.regions})
    points = {}
    for record, geom in zip(index.regions, index.region_geometries):
        if record.kind in ("country", "admin1") and geom is not None and not geom.is_empty:
            point = shapely.point_on_surface(geom)
            points[record.code] = (point.x, point.y)
    groups = set()
    for name in _starter_model_species():
        lineage = taxa.lineage(taxa.accepted_name(name))
        if "Mammalia" in lineage:
            groups.update(k for k in lineage if taxa.ranks.get(k) in ("genus", "family", "order"))
    assert len(groups) > 50, "the starter model names many mammal groups"
    checked = 0
    for group in sorted(groups):
        for member in taxa.member_species(group):
            for country in native.get(member, [])[:3]:
                if country not in points:
                    continue
                found = verdict(group, *points[country], index, taxa)
                assert found.status != OUT_OF_RANGE and not found.is_alert, f"{group} in {country}: {found}"
                checked += 1
    assert checked > 200
    # Warthogs at the Serengeti: the genus has no range data of its own in the starter pack.
    phacochoerus = verdict("Phacochoerus", *SERENGETI, index, taxa)
    assert expected_here(phacochoerus.status) in (True, None)


@pytest.fixture
def everything(db):
    """The starter pack, then every data set of ../shared/data in bench/verdict.py's order."""
    for _, paths in IMPORTS:
        for path in paths:
            shared_path(*path.relative_to(SHARED_DATA).parts)
    call_command("bootstrap", "--skip-counties", "--skip-model", verbosity=0)
    reports = [data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False)) for fmt, paths in IMPORTS]
    return reports, build_range_index(), taxon_tree()


def test_after_every_import_names_resolve_in_their_branch_and_a_dog_raises_no_alert(everything):
    reports, index, taxa = everything

    # Proboscidea is an animal order and a plant genus, kept apart; the import said so.
    held = sorted(Taxon.objects.filter(scientific_name="Proboscidea").values_list("rank", "kingdom"))
    assert held == [("genus", "Plantae"), ("order", "Animalia")]
    assert any(h.startswith("Proboscidea:") for r in reports for h in r.homonyms), [r.homonyms for r in reports]
    assert taxon_by_name("Proboscidea").kingdom == ANIMALS
    assert taxon_by_name("Proboscidea", kingdom="Plantae").rank == "genus"
    assert taxa.ranks["Proboscidea"] == "order" and taxa.parents["Elephantidae"] == "Proboscidea"
    assert taxa.parents["Proboscidea louisianica"] == "Proboscidea (Plantae)"

    # No starter taxon label resolves into another kingdom.
    for name in _starter_model_species():
        taxon = taxon_by_name(name)
        if taxon is not None:
            assert taxon.kingdom == ANIMALS, f"{name} -> {taxon} in {taxon.kingdom}"
            key = taxa.accepted_name(name)
            by_key = taxa_by_keys([key]).get(key)
            assert by_key is None or by_key.kingdom == ANIMALS, f"{name} -> {by_key}"

    # The elephant photo at the Serengeti answers an elephant.
    found = identify(ELEPHANT_PHOTO, *SERENGETI, index, taxa, THRESHOLDS)
    named = taxa_by_keys([found.decision.key])[found.decision.key]
    assert named.kingdom == ANIMALS and "Proboscidea" in taxa.lineage(found.decision.key), found.decision
    assert found.decision.key != "Proboscidea (Plantae)"

    # A pet dog raises no alert anywhere, and says it is a domestic animal.
    for lon, lat in DOG_PLACES:
        answer = identify(PET_DOG, lon, lat, index, taxa, THRESHOLDS)
        assert answer.alert_level == "" and answer.verdict.status == DOMESTIC, (lon, lat, answer.verdict)
        dog = next(c for c in answer.candidates if c.key == "Canis familiaris")
        assert dog.expected_here is None
    kansas = verdict("Canis familiaris", *DOG_PLACES[0], index, taxa)
    assert "feral" in kansas.explanation  # the register's record is named, for a reviewer
    assert verdict("Canis familiaris", *DOG_PLACES[0], index, taxa, free_roaming=True).status in ALERT_STATUSES

    # With MDD whole, a mammal group is complete: Elephantidae far from any elephant is out_of_range,
    # and at the Serengeti native.
    assert verdict("Elephantidae", 10.0, 51.0, index, taxa).status == OUT_OF_RANGE
    assert verdict("Elephantidae", *SERENGETI, index, taxa).status == "native"
