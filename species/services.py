"""Writes to taxa and species facts."""
from __future__ import annotations

from django.db import transaction

from species.models import SpeciesInfo, Taxon, TaxonSynonym

LINEAGE_RANKS = ("kingdom", "phylum", "class", "order", "family", "genus")


@transaction.atomic
def taxon_upsert_with_lineage(*, scientific_name: str, rank: str, common_name: str = "", lineage: dict[str, str]) -> tuple[Taxon, str]:
    """Create the taxon and any missing ancestors named in `lineage` (rank -> name)."""
    parent = None
    for lineage_rank in LINEAGE_RANKS:
        if lineage_rank == rank:
            break
        name = (lineage.get(lineage_rank) or "").strip()
        if not name:
            continue
        node, _ = Taxon.objects.get_or_create(scientific_name=name, rank=lineage_rank, defaults={"parent": parent})
        if parent is not None and node.parent_id is None:
            node.parent = parent
            node.save(update_fields=["parent"])
        parent = node
    taxon = Taxon.objects.filter(scientific_name=scientific_name, rank=rank).first()
    if taxon is None:
        return Taxon.objects.create(scientific_name=scientific_name, rank=rank, common_name=common_name, parent=parent), "created"
    changed = False
    if common_name and taxon.common_name != common_name:
        taxon.common_name, changed = common_name, True
    if parent is not None and taxon.parent_id != parent.pk:
        taxon.parent, changed = parent, True
    if changed:
        taxon.save()
    return taxon, "updated" if changed else "unchanged"


def species_info_upsert(*, taxon: Taxon, **fields) -> tuple[SpeciesInfo, str]:
    info = SpeciesInfo.objects.filter(taxon=taxon).first()
    if info is None:
        return SpeciesInfo.objects.create(taxon=taxon, **fields), "created"
    if all(getattr(info, k) == v for k, v in fields.items()):
        return info, "unchanged"
    for k, v in fields.items():
        setattr(info, k, v)
    info.save()
    return info, "updated"


def taxon_synonym_add(*, taxon: Taxon, name: str, source: str = "") -> TaxonSynonym:
    synonym, _ = TaxonSynonym.objects.update_or_create(name=name, defaults={"taxon": taxon, "source": source})
    return synonym
