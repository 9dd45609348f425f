"""Loads the project's starter pack (species/starter_pack/): taxa, facts, synonyms, and the ImageNet mapping."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from django.db import transaction

from species.models import Taxon
from species.selectors import normalise_name
from species.services import (
    LINEAGE_RANKS,
    SynonymRow,
    SynonymSync,
    species_info_upsert,
    taxon_synonyms_sync,
    taxon_upsert_with_lineage,
)

STARTER_PACK = Path(__file__).resolve().parent / "starter_pack"
SYNONYMS_SOURCE = "RangeWatch starter pack: synonyms"
logger = logging.getLogger(__name__)


def read_csv(name: str) -> list[dict]:
    with open(STARTER_PACK / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def imagenet_classes() -> tuple[list[str], list[str | None]]:
    """(labels, taxon key per label) for the 1000 ImageNet classes, in output order."""
    rows = sorted(read_csv("imagenet_classes.csv"), key=lambda r: int(r["class_index"]))
    return [r["imagenet_label"] for r in rows], [r["scientific_name"].strip() or None for r in rows]


@transaction.atomic
def load_taxa_and_facts() -> dict[str, int]:
    counts = {"taxa_created": 0, "taxa_updated": 0, "info_created": 0, "info_updated": 0}
    for row in read_csv("taxa.csv"):
        lineage = {rank: row.get(rank, "") for rank in LINEAGE_RANKS}
        _, outcome = taxon_upsert_with_lineage(
            scientific_name=row["scientific_name"].strip(),
            rank=row["rank"].strip(),
            common_name=row["common_name"].strip(),
            lineage=lineage,
        )
        if outcome != "unchanged":
            counts[f"taxa_{outcome}"] += 1
    facts = json.loads((STARTER_PACK / "species_info.json").read_text(encoding="utf-8"))
    # The starter pack's facts are about animals: a plant of the same name (a homonym) gets none.
    taxa = {
        t.scientific_name: t
        for t in Taxon.objects.filter(
            scientific_name__in=[f["scientific_name"] for f in facts], kingdom__in=["Animalia", ""]
        )
    }
    for fact in facts:
        taxon = taxa.get(fact["scientific_name"])
        if taxon is None:
            continue
        _, outcome = species_info_upsert(
            taxon=taxon,
            summary=fact["summary"],
            habitat=fact.get("habitat", ""),
            diet=fact.get("diet", ""),
            iucn_category=fact.get("iucn_category", "NE"),
            conservation_note=fact.get("conservation_note", ""),
            how_to_help=fact.get("how_to_help", ""),
            sources=fact.get("sources", []),
        )
        if outcome != "unchanged":
            counts[f"info_{outcome}"] += 1
    synonyms = load_synonyms()
    counts.update(
        synonyms_created=synonyms.counts["created"],
        synonyms_updated=synonyms.counts["updated"],
        synonyms_skipped=len(synonyms.rejected),
    )
    for reason, example in synonyms.rejected:
        logger.info("starter synonyms: %s: %s", reason, example)
    return counts


REASON_NO_ACCEPTED = "accepted name not in the database: skipped"


@transaction.atomic
def load_synonyms() -> SynonymSync:
    """The curated synonyms.csv, idempotently. Rows whose accepted name is not a taxon yet (e.g.
    Bos bison before the MDD import) are skipped and reported; so are names that are some
    taxon's accepted name, or already another taxon's synonym from another source."""
    wanted = [(normalise_name(r["synonym"]), normalise_name(r["accepted"]), r) for r in read_csv("synonyms.csv")]
    found: dict[str, Taxon] = {}
    for taxon in Taxon.objects.filter(scientific_name__in={accepted for _, accepted, _ in wanted}):
        if taxon.scientific_name not in found or taxon.rank == "species":
            found[taxon.scientific_name] = taxon
    rows, skipped = [], []
    for synonym, accepted, row in wanted:
        taxon = found.get(accepted)
        if taxon is None:
            skipped.append((REASON_NO_ACCEPTED, f"{synonym} -> {accepted}"))
            continue
        rows.append(SynonymRow(synonym, taxon.pk, SYNONYMS_SOURCE, row["source"].strip(), row.get("note", "").strip()))
    result = taxon_synonyms_sync(rows=rows)
    return SynonymSync(result.counts, skipped + result.rejected)
