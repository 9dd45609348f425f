"""Score a model artifact on a validation split in taxon space, so that two models with different
label sets (the ImageNet starter, a fine-tuned camera-trap model) are compared on the same images.

Plain Python over ml/ (no Django): the services store the scores and decide about activation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml.taxonomy import NO_ANIMAL
from ml.training.metrics import per_class_scores

SPLIT_FILE = "validation_split.json"
BATCH = 16


@dataclass(frozen=True)
class ValidationSplit:
    """The validation images of a training run and the taxon each shows (None: no animal), kept
    beside the model artifact so that any later activation compares on the same images."""

    images: tuple[tuple[str, str | None], ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.images, key=lambda i: (i[0], i[1] or ""))).encode()).hexdigest()

    def save(self, artifact_dir: str | Path) -> Path:
        path = Path(artifact_dir) / SPLIT_FILE
        path.write_text(json.dumps({"images": [{"path": p, "taxon": t} for p, t in self.images]}, indent=1))
        return path

    @classmethod
    def load(cls, artifact_dir: str | Path) -> "ValidationSplit | None":
        path = Path(artifact_dir) / SPLIT_FILE
        if not path.is_file():
            return None
        return cls(tuple((row["path"], row["taxon"]) for row in json.loads(path.read_text())["images"]))


@dataclass(frozen=True)
class SplitScore:
    macro_f1: float  # mean F1 over the taxa shown in the validation images
    accuracy: float
    images: int  # images scored (unreadable ones are left out)


def taxon_macro_f1(truth: list[str], predicted: list[str]) -> float:
    """Mean F1 over the taxa in `truth`. A prediction of any other taxon counts as a miss but adds
    no class of its own, so a model with 400 taxa and one with 10 are averaged over the same set."""
    keys = sorted(set(truth) | set(predicted))
    index = {k: i for i, k in enumerate(keys)}
    rows = per_class_scores([index[t] for t in truth], [index[p] for p in predicted], keys)
    return float(np.mean([rows[index[t]]["f1"] for t in set(truth)])) if truth else 0.0


def score_artifact(artifact_dir: str | Path, split: ValidationSplit, *, backend: str = "torch") -> SplitScore:
    """Top-1 taxon of each validation image against its label. Raises ml.artifacts.ArtifactError
    for a broken artifact and FileNotFoundError when none of the images can be read."""
    from ml.engine import Classifier  # torch / onnxruntime: loaded only when scoring

    classifier = Classifier.load(artifact_dir, backend=backend, threads=None, top_k=1)
    truth, predicted = [], []
    for start in range(0, len(split.images), BATCH):
        chunk = split.images[start : start + BATCH]
        for (_, taxon), result in zip(chunk, classifier.classify([path for path, _ in chunk])):
            if result.ok:
                truth.append(taxon or NO_ANIMAL)
                predicted.append(result.top_k[0][0])
    if not truth:
        raise FileNotFoundError(
            f"none of the {len(split.images)} validation images could be read "
            f"(first: {split.images[0][0] if split.images else '-'})"
        )
    accuracy = float(np.mean([t == p for t, p in zip(truth, predicted)]))
    return SplitScore(macro_f1=taxon_macro_f1(truth, predicted), accuracy=accuracy, images=len(truth))
