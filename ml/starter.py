"""The starter model: EfficientNet-Lite0 with real ImageNet weights, its classes mapped to taxa."""

from __future__ import annotations

import os
from pathlib import Path

from ml.artifacts import Manifest, save_artifact
from ml.zoo import build_model, spec

STARTER_ARCH = "efficientnet_lite0"
STARTER_NAME = "starter-imagenet-efficientnet_lite0"


def build_starter_artifact(directory: str | os.PathLike, labels: list[str], label_taxa: list[str | None]) -> Manifest:
    """Write the starter artifact. `labels` are the 1000 ImageNet classes in output order and
    `label_taxa` the taxon key each maps to (None folds the class into "no animal")."""
    if len(labels) != 1000 or len(label_taxa) != 1000:
        raise ValueError(f"the ImageNet head has 1000 classes; got {len(labels)} labels")
    model = build_model(STARTER_ARCH, 1000, pretrained="auto")
    manifest = Manifest(
        name=STARTER_NAME,
        arch=STARTER_ARCH,
        labels=list(labels),
        label_taxa=list(label_taxa),
        preprocessing=spec(STARTER_ARCH).preprocessing,
        metrics={"note": "ImageNet-1k weights, not fine-tuned; animal classes mapped to taxa"},
    )
    return save_artifact(Path(directory), manifest, model.state_dict())


def read_label_map(csv_path: str | os.PathLike) -> tuple[list[str], list[str | None]]:
    """(labels, label_taxa) from species/starter_pack/imagenet_classes.csv, in class-index order:
    the `imagenet_label` column, and the `scientific_name` column (empty means "no animal")."""
    import csv

    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = sorted(csv.DictReader(fh), key=lambda r: int(r["class_index"]))
    return [r["imagenet_label"] for r in rows], [(r.get("scientific_name") or "").strip() or None for r in rows]
