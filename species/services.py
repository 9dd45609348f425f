"""Writes to taxa and species facts."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from ml.taxonomy import RANK_ORDER
from species.models import SpeciesInfo, Taxon, TaxonomyVersion, TaxonSynonym
from species.selectors import normalise_name, taxon_tree_clear

LINEAGE_RANKS = RANK_ORDER[: RANK_ORDER.index("species")]  # kingdom ... genus: the ranks a lineage names


def taxonomy_changed() -> None:
    """Every process reloads its taxon tree (species.selectors.taxon_tree) at its next read.
    Instance saves and deletes of taxa and synonyms call this through the signals in
    species.apps (the admin, the shell, the services below); bulk writes call it themselves."""
    TaxonomyVersion.objects.get_or_create(pk=1)
    TaxonomyVersion.objects.filter(pk=1).update(version=F("version") + 1)
    taxon_tree_clear()


@transaction.atomic
def taxon_upsert_with_lineage(
    *, scientific_name: str, rank: str, common_name: str = "", lineage: dict[str, str], overwrite: bool = True
) -> tuple[Taxon, str]:
    """Create the taxon and any missing ancestors named in `lineage` (rank -> name), all in the
    lineage's kingdom (a name is unique only with its rank and kingdom).
    With overwrite=False an existing taxon keeps its parent and common name (importers whose
    taxonomies disagree, e.g. MDD and SpeciesNet, must not flip each other's choices)."""
    kingdom = scientific_name if rank == "kingdom" else (lineage.get("kingdom") or "").strip()
    parent = None
    for lineage_rank in LINEAGE_RANKS:
        if lineage_rank == rank:
            break
        name = (lineage.get(lineage_rank) or "").strip()
        if not name:
            continue
        node, _ = Taxon.objects.get_or_create(
            scientific_name=name, rank=lineage_rank, kingdom=kingdom, defaults={"parent": parent}
        )
        if parent is not None and node.parent_id is None:
            node.parent = parent
            node.save(update_fields=["parent"])
        parent = node
    taxon = Taxon.objects.filter(scientific_name=scientific_name, rank=rank, kingdom=kingdom).first()
    if taxon is None:
        return Taxon.objects.create(
            scientific_name=scientific_name, rank=rank, common_name=common_name, parent=parent, kingdom=kingdom
        ), "created"
    changed = False
    if not overwrite:
        if common_name and not taxon.common_name:
            taxon.common_name, changed = common_name, True
        if parent is not None and taxon.parent_id is None:
            taxon.parent, changed = parent, True
        if changed:
            taxon.save()
        return taxon, "updated" if changed else "unchanged"
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


def taxon_synonym_add(
    *, taxon: Taxon, name: str, source: str = "", source_url: str = "", note: str = ""
) -> TaxonSynonym:
    """One synonym, by hand (admin, shell): it replaces whatever the name pointed to before."""
    synonym, _ = TaxonSynonym.objects.update_or_create(
        name=normalise_name(name), defaults={"taxon": taxon, "source": source, "source_url": source_url, "note": note}
    )
    return synonym


@dataclass(frozen=True)
class SynonymRow:
    """A synonym as an importer reads it: the other name, the taxon it stands for, who says so."""

    name: str
    taxon_id: int
    source: str
    source_url: str = ""
    note: str = ""


@dataclass
class SynonymSync:
    counts: dict[str, int]  # created, updated, unchanged
    rejected: list[tuple[str, str]]  # (reason, example): names that were not added


REASON_ACCEPTED = "synonym is another taxon's accepted name: not added"
REASON_AMBIGUOUS = "synonym names several taxa in one source: not added"
REASON_TAKEN = "synonym already names another taxon (from another source): kept as it was"


@transaction.atomic
def taxon_synonyms_sync(*, rows: list[SynonymRow]) -> SynonymSync:
    """Add synonyms in bulk, idempotently. A name that is any taxon's accepted name, or that one
    source gives to several taxa, is not added. An existing synonym is changed only by the source
    that wrote it (first writer wins, as for taxa); the rest are reported, not overwritten."""
    accepted: dict[str, set[int]] = {}
    for pk, name in Taxon.objects.values_list("pk", "scientific_name"):
        accepted.setdefault(name.lower(), set()).add(pk)
    existing = {s.name.lower(): s for s in TaxonSynonym.objects.all()}
    names = dict(Taxon.objects.filter(pk__in={r.taxon_id for r in rows}).values_list("pk", "scientific_name"))
    by_name: dict[str, list[SynonymRow]] = {}
    for row in rows:
        row = SynonymRow(normalise_name(row.name), row.taxon_id, row.source, row.source_url, row.note[:500])
        if row.name:
            by_name.setdefault(row.name.lower(), []).append(row)

    counts = {"created": 0, "updated": 0, "unchanged": 0}
    rejected: list[tuple[str, str]] = []
    new, changed = [], []
    for key, group in by_name.items():
        row = group[0]
        taxa = {r.taxon_id for r in group}
        if len(taxa) > 1:
            rejected.append(
                (REASON_AMBIGUOUS, f"{row.name} (for {', '.join(sorted(names.get(t, str(t)) for t in taxa))})")
            )
            continue
        if key in accepted:
            if accepted[key] != {row.taxon_id}:
                rejected.append((REASON_ACCEPTED, f"{row.name} (for {names.get(row.taxon_id)})"))
            continue  # the taxon's own name needs no synonym
        old = existing.get(key)
        if old is None:
            new.append(
                TaxonSynonym(
                    name=row.name, taxon_id=row.taxon_id, source=row.source, source_url=row.source_url, note=row.note
                )
            )
        elif old.source != row.source:
            if old.taxon_id == row.taxon_id:
                counts["unchanged"] += 1
            else:
                rejected.append(
                    (
                        REASON_TAKEN,
                        f"{row.name} (for {names.get(row.taxon_id)}; stays with {old.taxon} from {old.source or 'no source'})",
                    )
                )
        elif (old.taxon_id, old.source_url, old.note) == (row.taxon_id, row.source_url, row.note):
            counts["unchanged"] += 1
        else:
            old.taxon_id, old.source_url, old.note = row.taxon_id, row.source_url, row.note
            changed.append(old)
    TaxonSynonym.objects.bulk_create(new, batch_size=500)
    TaxonSynonym.objects.bulk_update(changed, ["taxon", "source_url", "note"], batch_size=500)
    if new or changed:
        taxonomy_changed()
    counts["created"], counts["updated"] = len(new), len(changed)
    return SynonymSync(counts, rejected)


@dataclass(frozen=True)
class TaxonRecord:
    """A taxon as an importer reads it: name, rank, common name and lineage (rank -> name)."""

    scientific_name: str
    rank: str
    common_name: str = ""
    lineage: tuple[tuple[str, str], ...] = ()
    speciesnet_label: str = ""


# (name, rank, kingdom) -> (id, parent id, common name, SpeciesNet label), and what the records want:
# (name, rank, kingdom) -> (parent key, common name, SpeciesNet label).
_TaxonKey = tuple[str, str, str]
_Existing = dict[_TaxonKey, tuple[int, int | None, str, str]]
_Wanted = dict[_TaxonKey, tuple[_TaxonKey | None, str, str]]


@transaction.atomic
def taxa_ensure(records: list[TaxonRecord]) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """Create missing taxa and ancestors in bulk; existing taxa keep their parent and only gain
    an empty common name or SpeciesNet label (first writer wins, so re-imports change nothing).
    A taxon is found by (name, rank, kingdom): the kingdom comes from the record's lineage, so a
    plant genus never lands on an animal order or genus of the same name.
    Returns ids by (name, rank) (for a name held in two kingdoms: the one these records named, else
    the animal) and counts: created, updated, unchanged."""
    ids: _Existing = {
        (n, r, k): (pk, parent, common, label)
        for pk, n, r, k, parent, common, label in Taxon.objects.values_list(
            "pk", "scientific_name", "rank", "kingdom", "parent_id", "common_name", "speciesnet_label"
        )
    }
    wanted = _wanted_taxa(records)
    created, to_update = 0, []
    for rank in RANK_ORDER:  # from the root down, so that every parent has its id before its children
        created += _ensure_rank(rank, wanted, ids, to_update)
    for pk, changes in to_update:
        Taxon.objects.filter(pk=pk).update(**changes)
    if created or to_update:
        taxonomy_changed()
    counts = {"created": created, "updated": len(to_update), "unchanged": len(wanted) - created - len(to_update)}
    by_name_rank: dict[tuple[str, str], int] = {}
    for (name, r, _kingdom), value in sorted(ids.items(), key=lambda kv: kv[0][2] != "Animalia"):
        by_name_rank.setdefault((name, r), value[0])
    for name, r, kingdom in wanted:  # what these records asked for wins over the animal default
        by_name_rank[(name, r)] = ids[(name, r, kingdom)][0]
    return by_name_rank, counts


def _wanted_taxa(records: list[TaxonRecord]) -> _Wanted:
    """Every taxon the records name, ancestors included (in the record's kingdom), with the first
    parent and names given."""
    wanted: _Wanted = {}
    for rec in records:
        lineage = dict(rec.lineage)
        kingdom = rec.scientific_name if rec.rank == "kingdom" else (lineage.get("kingdom") or "")
        parent_key = None
        for rank, name in rec.lineage:
            if not name or rank == rec.rank:
                continue
            key = (name, rank, kingdom)
            previous = wanted.get(key)
            if previous is None:
                wanted[key] = (parent_key, "", "")
            elif previous[0] is None and parent_key:
                wanted[key] = (parent_key, previous[1], previous[2])
            parent_key = key
        own = (rec.scientific_name, rec.rank, kingdom)
        previous = wanted.get(own)
        wanted[own] = (
            parent_key or (previous[0] if previous else None),
            rec.common_name or (previous[1] if previous else ""),
            rec.speciesnet_label or (previous[2] if previous else ""),
        )
    return wanted


def _ensure_rank(rank: str, wanted: _Wanted, ids: _Existing, to_update: list) -> int:
    """Create the wanted taxa of one rank (ids gains them); queue fills of empty fields of existing
    ones in to_update. Returns how many were created."""
    new = []
    for key, (parent_key, common, label) in wanted.items():
        if key[1] != rank:
            continue
        parent_id = ids[parent_key][0] if parent_key and parent_key in ids else None
        if key not in ids:
            name, r, kingdom = key
            new.append(
                Taxon(
                    scientific_name=name,
                    rank=r,
                    kingdom=kingdom,
                    parent_id=parent_id,
                    common_name=common[:200],
                    speciesnet_label=label[:200],
                )
            )
            continue
        pk, old_parent, old_common, old_label = ids[key]
        changes = {}
        if old_parent is None and parent_id is not None:
            changes["parent_id"] = parent_id
        if common and not old_common:
            changes["common_name"] = common[:200]
        if label and not old_label:
            changes["speciesnet_label"] = label[:200]
        if changes:
            to_update.append((pk, changes))
            ids[key] = (
                pk,
                changes.get("parent_id", old_parent),
                changes.get("common_name", old_common),
                changes.get("speciesnet_label", old_label),
            )
    for taxon in Taxon.objects.bulk_create(new, batch_size=500):
        if taxon.pk is None:  # backends that do not return ids
            taxon = Taxon.objects.get(scientific_name=taxon.scientific_name, rank=taxon.rank, kingdom=taxon.kingdom)
        ids[(taxon.scientific_name, taxon.rank, taxon.kingdom)] = (
            taxon.pk,
            taxon.parent_id,
            taxon.common_name,
            taxon.speciesnet_label,
        )
    return len(new)
