"""Taxonomic roll-up: when no species is confident, the deepest confident ancestor answers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

RANK_ORDER = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "subspecies")
_SPECIES_RANKS = ("species", "subspecies")


@dataclass(frozen=True)
class TaxonTree:
    """The taxonomy as plain data: each taxon's parent and rank by scientific name, and the
    synonyms that stand for an accepted name. `species.selectors.taxon_tree()` builds and owns
    the per-process copy; tests build one from a few dicts."""

    parents: dict[str, str | None] = field(default_factory=dict)
    ranks: dict[str, str] = field(default_factory=dict)
    synonyms: dict[str, str] = field(default_factory=dict)  # synonym -> accepted name
    # Domestic forms (dog, cat, cattle, ...): kept by people everywhere, so a place says nothing
    # about whether one belongs there; the verdict answers them as their own case.
    domestic: frozenset[str] = frozenset()
    version: int = 0
    _children: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        children = defaultdict(list)
        for key, parent in self.parents.items():
            if parent:
                children[parent].append(key)
        object.__setattr__(self, "_children", dict(children))

    def accepted_name(self, name: str) -> str:
        return self.synonyms.get(name, name)

    def is_domestic(self, key: str) -> bool:
        return self.accepted_name(key) in self.domestic

    def lineage(self, key: str) -> list[str]:
        """`key` and its ancestors, nearest first."""
        out, node, seen = [], key, set()
        while node is not None and node not in seen:
            seen.add(node)
            out.append(node)
            node = self.parents.get(node)
        return out

    def is_group(self, key: str) -> bool:
        """A genus, family or higher taxon with members (a species with subspecies is not a group)."""
        return self.ranks.get(key) not in _SPECIES_RANKS and key in self._children

    def member_species(self, key: str) -> list[str]:
        """Every species under `key` in the taxonomy, whether or not anything else is known of it
        (descendants whose rank is unknown count when they are leaves)."""
        out, stack, seen = [], list(self._children.get(key, ())), set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            rank = self.ranks.get(node)
            if rank == "species" or (rank is None and node not in self._children):
                out.append(node)
            elif rank != "subspecies":
                stack.extend(self._children.get(node, ()))
        return sorted(out)


@dataclass(frozen=True)
class RolledUp:
    key: str
    score: float
    rank: str


def rollup(
    scores: dict[str, float],
    parents: dict[str, str | None],
    ranks: dict[str, str],
    threshold: float,
    highest_rank: str = "family",
) -> RolledUp | None:
    """The deepest taxon whose own score plus its descendants' reaches `threshold`.

    `parents` maps a taxon key to its parent's key; `ranks` gives each key's rank. Taxa above
    `highest_rank` (an order, a class) are too vague to name and are never returned.
    """
    totals: dict[str, float] = {}
    for key, score in scores.items():
        node, seen = key, set()
        while node is not None and node not in seen:
            seen.add(node)
            totals[node] = totals.get(node, 0.0) + score
            node = parents.get(node)
    limit = RANK_ORDER.index(highest_rank)
    candidates = [
        (RANK_ORDER.index(ranks[k]) if ranks.get(k) in RANK_ORDER else -1, total, k)
        for k, total in totals.items()
        if total >= threshold and ranks.get(k) in RANK_ORDER and RANK_ORDER.index(ranks[k]) >= limit
    ]
    if not candidates:
        return None
    depth, total, key = max(candidates)
    return RolledUp(key=key, score=total, rank=RANK_ORDER[depth])


NO_ANIMAL = "no_animal"


@dataclass(frozen=True)
class Decision:
    """What to name: a taxon (possibly rolled up), "no animal", or nothing confident."""

    outcome: str  # identified | no_animal | uncertain
    key: str | None
    score: float
    rank: str | None = None


def decide(
    scores: dict[str, float], parents: dict[str, str | None], ranks: dict[str, str], threshold: float
) -> Decision:
    no_animal = scores.get(NO_ANIMAL, 0.0)
    if no_animal >= threshold:
        return Decision("no_animal", None, no_animal)
    animal = {k: v for k, v in scores.items() if k != NO_ANIMAL}
    picked = rollup(animal, parents, ranks, threshold)
    if picked is None:
        best = max(animal.items(), key=lambda kv: kv[1], default=(None, 0.0))
        return Decision("uncertain", best[0], best[1], ranks.get(best[0]) if best[0] else None)
    return Decision("identified", picked.key, picked.score, picked.rank)


def reweight_by_prior(scores: dict[str, float], prior: dict[str, float]) -> dict[str, float]:
    """Bayes with a location prior: each animal score times its prior weight (1 when a key is
    missing from `prior`), renormalised to the animals' original total, so the no-animal score
    and the animal/no-animal balance stay as the classifier said. Weights must be positive: a
    floor down-weights an unexpected taxon, never removes it."""
    if any(w <= 0 for w in prior.values()):
        raise ValueError("prior weights must be positive (a floor, not a zero)")
    animal_total = sum(v for k, v in scores.items() if k != NO_ANIMAL)
    weighted = {k: v * prior.get(k, 1.0) for k, v in scores.items() if k != NO_ANIMAL}
    weighted_total = sum(weighted.values())
    scale = animal_total / weighted_total if weighted_total > 0 else 1.0
    out = {k: v * scale for k, v in weighted.items()}
    if NO_ANIMAL in scores:
        out[NO_ANIMAL] = scores[NO_ANIMAL]
    return out


def subtree_total(scores: dict[str, float], key: str, parents: dict[str, str | None]) -> float:
    """The score of `key` with all its descendants' (the visual evidence for a genus is its species')."""
    total = 0.0
    for label, score in scores.items():
        node, seen = label, set()
        while node is not None and node not in seen:
            if node == key:
                total += score
                break
            seen.add(node)
            node = parents.get(node)
    return total
