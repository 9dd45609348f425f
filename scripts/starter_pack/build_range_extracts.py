"""Build the starter pack's range extracts for the species the starter model names.

Imports the real data (../shared/data: Natural Earth, the Mammal Diversity Database, the GRIIS
national checklists) into a throw-away SQLite database with the project's own importers, after the
starter taxa and synonyms, so that names land exactly where a full import puts them; then writes:

- mdd_species.csv.gz: every species of the Mammal Diversity Database (6,753) with its order, family,
  common name, native countries and native US states, so that a fresh install knows every mammal
  genus and family whole (domestic forms have empty countries);
- amphibians_countries/: the AmphibiaWeb country rows (shared native-countries format, its meta.json)
  of the amphibians the starter pack names, found through the synonyms as the importer finds them;
- griis_statuses.csv: the GRIIS alien/invasive records of every species the model names;
- griis_checklists.csv: the checklists those records come from, with their citation and licence.

The statuses carry the importers' own source names, so a later full import finds them unchanged.

Run:  .venv/bin/python scripts/starter_pack/build_range_extracts.py [--shared ../shared/data] [--skip-griis]

It lives in scripts/, above every app: it drives the ranges importers to write species' data files,
an import that would run uphill from inside species.
"""

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "species" / "starter_pack"  # where the extracts live
MDD_SOURCE_PREFIX = "Mammal Diversity Database"
GRIIS_SOURCE_PREFIX = "GRIIS checklist: "
MDD_EXTRACT = "mdd_species.csv.gz"
AMPHIBIANS_EXTRACT = "amphibians_countries"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--skip-griis", action="store_true", help="keep the GRIIS extract; rebuild the others")
    args = parser.parse_args()
    shared = args.shared.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/extracts.sqlite3"
        os.environ["DJANGO_SETTINGS_MODULE"] = "backend.settings.local"
        sys.path.insert(0, str(REPO))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        build(shared, griis=not args.skip_griis)


def build(shared: Path, griis: bool = True) -> None:
    from ranges.importers import ImportConfig, data_import
    from ranges.importers.dwc_checklist import CITE
    from ranges.models import RegionalStatus
    from species.selectors import taxon_by_name
    from species.starter import imagenet_classes, load_taxa_and_facts, read_csv

    load_taxa_and_facts()
    for fmt, paths in (
        ("natural-earth", sorted((shared / "geo" / "natural_earth").glob("*.json"))),
        ("us-census", [shared / "geo" / "us_census_states" / "cb_2020_us_state_500k.zip"]),
        ("mdd", [shared / "ranges" / "mdd_mammal_native_countries"]),
        *([("griis", [shared / "invasive" / "griis_countries"])] if griis else []),
    ):
        report = data_import(ImportConfig(fmt=fmt, paths=tuple(paths), progress=False))
        print(f"{fmt}: {report.changed} rows in {report.seconds:.1f}s")

    ranks = {r["scientific_name"]: r["rank"] for r in read_csv("taxa.csv")}
    _, label_taxa = imagenet_classes()
    species = sorted({name for name in label_taxa if name and ranks.get(name) == "species"})
    taxa = {name: taxon_by_name(name) for name in species}
    statuses = (
        RegionalStatus.objects.filter(taxon__in=[t for t in taxa.values() if t])
        .select_related("taxon", "region")
        .order_by("taxon__scientific_name", "region__code", "source")
    )
    key_of = {t.pk: name for name, t in taxa.items() if t}

    native: dict[str, dict] = {}
    alien_rows, checklists = [], {}
    citations = {
        r["citation"].strip(): r
        for r in csv.DictReader(open(shared / "invasive" / "griis_countries" / "INDEX.csv", encoding="utf-8"))
    }
    for status in statuses:
        name = key_of[status.taxon_id]
        if status.source.startswith(MDD_SOURCE_PREFIX):
            entry = native.setdefault(
                name, {"countries": [], "us_states": [], "source": status.source, "source_url": status.source_url}
            )
            if status.region.kind == "country":
                entry["countries"].append(status.region.code)
            elif status.region.code.startswith("US-") and status.region.kind == "admin1":
                entry["us_states"].append(status.region.code.removeprefix("US-"))
        elif status.source.startswith(GRIIS_SOURCE_PREFIX):
            remark, _, citation = status.note.partition(CITE)
            checklists[status.source] = {
                "source": status.source,
                "source_url": status.source_url,
                "citation": citation,
                "license": citations.get(citation, {}).get("license", "CC-BY-4.0"),
            }
            alien_rows.append(
                {
                    "scientific_name": name,
                    "region_code": status.region.code,
                    "status": status.status,
                    "establishment_means": status.establishment_means,
                    "degree_of_establishment": status.degree_of_establishment,
                    "source": status.source,
                    "remark": remark.removesuffix("; "),
                }
            )

    _write_mdd_species(shared)
    _write_amphibians(shared, ranks)
    _write_native_ranges({}, ranks)  # the MDD rows now live in mdd_species.csv.gz, every species
    if not griis:
        return
    _write(
        "griis_statuses.csv",
        [
            "scientific_name",
            "region_code",
            "status",
            "establishment_means",
            "degree_of_establishment",
            "source",
            "remark",
        ],
        alien_rows,
    )
    _write(
        "griis_checklists.csv",
        ["source", "source_url", "citation", "license"],
        sorted(checklists.values(), key=lambda r: r["source"]),
    )
    print(
        f"native ranges from MDD: {len(native)} species; GRIIS: {len(alien_rows)} statuses of "
        f"{len({r['scientific_name'] for r in alien_rows})} species from {len(checklists)} checklists"
    )
    print(
        "model species without native range data:",
        ", ".join(sorted(set(species) - set(native) - _curated_native())) or "none",
    )


def _write_mdd_species(shared: Path) -> None:
    """Every MDD species, its lineage and its native countries and US states as the importer wrote them."""
    import gzip
    import io

    from ranges.models import RegionalStatus

    names = {
        r["sciName"].replace("_", " ").strip(): r
        for r in csv.DictReader(
            open(next((shared / "ranges" / "mdd_mammal_native_countries").glob("MDD_*.csv")), encoding="utf-8-sig")
        )
    }
    countries: dict[str, set[str]] = {name: set() for name in names}
    states: dict[str, set[str]] = {name: set() for name in names}
    for name, code, kind, parent in RegionalStatus.objects.filter(source__startswith=MDD_SOURCE_PREFIX).values_list(
        "taxon__scientific_name", "region__code", "region__kind", "region__parent__code"
    ):
        if kind == "country":
            countries[name].add(code)
        elif kind == "admin1" and code.startswith("US-"):
            states[name].add(code.removeprefix("US-"))
        elif parent:
            # A fresh install has no admin-1 regions outside the USA: the importer would record
            # "Canary Islands" (ES-CN) at its country, so the extract does the same.
            countries[name].add(parent)
    path = HERE / MDD_EXTRACT
    # mtime=0: the same data gives the same bytes, so a rebuild with no change leaves git clean.
    with gzip.GzipFile(path, "wb", mtime=0) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["scientific_name", "common_name", "order", "family", "countries", "us_states"])
        for name in sorted(names):
            row = names[name]
            writer.writerow(
                [
                    name,
                    (row.get("mainCommonName") or "").strip(),
                    row["order"].capitalize(),
                    row["family"].capitalize(),
                    " ".join(sorted(countries[name])),
                    " ".join(sorted(states[name])),
                ]
            )
    print(f"wrote {MDD_EXTRACT} ({len(names)} species, {path.stat().st_size} bytes)")


def _write_amphibians(shared: Path, ranks: dict[str, str]) -> None:
    """The AmphibiaWeb rows of the amphibians the pack names (through the synonyms), with its meta.json."""
    import json

    from species.selectors import taxon_names
    from species.starter import read_csv

    source = shared / "ranges" / "amphibians_countries"
    names = taxon_names()
    wanted = {
        names.resolve(r["scientific_name"])[0]
        for r in read_csv("taxa.csv")
        if r["class"] == "Amphibia" and ranks.get(r["scientific_name"]) == "species"
    }
    rows = [
        r
        for r in csv.DictReader(open(source / "amphibians_countries.csv", encoding="utf-8-sig"))
        if names.resolve(r["scientificName"])[0] in wanted
    ]
    out = HERE / AMPHIBIANS_EXTRACT
    out.mkdir(exist_ok=True)
    meta = json.loads((source / "meta.json").read_text(encoding="utf-8"))
    meta["note"] = (
        f"{meta.get('note', '')}; this copy: only the {len({r['scientificName'] for r in rows})} species the "
        "RangeWatch starter pack names (build_range_extracts.py); the whole table is a curator's import"
    )
    (out / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _write(f"{AMPHIBIANS_EXTRACT}/amphibians_countries.csv", list(rows[0]), rows)


def _curated_native() -> set[str]:
    from species.starter import read_csv

    return {
        r["scientific_name"]
        for r in read_csv("native_ranges.csv")
        if r.get("source", "") == "" or not r["source"].startswith(MDD_SOURCE_PREFIX)
    }


def _write_native_ranges(native: dict[str, dict], ranks: dict[str, str]) -> None:
    """MDD rows replace the rows of the same species; the hand-curated rows of other species stay."""
    from species.starter import read_csv

    kept = [
        r
        for r in read_csv("native_ranges.csv")
        if r["scientific_name"] not in native and not r.get("source", "").startswith(MDD_SOURCE_PREFIX)
    ]
    rows = [
        {
            "scientific_name": r["scientific_name"],
            "countries": r["countries"],
            "us_states": r.get("us_states", ""),
            "source": r.get("source") or "RangeWatch starter pack: native ranges",
            "source_url": r["source_url"],
        }
        for r in kept
    ]
    for name, entry in native.items():
        rows.append(
            {
                "scientific_name": name,
                "countries": " ".join(sorted(entry["countries"])),
                "us_states": " ".join(sorted(entry["us_states"])),
                "source": entry["source"],
                "source_url": entry["source_url"],
            }
        )
    _write(
        "native_ranges.csv",
        ["scientific_name", "countries", "us_states", "source", "source_url"],
        sorted(rows, key=lambda r: r["scientific_name"]),
    )


def _write(name: str, fields: list[str], rows: list[dict]) -> None:
    with open(HERE / name, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {name} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
