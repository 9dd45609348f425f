"""Native (and introduced) countries of a taxonomic group, in the shared country-table format.

A folder holds `*.csv` files with the columns `scientificName,countryCode,countryName,establishmentMeans`
(ISO 3166-1 alpha-3; `native` or `introduced`) and a `meta.json` naming the source (`name`,
`citation`, `url`, `license`, `absence_means_not_native`, optionally `taxon_group`, e.g. "Aves").
Used today by the BirdLife/HBW bird lists (open world) and AmphibiaWeb's amphibian lists (closed world).

What the source claims is recorded once, as a RangeSource: a closed-world source (absence means not
native) lets the verdict answer `out_of_range` outside the listed countries; an open-world one only
ever says `native` where it lists the taxon. `introduced` rows become introduced statuses, cited.

Names go through the taxonomy's accepted names and synonyms (AmphibiaWeb's *Rana catesbeiana* lands on
*Lithobates catesbeianus*). A name the taxonomy does not know becomes a new species under its genus
and the source's class, unless that genus name already belongs to another branch of the tree (a
homonym): such rows are reported, never attached to the wrong animal.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ranges.importers import progress_bar
from ranges.importers.regionmap import RegionCodes
from ranges.importers.report import ImportInputError, ImportReport
from ranges.services import RangeSourceRow, StatusRow, range_source_upsert, regional_statuses_sync
from species.models import Taxon
from species.selectors import TaxonNames, canonical_name, taxon_names
from species.services import TaxonRecord, taxa_ensure

COLUMNS = ("scientificName", "countryCode", "establishmentMeans")
META_KEYS = ("name", "citation", "url", "license", "absence_means_not_native")
MEANS = {"native": "native", "reintroduced": "native", "introduced": "introduced"}
# The lineage above the class, for the classes these tables cover; a new species needs it.
_PHYLUM_OF_CLASS = {
    "Aves": "Chordata",
    "Amphibia": "Chordata",
    "Mammalia": "Chordata",
    "Reptilia": "Chordata",
    "Squamata": "Chordata",
    "Testudines": "Chordata",
    "Actinopterygii": "Chordata",
}
NEW_TAXA_EXAMPLES = 5


@dataclass(frozen=True)
class CountryTable:
    """One folder: its rows and what its meta.json says about them."""

    folder: Path
    source: RangeSourceRow
    rows: list[dict]


def read_table(folder: Path) -> CountryTable:
    """The folder's meta.json and CSV rows, validated; a clear ImportInputError otherwise."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImportInputError(f"{folder}: not a folder (native-countries takes folders with meta.json and *.csv)")
    meta_path = folder / "meta.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImportInputError(f"{folder}: no meta.json") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportInputError(f"{meta_path}: {exc}") from exc
    missing = [k for k in META_KEYS if k not in meta] if isinstance(meta, dict) else list(META_KEYS)
    if missing:
        raise ImportInputError(f"{meta_path}: missing {', '.join(missing)}")
    if not isinstance(meta["absence_means_not_native"], bool):
        raise ImportInputError(f"{meta_path}: absence_means_not_native must be true or false")
    if not str(meta["name"]).strip():
        raise ImportInputError(f"{meta_path}: empty name")
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise ImportInputError(f"{folder}: no *.csv table")
    rows: list[dict] = []
    for path in files:
        try:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                absent = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
                if absent:
                    raise ImportInputError(f"{path}: missing column(s) {', '.join(absent)}")
                rows.extend(reader)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise ImportInputError(f"{path}: {exc}") from exc
    source = RangeSourceRow(
        name=str(meta["name"]).strip(),
        citation=str(meta["citation"]),
        url=str(meta["url"]),
        license=str(meta["license"]),
        absence_means_not_native=meta["absence_means_not_native"],
        taxon_group=str(meta.get("taxon_group") or ""),
        lists_every_species=bool(meta.get("lists_every_species", False)),
    )
    return CountryTable(folder, source, rows)


def run(paths, report: ImportReport, progress: bool) -> None:
    tables = [read_table(Path(p)) for p in paths]  # every folder validated before anything is written
    resolver, regions = taxon_names(), RegionCodes()  # read once: ~150,000 names after the full imports
    for table in tables:
        import_table(table, report, progress, resolver=resolver, regions=regions)


def import_table(
    table: CountryTable,
    report: ImportReport,
    progress: bool,
    *,
    resolver: TaxonNames | None = None,
    regions: RegionCodes | None = None,
) -> None:
    """Write one table's statuses."""
    source = table.source
    report.add("sources", {range_source_upsert(row=source): 1})
    world = "closed world" if source.absence_means_not_native else "open world: never out_of_range by absence"
    report.note(f"{source.name}: {world}; licence {source.license}")
    rows = table.rows
    resolver = resolver or taxon_names()
    taxon_of: dict[str, int | None] = {}
    for name in sorted({r["scientificName"].strip() for r in rows}):
        taxon_id, how = resolver.resolve(name)
        taxon_of[name] = taxon_id
        if taxon_id is not None:
            report.match(how, name)
    new = [name for name, pk in taxon_of.items() if pk is None]
    created = _new_species(new, source.taxon_group, report)
    for name, pk in created.items():
        resolver.add(name, pk)
    taxon_of.update(created)

    regions = regions or RegionCodes()
    statuses: dict[tuple[int, int], StatusRow] = {}
    for row in progress_bar(rows, enabled=progress, desc=source.name[:30]):
        name = row["scientificName"].strip()
        taxon_id = taxon_of.get(name)
        if taxon_id is None:
            report.unmatched[name] += 1
            continue
        means = MEANS.get((row.get("establishmentMeans") or "").strip().lower())
        if means is None:
            report.reject("establishmentMeans not native/introduced", f"{name}: {row.get('establishmentMeans')}")
            continue
        code = (row.get("countryCode") or "").strip().upper()
        region_id = regions.id(code) if regions.kinds.get(code) == "country" else None
        if region_id is None:
            report.reject("country code not a country region here", f"{name}: {code} ({row.get('countryName', '')})")
            continue
        key = (taxon_id, region_id)
        if key in statuses and statuses[key].status == "native":
            continue  # two names of one taxon (a synonym and its accepted name): native stands
        statuses[key] = StatusRow(taxon_id, region_id, means, source.name, source.url, means, means)
    report.add("statuses", regional_statuses_sync(rows=list(statuses.values())))


def _new_species(names: list[str], taxon_group: str, report: ImportReport) -> dict[str, int]:
    """Species the taxonomy lacks, created under their genus in the source's class. A name that is not
    a binomial, a source without a known class, or a genus name held by another class stays unmatched."""
    phylum = _PHYLUM_OF_CLASS.get(taxon_group)
    if not names:
        return {}
    if phylum is None:
        report.note(f"{len(names)} names unknown to the taxonomy and no known taxon_group in meta.json: not created")
        return {}
    genus_class = _class_of_genera({n.split(" ")[0] for n in names})
    records, created_for = [], {}
    for name in names:
        words = canonical_name(name).split(" ")
        if len(words) != 2 or " ".join(words) != name:
            report.reject("not a plain binomial: no taxon created", name)
            continue
        held_by = genus_class.get(words[0])
        if held_by is not None and held_by != taxon_group:
            report.reject(f"genus name held by another class (homonym): no {taxon_group} taxon created", name)
            continue
        lineage = (("kingdom", "Animalia"), ("phylum", phylum), ("class", taxon_group), ("genus", words[0]))
        records.append(TaxonRecord(name, "species", "", lineage))
        created_for[name] = (name, "species")
    if not records:
        return {}
    ids, counts = taxa_ensure(records)
    report.add("taxa", counts)
    if counts.get("created"):
        examples = ", ".join(list(created_for)[:NEW_TAXA_EXAMPLES])
        report.note(f"new taxa: {len(created_for)} species the taxonomy did not know (e.g. {examples})")
    return {name: ids[key] for name, key in created_for.items()}


def _class_of_genera(genera: set[str]) -> dict[str, str]:
    """Genus name -> the class it sits in, for the genera that already exist ("" when unplaced)."""
    parents = dict(Taxon.objects.values_list("pk", "parent_id"))
    classes = dict(Taxon.objects.filter(rank="class").values_list("pk", "scientific_name"))
    out: dict[str, str] = {}
    for pk, name in Taxon.objects.filter(rank="genus", scientific_name__in=genera).values_list("pk", "scientific_name"):
        node = parents.get(pk)
        while node is not None and node not in classes:
            node = parents.get(node)
        found = classes.get(node, "")
        # A genus placed nowhere above (no class) is taken as the source's to place.
        if found or name not in out:
            out[name] = found or out.get(name, "")
    return {name: cls for name, cls in out.items() if cls}
