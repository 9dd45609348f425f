"""Reads of taxa: lookup by name (accepted, synonym, underscores, case) or id, and the tree."""

from __future__ import annotations

from django.db.models import Q

from core.process_cache import VersionedCache
from ml.taxonomy import RANK_ORDER, TaxonTree
from species.models import IucnCategory, SpeciesInfo, Taxon, TaxonomyVersion, TaxonSynonym

# A name that matches several taxa: the species first, then the nearest rank above it.
_RANK_PREFERENCE = ["species", "subspecies", *reversed(RANK_ORDER[: RANK_ORDER.index("species")])]
# What a model label, the check API and the review desk mean by a bare name: RangeWatch identifies
# animals. A lookup for another branch names its kingdom (importers: the row's own kingdom).
ANIMALS = "Animalia"


def normalise_name(name: str) -> str:
    """'Myocastor_coypus ' -> 'Myocastor coypus' (genus capitalised, the rest lower case)."""
    words = " ".join(name.replace("_", " ").split()).split(" ")
    if not words or not words[0]:
        return ""
    return " ".join([words[0].capitalize(), *[w.lower() for w in words[1:]]])


def taxon_by_name(name: str, *, kingdom: str | None = ANIMALS) -> Taxon | None:
    """By accepted name, then synonym ('Herpestes javanicus' -> Urva auropunctata), ignoring case
    and underscores; a name with authorship ('Sus scrofa Linnaeus, 1758') is tried without it.
    Only inside `kingdom` (a taxon whose kingdom is not recorded counts as in every one); None:
    any kingdom, animals first."""
    tried = set()
    for clean in (normalise_name(name), *name_candidates(name)):
        if not clean or clean in tried:
            continue
        tried.add(clean)
        matches = [t for t in Taxon.objects.filter(scientific_name__iexact=clean) if _in_kingdom(t.kingdom, kingdom)]
        if matches:
            return min(matches, key=lambda t: (t.kingdom != ANIMALS, _rank_order(t.rank)))
        for synonym in TaxonSynonym.objects.select_related("taxon").filter(name__iexact=clean):
            if _in_kingdom(synonym.taxon.kingdom, kingdom):
                return synonym.taxon
    return None


def _in_kingdom(taxon_kingdom: str, wanted: str | None) -> bool:
    return wanted is None or not taxon_kingdom or taxon_kingdom == wanted


def cross_kingdom_homonyms() -> dict[str, str]:
    """Names held by taxa in more than one kingdom -> 'order in Animalia, genus in Plantae'."""
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, rank, kingdom in Taxon.objects.values_list("scientific_name", "rank", "kingdom"):
        by_name.setdefault(name, []).append((rank, kingdom))
    return {
        name: ", ".join(f"{rank} in {kingdom or 'no recorded kingdom'}" for rank, kingdom in sorted(held, key=str))
        for name, held in sorted(by_name.items())
        if len({k for _, k in held}) > 1
    }


def taxon_by_key_or_id(value: str, *, kingdom: str | None = ANIMALS) -> Taxon | None:
    """By id (ASCII digits only: "²" is a digit to str.isdigit() but not to int()), by taxon key
    ('Proboscidea (Plantae)', as verdicts name a homonym outside the animals) or by name in `kingdom`."""
    value = (value or "").strip()
    if value.isascii() and value.isdigit():
        pk = int(value)
        return Taxon.objects.filter(pk=pk).first() if pk <= _MAX_ID else None  # beyond a bigint: no such id
    by_key = taxa_by_keys([value]).get(value)
    if by_key is not None and by_key.scientific_name != value:
        return by_key
    return taxon_by_name(value, kingdom=kingdom)


_MAX_ID = 2**63 - 1


def taxa_by_keys(keys) -> dict[str, Taxon]:
    """Taxa by the keys of the taxon tree (a scientific name; 'Name (Kingdom)' for a homonym outside
    the animals)."""
    ids = taxon_tree_ids()
    wanted = {ids[k]: k for k in keys if k in ids}
    return {wanted[t.pk]: t for t in Taxon.objects.filter(pk__in=list(wanted)).select_related("info")}


def taxon_key(taxon: Taxon) -> str:
    """The taxon's key in the taxon tree and the range index: its scientific name, qualified by its
    kingdom when an animal (or another kingdom's taxon) has the same name."""
    return taxon_keys_by_id().get(taxon.pk, taxon.scientific_name)


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
    resolve() answers (taxon id, how it matched) or (None, "unmatched"), inside the kingdom the row
    names: a plant row never lands on the animal of the same name."""

    def __init__(self, *, ignore_synonym_sources: tuple[str, ...] = ()):
        self._accepted: dict[str, dict[str, int]] = {}  # name -> kingdom -> id
        ranks: dict[tuple[str, str], str] = {}
        self._kingdom_of: dict[int, str] = {}
        for pk, name, rank, kingdom in Taxon.objects.values_list("pk", "scientific_name", "rank", "kingdom"):
            key = name.lower()
            self._kingdom_of[pk] = kingdom
            held = self._accepted.setdefault(key, {})
            if kingdom in held and _rank_order(ranks[(key, kingdom)]) <= _rank_order(rank):
                continue
            held[kingdom], ranks[(key, kingdom)] = pk, rank
        synonyms = TaxonSynonym.objects.exclude(source__in=ignore_synonym_sources)
        self._synonyms = {name.lower(): pk for name, pk in synonyms.values_list("name", "taxon_id")}

    def add(self, name: str, pk: int, kingdom: str = "") -> None:
        self._accepted.setdefault(name.lower(), {}).setdefault(kingdom, pk)
        self._kingdom_of.setdefault(pk, kingdom)

    def _accepted_in(self, key: str, kingdom: str | None) -> int | None:
        held = self._accepted.get(key)
        if not held:
            return None
        if kingdom:
            return held.get(kingdom, held.get(""))
        return held.get(ANIMALS, next(iter(held.values())))

    def _synonym_in(self, key: str, kingdom: str | None) -> int | None:
        pk = self._synonyms.get(key)
        return pk if pk is not None and _in_kingdom(self._kingdom_of.get(pk, ""), kingdom) else None

    def resolve(self, name: str, kingdom: str | None = None) -> tuple[int | None, str]:
        pk, how = self._resolve(name, kingdom)
        if pk is None and kingdom and " " in name.strip():
            # A binomial is almost never a cross-kingdom homonym, but registers do disagree on
            # kingdoms (Amathia verticillata, a bryozoan, filed under Plantae; "Virus" / "Viruses"):
            # a species name held in one other kingdom is that taxon. Genus and family names stay
            # strict: Proboscidea and Actaea are animals and plants both.
            pk, how = self._resolve(name, None)
            if pk is not None:
                how = f"{how} (filed in another kingdom)"
        return pk, how

    def _resolve(self, name: str, kingdom: str | None) -> tuple[int | None, str]:
        candidates = name_candidates(name)
        if not candidates:
            return None, "unmatched"
        for clean in candidates:
            key = clean.lower()
            if (pk := self._accepted_in(key, kingdom)) is not None:
                return pk, "accepted"
            if (pk := self._synonym_in(key, kingdom)) is not None:
                return pk, "synonym"
        words = candidates[-1].lower().split(" ")
        if len(words) > 2:
            # A subspecies (or variety) the taxonomy lacks answers for its species.
            binomial = " ".join(words[:2])
            if (pk := self._accepted_in(binomial, kingdom)) is not None:
                return pk, "species of infraspecific name"
            if (pk := self._synonym_in(binomial, kingdom)) is not None:
                return pk, "synonym of species"
        return None, "unmatched"


def _rank_order(rank: str) -> int:
    return _RANK_PREFERENCE.index(rank) if rank in _RANK_PREFERENCE else 99


def taxon_names(*, ignore_synonym_sources: tuple[str, ...] = ()) -> TaxonNames:
    """All names in memory; an importer that writes synonyms ignores its own, so that a re-run
    matches names exactly as the first run did."""
    return TaxonNames(ignore_synonym_sources=ignore_synonym_sources)


# The taxon tree: one copy per process, owned here, reloaded when the taxonomy version moves
# (species.services.taxonomy_changed, bumped by every write to taxa or synonyms). Held with the
# keys it gives taxa, built together: (tree, taxon id -> key, key -> taxon id).
_keyed_tree = VersionedCache(version=lambda: taxonomy_version(), build=lambda v: _taxon_tree_build(v))


def taxonomy_version() -> int:
    return int(TaxonomyVersion.objects.values_list("version", flat=True).first() or 0)


def taxon_tree() -> TaxonTree:
    """The whole taxonomy (parents, ranks, synonyms by name) for roll-up and group verdicts."""
    return _keyed_tree.get()[0]


def taxon_tree_clear() -> None:
    """Forget this process's copy (tests; the version check covers other processes)."""
    _keyed_tree.clear()


def taxon_keys_by_id() -> dict[int, str]:
    """Taxon id -> its key in the taxon tree (what the range index and the verdict call it)."""
    return _keyed_tree.get()[1]


def taxon_tree_ids() -> dict[str, int]:
    """Key -> taxon id (for a name at two ranks in one kingdom: the rank the tree keeps)."""
    return _keyed_tree.get()[2]


def _taxon_tree_build(version: int) -> tuple[TaxonTree, dict[int, str], dict[str, int]]:
    """Keys are scientific names. A name held in several kingdoms names the animal (RangeWatch's
    model labels, the check API and the review desk mean animals); another kingdom's taxon of that
    name is keyed 'Name (Kingdom)', so the unicorn-plant genus Proboscidea never becomes the
    parent of the elephants, nor the answer for an elephant photo."""
    rows = list(
        Taxon.objects.values_list("pk", "scientific_name", "parent_id", "rank", "kingdom").iterator(chunk_size=5000)
    )
    kingdoms_by_name: dict[str, set[str]] = {}
    for _, name, _, _, kingdom in rows:
        kingdoms_by_name.setdefault(name, set()).add(kingdom)
    keys: dict[int, str] = {}
    for pk, name, _, _, kingdom in rows:
        # A taxon of no recorded kingdom keeps the plain name too (made before kingdoms were kept).
        shared = len(kingdoms_by_name[name]) > 1
        keys[pk] = f"{name} ({kingdom})" if shared and kingdom not in (ANIMALS, "") else name
    parents, ranks, preferred = {}, {}, {}
    for pk, _, parent_id, rank, _ in rows:
        key = keys[pk]
        # A name held at two ranks in one kingdom (a genus and a subgenus): the species-most rank names it.
        if key not in ranks or _rank_order(rank) < _rank_order(ranks[key]):
            parents[key], ranks[key], preferred[key] = keys.get(parent_id) if parent_id else None, rank, pk
    synonyms = {name: keys[pk] for name, pk in TaxonSynonym.objects.values_list("name", "taxon_id") if pk in keys}
    domestic = frozenset(
        keys[pk]
        for pk in SpeciesInfo.objects.filter(iucn_category=IucnCategory.DOMESTICATED).values_list("taxon_id", flat=True)
        if pk in keys
    )
    tree = TaxonTree(parents=parents, ranks=ranks, synonyms=synonyms, domestic=domestic, version=version)
    return tree, keys, preferred
