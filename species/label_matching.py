"""Match a training set's class names to taxa ("gazelleThomsons" -> Eudorcas thomsonii)."""
from __future__ import annotations

import re

from ml.training.config import NO_ANIMAL_NAMES
from species.models import RANK_ORDER, Taxon, rank_depth
from species.selectors import taxon_by_name


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _name_variants(label: str) -> list[str]:
    """'gazelleThomsons' -> ['gazelleThomsons', 'gazelle Thomsons', 'Thomsons gazelle']; 'European_Hare' -> 'European Hare'."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label.replace("_", " ")).strip()
    words = spaced.split()
    variants = [label, spaced]
    if len(words) == 2:
        variants.append(f"{words[1]} {words[0]}")
    if words and words[0].lower() == "domestic":
        variants.append(" ".join(words[1:]))  # "domestic cattle" -> "cattle"
    variants += [f"{spaced}s", f"{spaced}es"]  # "mongoose" -> "mongooses" (a family's common name)
    return list(dict.fromkeys(v for v in variants if v))


def match_labels_to_taxa(labels: list[str]) -> tuple[dict[str, str | None], list[str]]:
    """Class name -> taxon key (scientific name; None for "no animal" classes), and the unmatched names.

    Tries the scientific name (and synonyms) through species.selectors.taxon_by_name, then the
    common name ignoring case, spaces and apostrophes ("gazelleThomsons" -> "Thomson's gazelle");
    where several taxa share a common name, the most specific one wins.
    """
    by_common: dict[str, Taxon] = {}
    named = Taxon.objects.exclude(common_name="").only("scientific_name", "common_name", "rank")
    for taxon in sorted(named, key=lambda t: (t.rank not in RANK_ORDER, -rank_depth(t.rank))):
        by_common.setdefault(_squash(taxon.common_name), taxon)
    mapping, unmatched = {}, []
    for label in labels:
        if label.strip().lower() in NO_ANIMAL_NAMES:
            mapping[label] = None
            continue
        found = None
        for variant in _name_variants(label):
            found = taxon_by_name(variant) or by_common.get(_squash(variant))
            if found:
                break
        if found is None:
            unmatched.append(label)
        else:
            mapping[label] = found.scientific_name
    return mapping, unmatched
