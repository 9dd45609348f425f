"""Mammal Diversity Database: native countries and US (and other) sub-regions of every mammal."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.regionmap import RegionCodes
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import RangeSourceRow, StatusRow, range_source_upsert, regional_statuses_sync
from species.selectors import normalise_name
from species.services import SynonymRow, TaxonRecord, taxa_ensure, taxon_synonyms_sync
from species.starter import load_synonyms

SOURCE_URL = "https://doi.org/10.5281/zenodo.10595931"
LICENSE = "MIT"


def mdd_source(version: str) -> RangeSourceRow:
    """What MDD claims: closed world (its native countries are all of them; recent introductions are
    left out) and complete for mammals (every species), so a mammal genus or family in a taxonomy
    that holds MDD has its whole membership."""
    return RangeSourceRow(
        name=f"Mammal Diversity Database v{version}",
        citation=f"Mammal Diversity Database (2024). Mammal Diversity Database (Version {version}) [Data set]. "
        f"Zenodo. {SOURCE_URL}",
        url=SOURCE_URL,
        license=LICENSE,
        absence_means_not_native=True,
        taxon_group="Mammalia",
        lists_every_species=True,
    )


_SUBREGIONS = re.compile(r"([^|(]+)\(([^)]*)\)")


def _files(paths) -> tuple[Path, Path]:
    """The species table and the country-name table, given as files or as their folder."""
    files = []
    for path in map(Path, paths):
        files.extend(sorted(path.glob("*.csv")) if path.is_dir() else [path])
    species = [f for f in files if f.name.startswith("MDD_")]
    names = [f for f in files if "country_to_iso3" in f.name]
    if not species:
        raise ImportInputError("no MDD species table (MDD_v*.csv) among the paths")
    if not names:
        raise ImportInputError("no country-name table (mdd_country_to_iso3.csv) among the paths")
    return species[0], names[0]


def _read(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportInputError(f"{path}: {exc}") from exc
    return rows


def _version(path: Path) -> str:
    match = re.search(r"v(\d+(?:\.\d+)*)", path.name)
    return match.group(1) if match else "?"


def run(paths, report: ImportReport, progress: bool) -> None:
    species_path, names_path = _files(paths)
    species = _read(species_path)
    if not species or "countryDistribution" not in species[0] or "sciName" not in species[0]:
        raise ImportInputError(f"{species_path}: not an MDD species table (no sciName / countryDistribution)")
    country_codes = {r["mdd_country_name"]: (r["iso3"], r.get("iso3166_2", "")) for r in _read(names_path)}
    source = f"Mammal Diversity Database v{_version(species_path)}"
    report.add("sources", {range_source_upsert(row=mdd_source(_version(species_path))): 1})

    records = []
    for row in species:
        name = row["sciName"].replace("_", " ").strip()
        lineage = (
            ("kingdom", "Animalia"),
            ("phylum", "Chordata"),
            ("class", "Mammalia"),
            ("order", row["order"].capitalize()),
            ("family", row["family"].capitalize()),
            ("genus", row["genus"].capitalize()),
        )
        records.append(TaxonRecord(name, "species", (row.get("mainCommonName") or "").strip(), lineage))
    ids, counts = taxa_ensure(records)
    report.add("taxa", counts)
    _synonyms(species, ids, f"MDD v{_version(species_path)}", report)

    regions = RegionCodes()
    rows: list[StatusRow] = []
    for row in progress_bar(species, enabled=progress, desc="mdd"):
        name = row["sciName"].replace("_", " ").strip()
        taxon_id = ids[(name, "species")]
        countries = [c.strip() for c in row["countryDistribution"].split("|") if c.strip() and c.strip() != "NA"]
        if countries == ["Domesticated"] or row.get("domestic") == "1" and not countries:
            report.reject("domesticated: no native range", name)
            continue
        subregions = _subregions(row.get("subregionDistribution", ""), country_codes)
        whole = {
            country_codes[c][0]
            for c in (c.rstrip("?").strip() for c in countries)
            if c in country_codes and not country_codes[c][1]
        }
        for country in countries:
            doubtful = country.endswith("?")
            country = country.rstrip("?").strip()
            iso3, iso2 = country_codes.get(country, ("", ""))
            if not iso3:
                report.reject("country name not in the name table", f"{name}: {country}")
                continue
            if doubtful:
                report.reject("doubtful country (marked ?): not recorded", f"{name}: {country}")
                continue
            code = iso3
            if iso2:
                if iso3 in whole and iso3 not in subregions:
                    continue  # "Alaska" next to a whole-country "United States": the country covers it
                if iso2 in regions.ids:
                    code = iso2
                else:
                    report.note(f"{name}: {country} ({iso2}) recorded at country level {iso3} (no such region)")
            rows.append(_status(regions, report, taxon_id, code, source, name))
        for iso3, codes in subregions.items():
            for sub, doubtful in codes:
                code = regions.subregion_code(iso3, sub)
                if doubtful:
                    report.reject("doubtful sub-region (marked ?): not recorded", f"{name}: {code}")
                    continue
                if regions.id(code) is None and not regions.children.get(iso3):
                    # The country has no sub-region polygons at all: its own polygon is the best we have.
                    report.note(f"{name}: {code} recorded at country level {iso3} (no sub-regions imported for it)")
                    code = iso3
                rows.append(_status(regions, report, taxon_id, code, source, name))
    rows = [r for r in rows if r is not None]
    report.add("statuses", regional_statuses_sync(rows=rows))


def _status(
    regions: RegionCodes, report: ImportReport, taxon_id: int, code: str, source: str, name: str
) -> StatusRow | None:
    region_id = regions.id(code)
    if region_id is None:
        report.reject("region not imported", f"{name}: {code}")
        return None
    return StatusRow(taxon_id, region_id, "native", source, SOURCE_URL, "native", "native")


def _subregions(text: str, country_codes: dict) -> dict[str, list[tuple[str, bool]]]:
    """'USA(ME,NH,WY?)|Australia(QLD)' -> {'USA': [('ME', False), ('NH', False), ('WY', True)], 'AUS': [...]}"""
    out: dict[str, list[tuple[str, bool]]] = {}
    for country, codes in _SUBREGIONS.findall(text or ""):
        country = country.strip()
        iso3 = "USA" if country == "USA" else country_codes.get(country, ("",))[0]
        if not iso3:
            continue
        out[iso3] = [(c.strip().rstrip("?"), c.strip().endswith("?")) for c in codes.split(",") if c.strip()]
    return out


_SUBGENUS = re.compile(r"^(\S+) \([A-Z][a-z]+\) ")
_BINOMIAL = re.compile(r"[A-Z][a-z]+ [a-z]+")
_LIGATURES = str.maketrans({"æ": "ae", "Æ": "Ae", "œ": "oe", "Œ": "Oe"})
NOT_BINOMIAL = "original combination not a binomial"
UMLAUT = "original combination with ä/ö/ü (ae/oe/ue or a, o, u depends on its etymology)"


def original_binomial(text: str) -> tuple[str, str]:
    """(binomial, "") from MDD's originalNameCombination, or ("", why not). Spelling follows the
    ICZN corrections that need no judgement (Art. 32.5): 'Mus Coypus' -> 'Mus coypus',
    'ichneumon javanicus' -> 'Ichneumon javanicus', 'Cænolestes caniventer' -> 'Caenolestes
    caniventer', 'Bettóngia ruféscens' -> 'Bettongia rufescens', "Cercopithecus l'hoesti" ->
    'Cercopithecus lhoesti', 'Marmosa (Micoureus) adleri' -> 'Marmosa adleri'. Trinomials,
    single words, doubtful ('?'), hyphenated and umlauted names are left out."""
    text = " ".join((text or "").split())
    if text in ("", "NA"):
        return "", "no original combination"
    text = _SUBGENUS.sub(r"\1 ", text)
    if any(ch in text for ch in "äöüÄÖÜ"):
        return "", UMLAUT
    text = text.translate(_LIGATURES).replace("'", "")
    text = "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
    name = normalise_name(text)
    if not _BINOMIAL.fullmatch(name):
        return "", NOT_BINOMIAL
    return name, ""


def _synonyms(species: list[dict], ids: dict, source: str, report: ImportReport) -> None:
    """Original combinations that differ from the accepted name become synonyms (Mus coypus ->
    Myocastor coypus), then the curated list (species/starter_pack/synonyms.csv), whose accepted
    names are mostly MDD's and may only exist from now on."""
    rows, skipped = [], {}
    for row in species:
        accepted = row["sciName"].replace("_", " ").strip()
        name, why = original_binomial(row.get("originalNameCombination", ""))
        if not name:
            skipped.setdefault(why, []).append(f"{row.get('originalNameCombination')} ({accepted})")
        elif name.lower() != accepted.lower():
            rows.append(
                SynonymRow(name, ids[(accepted, "species")], source, SOURCE_URL, f"original combination of {accepted}")
            )
    result = taxon_synonyms_sync(rows=rows)
    report.add("synonyms", result.counts)
    for reason, example in result.rejected:
        report.reject(reason, example)
    for why, examples in skipped.items():
        report.note(f"synonyms: {len(examples)} × {why}: no synonym (e.g. {'; '.join(examples[:3])})")
    curated = load_synonyms()
    report.add("curated synonyms", curated.counts)
    for reason, example in curated.rejected:
        report.reject(f"curated synonym: {reason}", example)
