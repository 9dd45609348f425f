"""Taxonomic roll-up: when no species is confident, the deepest confident ancestor answers."""
from __future__ import annotations

from dataclasses import dataclass

RANK_ORDER = ("kingdom", "phylum", "class", "order", "family", "genus", "species", "subspecies")


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


def decide(scores: dict[str, float], parents: dict[str, str | None], ranks: dict[str, str], threshold: float) -> Decision:
    no_animal = scores.get(NO_ANIMAL, 0.0)
    if no_animal >= threshold:
        return Decision("no_animal", None, no_animal)
    animal = {k: v for k, v in scores.items() if k != NO_ANIMAL}
    picked = rollup(animal, parents, ranks, threshold)
    if picked is None:
        best = max(animal.items(), key=lambda kv: kv[1], default=(None, 0.0))
        return Decision("uncertain", best[0], best[1], ranks.get(best[0]) if best[0] else None)
    return Decision("identified", picked.key, picked.score, picked.rank)
