"""Darwin Core checklists of alien taxa: GRIIS catalogues (a folder with INDEX.csv), one GRIIS CSV, or a
DwC-A folder (taxon.csv + distribution.csv). Every kingdom imports; unknown taxa are created with the
lineage their row gives.

Which taxon a row lands on: the name the register uses (`scientificName`) when the taxonomy here knows
it, as an accepted name or a synonym; GRIIS maps names to the GBIF backbone, which lumps some species
that the taxonomy here splits, so GBIF's `acceptedNameUsage` is only the fallback. A taxon known by
neither name is created under GBIF's accepted name, with the register's name as its synonym; a
subspecies or variety the taxonomy lacks is created under its species, never merged into it.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.dwc_vocabulary import establishment_means, invasiveness, occurrence_present, rank_and_synonymy
from ranges.importers.regionmap import L48, RegionCodes, contiguous_us_group
from ranges.importers.report import ImportInputError, ImportReport
from ranges.importers.text import row_repaired
from ranges.services import StatusRow, regional_statuses_sync
from species.models import Taxon
from species.selectors import canonical_name, taxon_names
from species.services import SynonymRow, TaxonRecord, taxa_ensure, taxon_synonyms_sync

SYNONYM_SOURCE = "GRIIS checklists (GBIF backbone synonyms)"
SYNONYM_SOURCE_URL = "https://www.gbif.org/dataset/d7dddbf4-2cf0-4f39-9b2a-bb099caae36c"
# The one GRIIS area whose checklist covers a named part of its country (US-RIIS's contiguous states).
_AREA_REGIONS = {"United States of America (Contiguous)": L48}
_LINEAGE_COLUMNS = ("kingdom", "phylum", "class", "order", "family")
_NOT_A_NAME = {"", "incertae sedis", "null", "na", "unknown"}
# Which of two rows for one taxon, region and checklist stands: invasive first, then the plainest claim.
_MEANS_ORDER = {"introduced": 2, "native|introduced": 1, "uncertain": 0}
INFRASPECIFIC_FALLBACK = "species of infraspecific name"  # how TaxonNames.resolve says it fell back to the species


@dataclass(frozen=True)
class Checklist:
    """One published checklist and where its statuses apply (region_code "" = per row)."""

    path: Path
    source: str
    source_url: str = ""
    citation: str = ""
    region_code: str = ""
    area: str = ""


@dataclass(frozen=True)
class Entry:
    """One taxon in one region as a checklist lists it, in Darwin Core terms."""

    name: str  # the register's name, canonical ('Vulpes vulpes')
    accepted: str  # GBIF's accepted name when the row is a synonym, else ""
    rank: str
    lineage: tuple[tuple[str, str], ...]
    region_id: int
    means: str
    degree: str
    note: str
    checklist: Checklist


def _read(path: Path) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            # Some GRIIS checklists were published double-encoded ("GuÃ©rin-MÃ©nÃ©ville"): repaired here.
            return [row_repaired(row) for row in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ImportInputError(f"{path}: {exc}") from exc


def _dataset_url(meta: dict) -> str:
    doi = (meta.get("doi") or "").strip()
    if doi:
        return doi if doi.startswith("http") else f"https://doi.org/{doi}"
    for key in ("datasetID", "ipt_url"):
        if (meta.get(key) or "").startswith("http"):
            return meta[key].strip()
    return ""


def _catalogue(folder: Path, *, whole_country: bool, regions: RegionCodes, report: ImportReport) -> list[Checklist]:
    """The checklists INDEX.csv lists, each placed on a region: its locationID (ISO 3166-2) when that
    region is imported, else (national catalogues only) its country. An area without a polygon here is
    reported, never widened to its country."""
    index = _read(folder / "INDEX.csv")
    if index and not {"file", "countryCode", "citation"} <= set(index[0]):
        raise ImportInputError(
            f"{folder / 'INDEX.csv'}: not a GRIIS catalogue (needs file, countryCode, citation columns)"
        )
    checklists, unplaced = [], []
    for meta in index:
        path, area = folder / meta["file"], meta.get("area", "").strip()
        if not path.exists():
            raise ImportInputError(f"{path}: listed in INDEX.csv but missing")
        location = (meta.get("locationID") or "").removeprefix("ISO_3166-2:").strip()
        code = location if regions.id(location) is not None else _AREA_REGIONS.get(area, "")
        if not code and whole_country and not location:
            code = regions.country_for_alpha2(meta["countryCode"]) or ""
        if not code or regions.id(code) is None:
            unplaced.append(f"{area} [{meta['countryCode']}{' ' + location if location else ''}]")
            report.reject("area has no polygon here: checklist not imported", unplaced[-1])
            continue
        version = f" v{meta['version'].strip()}" if meta.get("version", "").strip() else ""
        checklists.append(
            Checklist(
                path,
                f"GRIIS checklist: {area}{version} (ISSG)",
                _dataset_url(meta),
                meta["citation"].strip(),
                code,
                area,
            )
        )
    report.note(
        f"{folder.name}: {len(checklists)} of {len(index)} checklists placed on a region"
        + (f"; no polygon here for: {', '.join(unplaced)}" if unplaced else "")
    )
    return checklists


def _checklists(paths, *, whole_country: bool, regions: RegionCodes, report: ImportReport) -> list[Checklist]:
    out = []
    for path in map(Path, paths):
        if path.is_dir() and (path / "INDEX.csv").exists():
            out.extend(_catalogue(path, whole_country=whole_country, regions=regions, report=report))
        elif path.is_dir():
            out.append(Checklist(path, path.name))  # a DwC-A folder: its dataset name is read with its rows
        elif (path.parent / "INDEX.csv").exists():
            listed = [
                c
                for c in _catalogue(
                    path.parent, whole_country=whole_country, regions=regions, report=ImportReport("griis")
                )
                if c.path == path
            ]
            if not listed:
                report.reject("area has no polygon here: checklist not imported", path.name)
            out.extend(listed)
        else:
            out.append(
                Checklist(
                    path,
                    f"GRIIS {path.stem.replace('griis_', '').replace('_', ' ').title()} (ISSG / TrIAS)"
                    if "griis" in path.name.lower()
                    else f"Darwin Core checklist {path.stem}",
                )
            )
    return out


def _rows(checklist: Checklist) -> tuple[list[dict], Checklist]:
    """Flat rows (scientificName + distribution fields); a DwC-A folder also names its dataset."""
    path = checklist.path
    if path.is_dir():
        taxa, dist = path / "taxon.csv", path / "distribution.csv"
        if not (taxa.exists() and dist.exists()):
            raise ImportInputError(f"{path}: a Darwin Core archive folder needs taxon.csv and distribution.csv")
        taxon_rows = {r["taxonID"]: r for r in _read(taxa)}
        first = next(iter(taxon_rows.values()), {})
        checklist = Checklist(
            path,
            first.get("datasetName") or path.name,
            first.get("datasetID", "") if first.get("datasetID", "").startswith("http") else "",
        )
        rows = [{**t, **d} for d in _read(dist) if (t := taxon_rows.get(d.get("taxonID", ""))) is not None]
        return rows, checklist
    rows = _read(path)
    if rows and "scientificName" not in rows[0]:
        raise ImportInputError(f"{path}: not a Darwin Core checklist (no scientificName column)")
    if rows and not checklist.region_code and not ({"countryCode", "locationID"} & set(rows[0])):
        raise ImportInputError(f"{path}: not a Darwin Core distribution (no countryCode / locationID column)")
    return rows, checklist


def _row_region(row: dict, regions: RegionCodes, report: ImportReport) -> str | None:
    """A row's own region (single files): its locationID if imported, else its country."""
    location = (row.get("locationID") or "").strip()
    for prefix in ("ISO_3166-2:", "ISO3166-2:", "ISO_3166-1:"):
        location = location.removeprefix(prefix)
    if location and regions.id(location) is not None:
        return location
    country = regions.country_for_alpha2(row.get("countryCode", "")) or (
        regions.country_for_alpha2(location) if len(location) == 2 else None
    )
    if country and len(location) > 2:
        report.note(f"{row.get('scientificName', '').strip()}: {location} not imported; recorded at {country}")
    return country


def _lineage(row: dict, name: str, rank: str) -> tuple[tuple[str, str], ...]:
    lineage = [
        (col, row.get(col, "").strip())
        for col in _LINEAGE_COLUMNS
        if row.get(col, "").strip().lower() not in _NOT_A_NAME
    ]
    words = name.split(" ")
    if rank in ("species", "subspecies"):
        lineage.append(("genus", words[0]))
    if rank == "subspecies":
        lineage.append(("species", " ".join(words[:2])))
    return tuple(lineage)


def _rank(name: str, published: str) -> str:
    """The rank the canonical name can have: one word is a genus or family, two a species, more an
    infraspecific taxon (kept as subspecies)."""
    words = len(name.split(" "))
    if words == 1:
        return published if published in ("genus", "family") else "genus"
    return "species" if words == 2 else "subspecies"


def _entries(checklist: Checklist, regions: RegionCodes, report: ImportReport, vocabulary: Counter) -> list[Entry]:
    rows, checklist = _rows(checklist)
    entries = []
    region_id = regions.id(checklist.region_code) if checklist.region_code else None
    for row in rows:
        name = canonical_name(row.get("scientificName", ""))
        if not name:
            report.reject("no scientific name", row.get("taxonID", ""))
            continue
        if not occurrence_present(row.get("occurrenceStatus", "")):
            report.reject(f"occurrenceStatus {row['occurrenceStatus'].strip().lower()}: not recorded as present", name)
            continue
        raw_means = (row.get("establishmentMeans") or "").strip()
        means = establishment_means(raw_means)
        vocabulary[f"establishmentMeans {raw_means or '(empty)'} -> {means}"] += 1
        if means is None:
            report.reject(f"establishmentMeans {raw_means!r}: not an alien record", name)
            continue
        published_degree = (row.get("degreeOfEstablishment") or "").strip()
        invasive = invasiveness(row.get("isInvasive", ""))
        vocabulary[
            f"isInvasive {(row.get('isInvasive') or '(empty)').strip()[:20]} -> {invasive.degree or '(not assessed)'}"
        ] += 1
        if not invasive.recognised:
            report.note(f"{name} ({checklist.area or checklist.source}): {invasive.note}")
        degree = (
            "invasive"
            if published_degree.lower() in ("invasive", "widespreadinvasive")
            else invasive.degree or published_degree
        )
        code = checklist.region_code or _row_region(row, regions, report)
        rid = region_id if checklist.region_code else (regions.id(code) if code else None)
        if rid is None:
            report.reject("region not imported", f"{name}: {row.get('locationID') or row.get('countryCode')}")
            continue
        published_rank, synonym = rank_and_synonymy(row.get("taxonRank", ""), row.get("taxonomicStatus", ""))
        accepted = canonical_name(row.get("acceptedNameUsage", "")) if synonym else ""
        rank = _rank(accepted or name, published_rank)
        notes = [
            n
            for n in (
                "native in part of the area, alien in the rest" if means == "native|introduced" else "",
                "cryptogenic: origin uncertain" if means == "uncertain" else "",
                invasive.note if invasive.recognised else "",
            )
            if n
        ]
        entries.append(
            Entry(
                name,
                accepted if accepted != name else "",
                rank,
                _lineage(row, accepted or name, rank),
                rid,
                means,
                degree,
                "; ".join(notes),
                checklist,
            )
        )
    return entries


def run(paths, report: ImportReport, progress: bool) -> None:
    """National checklists: each applies to its country (or its ISO 3166-2 area when imported)."""
    _import(paths, report, progress, whole_country=True)


def run_areas(paths, report: ImportReport, progress: bool) -> None:
    """Sub-national checklists (islands, atolls, parts of countries): imported only where the area
    has its own polygon here; the others are reported."""
    _import(paths, report, progress, whole_country=False)


def _import(paths, report: ImportReport, progress: bool, *, whole_country: bool) -> None:
    regions = contiguous_us_group(RegionCodes(), report) if whole_country else RegionCodes()
    checklists = _checklists(paths, whole_country=whole_country, regions=regions, report=report)
    vocabulary: Counter = Counter()
    entries: list[Entry] = []
    for checklist in progress_bar(checklists, enabled=progress, desc="griis checklists", unit="checklist"):
        entries.extend(_entries(checklist, regions, report, vocabulary))

    taxon_ids = _taxa(entries, report)
    best: dict[tuple, StatusRow] = {}
    for entry, taxon_id in zip(entries, taxon_ids):
        listed_as = f"listed as {entry.name}" if entry.name != taxon_id[1] else ""
        note = status_note("; ".join(p for p in (listed_as, entry.note) if p), entry.checklist.citation)
        status = "invasive" if entry.degree.lower() in ("invasive", "widespreadinvasive") else "introduced"
        row = StatusRow(
            taxon_id[0],
            entry.region_id,
            status,
            entry.checklist.source,
            entry.checklist.source_url,
            entry.means,
            entry.degree,
            note,
        )
        key = (row.taxon_id, row.region_id, row.source)
        if key not in best or _severity(row) > _severity(best[key]):
            best[key] = row
    report.add("statuses", regional_statuses_sync(rows=list(best.values())))
    if vocabulary:
        report.note("vocabulary: " + "; ".join(f"{k} ({n})" for k, n in sorted(vocabulary.items())))


CITE = "Cite: "


def status_note(remark: str, citation: str) -> str:
    """A status's note: what the row said beyond its status, then the checklist's citation."""
    return "; ".join(p for p in (remark, f"{CITE}{citation}" if citation else "") if p)


def _severity(row: StatusRow) -> tuple[bool, int]:
    return row.status == "invasive", _MEANS_ORDER.get(row.establishment_means, 3)


def _kingdom_of(entry: Entry) -> str:
    return dict(entry.lineage).get("kingdom", "")


def _create_missing_taxa(entries: list[Entry], resolve, report: ImportReport) -> bool:
    """Create the taxa neither the register's name nor GBIF's accepted name finds (under the
    accepted name, with their lineage), one taxa_ensure per kingdom. True when any was created."""
    missing: dict[tuple[str, str, str], TaxonRecord] = {}
    for entry in entries:
        kingdom = _kingdom_of(entry)
        own, _ = resolve(entry.name, kingdom)
        if own is None and entry.accepted and resolve(entry.accepted, kingdom)[0] is not None:
            continue
        if own is None:
            new_name = entry.accepted or entry.name
            missing.setdefault((new_name, entry.rank, kingdom), TaxonRecord(new_name, entry.rank, "", entry.lineage))
    by_kingdom: dict[str, list[TaxonRecord]] = {}
    for key, record in missing.items():  # one call per kingdom: ids come back by (name, rank)
        by_kingdom.setdefault(key[2], []).append(record)
    for records in by_kingdom.values():
        _, counts = taxa_ensure(records)
        report.add("taxa", counts)
    return bool(missing)


def _taxa(entries: list[Entry], report: ImportReport) -> list[tuple[int, str]]:
    """(taxon id, its name) per entry. Synonym rows: the register's name first (a known accepted name
    or synonym here), then GBIF's accepted name; taxa known by neither are created under GBIF's
    accepted name (with their lineage) and the register's name becomes their synonym."""
    # The synonyms this importer wrote are left out: a re-run then matches every name as the first run did.
    names = taxon_names(ignore_synonym_sources=(SYNONYM_SOURCE,))
    resolved: dict[tuple[str, str], tuple[int | None, str]] = {}

    def resolve(name: str, kingdom: str) -> tuple[int | None, str]:
        # Inside the row's kingdom: a plant genus never lands on the animal of the same name.
        if (name, kingdom) not in resolved:
            pk, how = names.resolve(name, kingdom or None)
            # A subspecies the taxonomy lacks is created under its species, not merged into it: the
            # register says the Sardinian fox (Vulpes vulpes ichnusae) is alien in France, not the red fox.
            resolved[(name, kingdom)] = (None, how) if how.startswith(INFRASPECIFIC_FALLBACK) else (pk, how)
        return resolved[(name, kingdom)]

    if _create_missing_taxa(entries, resolve, report):
        # Read the names again rather than adding the created ones: a lineage creates ancestors too
        # (Bryophyllum daigremontianum, parent of a hybrid a checklist names), and a synonym row that
        # names such an ancestor must land on it now, as it will on a second run.
        names = taxon_names(ignore_synonym_sources=(SYNONYM_SOURCE,))
    synonym_outcomes: Counter = Counter()
    known_before = {name for (name, _), (pk, _) in resolved.items() if pk is not None}
    resolved = {k: v for k, v in resolved.items() if v[0] is not None}

    synonyms, out = [], []
    for entry in entries:
        kingdom = _kingdom_of(entry)
        own, how = resolve(entry.name, kingdom)
        if own is not None:
            report.match(how, entry.name)
            out.append(own)
            if entry.accepted and entry.name in known_before:
                synonym_outcomes["on the taxon the register names (known before this import)"] += 1
            elif entry.accepted:
                synonym_outcomes["on the taxon the register names (another checklist lists it as accepted)"] += 1
            continue
        taxon_id, _ = resolve(entry.accepted, kingdom)
        report.match("GBIF accepted name of a synonym", entry.name)
        synonym_outcomes["on GBIF's accepted name (the register's name is not in the taxonomy here)"] += 1
        synonyms.append(
            SynonymRow(
                entry.name,
                taxon_id,
                SYNONYM_SOURCE,
                SYNONYM_SOURCE_URL,
                "name used by a GRIIS checklist; GBIF backbone synonym",
            )
        )
        out.append(taxon_id)
    sync = taxon_synonyms_sync(rows=synonyms)
    report.add("synonyms", sync.counts)
    for reason, example in sync.rejected:
        report.reject(f"synonym: {reason}", example)
    if synonym_outcomes:
        report.note("synonym rows: " + "; ".join(f"{n} {how}" for how, n in synonym_outcomes.most_common()))
    names_by_id = dict(Taxon.objects.values_list("pk", "scientific_name"))
    return [(pk, names_by_id[pk]) for pk in out]
