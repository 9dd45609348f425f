"""Match a training set's class names to taxa ("gazelleThomsons" -> Eudorcas thomsonii), or say why not.

Camera-trap class names are vernacular and short ("civet", "porcupine", "wildcat"): a matcher that
guesses would train a model on the wrong taxon, so an ambiguous name is reported, never chosen.
The labels whose meaning depends on the data set are decided once, with a source, in
`starter_pack/camera_trap_labels.csv` (like LILA's taxonomy mapping); everything else matches by
scientific name or synonym, by common name, or by SpeciesNet's common name.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from ml.training.config import NO_ANIMAL_NAMES
from species.models import Taxon
from species.selectors import taxon_by_name, taxon_lineage

CURATED_LABELS = Path(__file__).resolve().parent / "starter_pack" / "camera_trap_labels.csv"
SUGGESTIONS = 5


@dataclass(frozen=True)
class UnmatchedLabel:
    label: str
    reason: str

    def __str__(self) -> str:
        return f"{self.label}: {self.reason}"


@dataclass
class LabelMatching:
    taxa: dict[str, str | None] = field(default_factory=dict)  # class name -> taxon key (None: no animal)
    how: dict[str, str] = field(default_factory=dict)  # class name -> which rule matched it
    unmatched: list[UnmatchedLabel] = field(default_factory=list)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())


def _spaced(label: str) -> str:
    """'gazelleThomsons' -> 'gazelle Thomsons'; 'European_Hare' -> 'European Hare'."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", label.replace("_", " ")).strip()


def _name_variants(label: str) -> list[str]:
    """'gazelleThomsons' -> ['gazelleThomsons', 'gazelle Thomsons', 'Thomsons gazelle', ...plurals]."""
    spaced = _spaced(label)
    words = spaced.split()
    variants = [label, spaced]
    if len(words) == 2:
        variants.append(f"{words[1]} {words[0]}")
    if words and words[0].lower() == "domestic":
        variants.append(" ".join(words[1:]))  # "domestic cattle" -> "cattle"
    variants += [f"{spaced}s", f"{spaced}es"]  # "mongoose" -> "mongooses" (a family's common name)
    return list(dict.fromkeys(v for v in variants if v))


def curated_labels(path: Path = CURATED_LABELS) -> dict[str, str]:
    """Squashed label -> scientific name, from a CSV with `label` and `scientific_name` columns."""
    with open(path, newline="", encoding="utf-8") as fh:
        return {_squash(row["label"]): row["scientific_name"].strip() for row in csv.DictReader(fh) if row.get("label")}


def _speciesnet_common_name(label: str) -> str:
    """The last field of a SpeciesNet taxonomy row ('uuid;mammalia;...;loxodonta;africana;african elephant')."""
    return label.rsplit(";", 1)[-1] if ";" in label else ""


def _common_name_index() -> dict[str, set[int]]:
    """Squashed common name (ours and SpeciesNet's) -> ids of the taxa that go by it."""
    index: dict[str, set[int]] = {}
    for pk, common, speciesnet in Taxon.objects.values_list("pk", "common_name", "speciesnet_label"):
        for name in {common, _speciesnet_common_name(speciesnet)}:
            if _squash(name):
                index.setdefault(_squash(name), set()).add(pk)
    return index


def _most_specific_on_one_lineage(candidates: list[Taxon]) -> Taxon | None:
    """The deepest candidate when all the others are its ancestors ("caracal": the genus Caracal and
    the species Caracal caracal -> the species); None when they sit on different branches."""
    for taxon in candidates:
        if {t.pk for t in candidates} <= {t.pk for t in taxon_lineage(taxon)}:
            return taxon
    return None


def _describe(taxa) -> str:
    return ", ".join(f"{t.scientific_name} ({t.rank}{', ' + t.common_name if t.common_name else ''})" for t in taxa)


def _suggestions(label: str) -> list[Taxon]:
    word = (_spaced(label).split() or [label])[-1]
    return list(Taxon.objects.filter(common_name__icontains=word).order_by("scientific_name")[:SUGGESTIONS])


def _match_by_names(label: str, by_common: dict[str, set[int]]) -> tuple[Taxon | None, list[Taxon], str]:
    """(the taxon, every candidate, the variant that matched) for the first variant of the label
    that names any taxon; (None, [], "") when none does."""
    for variant in _name_variants(label):
        by_name = taxon_by_name(variant)
        ids = set(by_common.get(_squash(variant), ())) | ({by_name.pk} if by_name else set())
        if ids:
            candidates = list(Taxon.objects.filter(pk__in=ids).order_by("scientific_name"))
            return _most_specific_on_one_lineage(candidates), candidates, variant
    return None, [], ""


def match_labels_to_taxa(labels: list[str], *, curated: Path | None = CURATED_LABELS) -> LabelMatching:
    """Class name -> taxon key, with the rule that matched it; unmatched names with the reason.

    In order: "no animal" names (blank, vehicle, ...); the curated file (decisive); then the first
    variant of the name (as given, spaced, words swapped, plural) that is a scientific name or
    synonym or a common name. Several taxa on one lineage -> the most specific; on different
    branches -> ambiguous, reported with the candidates.
    """
    decided = curated_labels(curated) if curated else {}
    by_common = _common_name_index()
    result = LabelMatching()
    for label in labels:
        if label.strip().lower() in NO_ANIMAL_NAMES:
            result.taxa[label], result.how[label] = None, "no animal"
            continue
        if _squash(label) in decided:
            name = decided[_squash(label)]
            taxon = taxon_by_name(name)
            if taxon is None:
                result.unmatched.append(
                    UnmatchedLabel(
                        label,
                        f"{Path(curated).name} names {name}, which is not a taxon here yet "
                        "(import the MDD or the SpeciesNet taxonomy first)",
                    )
                )
            else:
                result.taxa[label], result.how[label] = taxon.scientific_name, f"curated in {Path(curated).name}"
            continue
        found, candidates, variant = _match_by_names(label, by_common)
        if found is not None:
            result.taxa[label], result.how[label] = found.scientific_name, f"name {variant!r}"
        elif candidates:
            result.unmatched.append(
                UnmatchedLabel(label, f"ambiguous, {len(candidates)} taxa go by {variant!r}: {_describe(candidates)}")
            )
        else:
            similar = _suggestions(label)
            hint = f"; common names like it: {_describe(similar)}" if similar else ""
            result.unmatched.append(UnmatchedLabel(label, f"no taxon has this scientific or common name{hint}"))
    return result
