"""Reads of taxa: lookup by name (accepted, synonym, underscores, case) or id, and the tree."""

from __future__ import annotations

import threading

from django.db.models import Q

from ml.taxonomy import RANK_ORDER, TaxonTree
from species.models import Taxon, TaxonomyVersion, TaxonSynonym

# A name that matches several taxa: the species first, then the nearest rank above it.
_RANK_PREFERENCE = ["species", "subspecies", *reversed(RANK_ORDER[: RANK_ORDER.index("species")])]


def normalise_name(name: str) -> str:
    """'Myocastor_coypus ' -> 'Myocastor coypus' (genus capitalised, the rest lower case)."""
    words = " ".join(name.replace("_", " ").split()).split(" ")
    if not words or not words[0]:
        return ""
    return " ".join([words[0].capitalize(), *[w.lower() for w in words[1:]]])


def taxon_by_name(name: str) -> Taxon | None:
    """By accepted name, then synonym ('Herpestes javanicus' -> Urva auropunctata), ignoring case
    and underscores; a name with authorship ('Sus scrofa Linnaeus, 1758') is tried without it."""
    tried = set()
    for clean in (normalise_name(name), *name_candidates(name)):
        if not clean or clean in tried:
            continue
        tried.add(clean)
        matches = list(Taxon.objects.filter(scientific_name__iexact=clean))
        if matches:
            return min(matches, key=lambda t: _rank_order(t.rank))
        synonym = TaxonSynonym.objects.select_related("taxon").filter(name__iexact=clean).first()
        if synonym:
            return synonym.taxon
    return None


def taxon_by_key_or_id(value: str) -> Taxon | None:
    """By id (ASCII digits only: "²" is a digit to str.isdigit() but not to int()) or by name."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        pk = int(value)
        return Taxon.objects.filter(pk=pk).first() if pk <= _MAX_ID else None  # beyond a bigint: no such id
    return taxon_by_name(value)


_MAX_ID = 2**63 - 1


def taxa_by_keys(keys) -> dict[str, Taxon]:
    return {t.scientific_name: t for t in Taxon.objects.filter(scientific_name__in=list(keys)).select_related("info")}


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
        qs = qs.filter(
            Q(scientific_name__icontains=query) | Q(common_name__icontains=query) | Q(synonyms__name__icontains=query)
        ).distinct()
    return qs


_RANK_WORDS = {"subsp.", "ssp.", "var.", "f.", "subvar.", "forma", "cf.", "aff."}


def canonical_name(name: str) -> str:
    """'Abies alba Mill.' -> 'Abies alba'; 'Ovis gmelinii subsp. musimon (Pallas, 1811)' ->
    'Ovis gmelinii musimon'; 'Myocastor_coypus' -> 'Myocastor coypus'. Authorship and rank
    words go; epithets (lower case) stay."""
    name = (name or "").replace("×", "")
    if name.isupper():
        name = name.lower()
    words = normalise_name(name).split(" ") if name else []
    raw = " ".join(name.replace("_", " ").split()).split(" ") if name else []
    if not words or not words[0]:
        return ""
    kept = [words[0]]
    for original, word in zip(raw[1:], words[1:]):
        if original in _RANK_WORDS or word in _RANK_WORDS:
            continue
        if not original[:1].islower() or not original.replace("-", "").isalpha():
            break
        kept.append(word)
    return " ".join(kept)


def name_candidates(name: str) -> list[str]:
    """Spellings to look a name up by, most specific first: its canonical name, and, where that
    dropped a capitalised epithet as if it were an author ('Mus Coypus Molina, 1782' -> 'Mus'),
    the binomial before it ('Mus coypus')."""
    canonical = canonical_name(name)
    words = normalise_name(name).split(" ")
    out = []
    if len(canonical.split(" ")) == 1 and len(words) >= 2 and words[1].isalpha():
        out.append(" ".join(words[:2]))
    if canonical:
        out.append(canonical)
    return out


class TaxonNames:
    """Every accepted name and synonym in memory, for importers that match thousands of names.
    resolve() answers (taxon id, how it matched) or (None, "unmatched")."""

    def __init__(self, *, ignore_synonym_sources: tuple[str, ...] = ()):
        self._accepted: dict[str, int] = {}
        ranks: dict[str, str] = {}
        for pk, name, rank in Taxon.objects.values_list("pk", "scientific_name", "rank"):
            key = name.lower()
            if key in self._accepted and _rank_order(ranks[key]) <= _rank_order(rank):
                continue
            self._accepted[key], ranks[key] = pk, rank
        synonyms = TaxonSynonym.objects.exclude(source__in=ignore_synonym_sources)
        self._synonyms = {name.lower(): pk for name, pk in synonyms.values_list("name", "taxon_id")}

    def add(self, name: str, pk: int) -> None:
        self._accepted.setdefault(name.lower(), pk)

    def resolve(self, name: str) -> tuple[int | None, str]:
        candidates = name_candidates(name)
        if not candidates:
            return None, "unmatched"
        for clean in candidates:
            key = clean.lower()
            if key in self._accepted:
                return self._accepted[key], "accepted"
            if key in self._synonyms:
                return self._synonyms[key], "synonym"
        words = candidates[-1].lower().split(" ")
        if len(words) > 2:
            # A subspecies (or variety) the taxonomy lacks answers for its species.
            binomial = " ".join(words[:2])
            if binomial in self._accepted:
                return self._accepted[binomial], "species of infraspecific name"
            if binomial in self._synonyms:
                return self._synonyms[binomial], "synonym of species"
        return None, "unmatched"


def _rank_order(rank: str) -> int:
    return _RANK_PREFERENCE.index(rank) if rank in _RANK_PREFERENCE else 99


def taxon_names(*, ignore_synonym_sources: tuple[str, ...] = ()) -> TaxonNames:
    """All names in memory; an importer that writes synonyms ignores its own, so that a re-run
    matches names exactly as the first run did."""
    return TaxonNames(ignore_synonym_sources=ignore_synonym_sources)


# The taxon tree: one copy per process, owned here, reloaded when the taxonomy version moves
# (species.services.taxonomy_changed, bumped by every write to taxa or synonyms).
_tree_lock = threading.Lock()
_tree: TaxonTree | None = None


def taxonomy_version() -> int:
    return int(TaxonomyVersion.objects.values_list("version", flat=True).first() or 0)


def taxon_tree() -> TaxonTree:
    """The whole taxonomy (parents, ranks, synonyms by name) for roll-up and group verdicts."""
    global _tree
    version = taxonomy_version()
    if _tree is not None and _tree.version == version:
        return _tree
    with _tree_lock:
        if _tree is None or _tree.version != version:
            _tree = _taxon_tree_build(version)
    return _tree


def taxon_tree_clear() -> None:
    """Forget this process's copy (tests; the version check covers other processes)."""
    global _tree
    _tree = None


def _taxon_tree_build(version: int) -> TaxonTree:
    parents, ranks = {}, {}
    for name, parent, rank in Taxon.objects.values_list("scientific_name", "parent__scientific_name", "rank").iterator(
        chunk_size=5000
    ):
        # A name held at two ranks (a genus and a subgenus): the species-most rank names it.
        if name not in ranks or _rank_order(rank) < _rank_order(ranks[name]):
            parents[name], ranks[name] = parent, rank
    synonyms = dict(TaxonSynonym.objects.values_list("name", "taxon__scientific_name"))
    return TaxonTree(parents=parents, ranks=ranks, synonyms=synonyms, version=version)
