"""Reads of taxa: lookup by name (accepted, synonym, underscores, case) or id, and the tree."""
from __future__ import annotations

from django.db.models import Q

from species.models import Taxon, TaxonSynonym

_RANK_PREFERENCE = ["species", "subspecies", "genus", "family", "order", "class", "phylum", "kingdom"]


def normalise_name(name: str) -> str:
    """'Myocastor_coypus ' -> 'Myocastor coypus' (genus capitalised, the rest lower case)."""
    words = " ".join(name.replace("_", " ").split()).split(" ")
    if not words or not words[0]:
        return ""
    return " ".join([words[0].capitalize(), *[w.lower() for w in words[1:]]])


def taxon_by_name(name: str) -> Taxon | None:
    clean = normalise_name(name)
    if not clean:
        return None
    matches = list(Taxon.objects.filter(scientific_name__iexact=clean))
    if not matches:
        synonym = TaxonSynonym.objects.select_related("taxon").filter(name__iexact=clean).first()
        return synonym.taxon if synonym else None
    return min(matches, key=lambda t: _RANK_PREFERENCE.index(t.rank) if t.rank in _RANK_PREFERENCE else 99)


def taxon_by_key_or_id(value: str) -> Taxon | None:
    value = (value or "").strip()
    if value.isdigit():
        return Taxon.objects.filter(pk=int(value)).first()
    return taxon_by_name(value)


def taxa_by_keys(keys) -> dict[str, Taxon]:
    return {t.scientific_name: t for t in Taxon.objects.filter(scientific_name__in=list(keys)).select_related("info")}


def taxon_tree() -> tuple[dict[str, str | None], dict[str, str]]:
    """(parent key by key, rank by key) for the whole tree: what the roll-up needs."""
    parents, ranks = {}, {}
    for name, rank, parent in Taxon.objects.values_list("scientific_name", "rank", "parent__scientific_name"):
        parents[name] = parent
        ranks[name] = rank
    return parents, ranks


def taxon_lineage(taxon: Taxon) -> list[Taxon]:
    out, node, seen = [], taxon, set()
    while node is not None and node.pk not in seen:
        seen.add(node.pk)
        out.append(node)
        node = node.parent
    return out


def taxa_search(query: str):
    query = (query or "").strip()
    qs = Taxon.objects.select_related("parent").order_by("scientific_name")
    if query:
        qs = qs.filter(Q(scientific_name__icontains=query) | Q(common_name__icontains=query) | Q(synonyms__name__icontains=query)).distinct()
    return qs
