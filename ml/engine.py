"""The inference engine: a loaded classifier that turns photos into taxon probabilities.

Loaded once per worker process. Unreadable photos come back as failure entries, never as
exceptions through a batch (the SpeciesNet contract).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ml.artifacts import Manifest, load_artifact
from ml.images import DEFAULT_MAX_PIXELS, ImageError, load_rgb
from ml.taxonomy import NO_ANIMAL

log = logging.getLogger(__name__)



@dataclass
class Classification:
    """Probabilities per taxon key (labels mapped to the same taxon are summed)."""

    taxon_scores: dict[str, float]
    top_k: list[tuple[str, float]]
    error_code: str | None = None
    error_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error_code is None


@dataclass
class Classifier:
    manifest: Manifest
    model: object
    backend: str = "torch"
    device: str = "cpu"
    artifact_dir: Path | None = None
    load_seconds: float = 0.0
    top_k: int = 5
    max_pixels: int = DEFAULT_MAX_PIXELS
    _groups: list[tuple[str, np.ndarray]] = field(default_factory=list, repr=False)

    @classmethod
    def load(cls, artifact_dir: str | os.PathLike, *, backend: str = "torch", device: str = "cpu", threads: int | None = 1, top_k: int = 5, max_pixels: int = DEFAULT_MAX_PIXELS) -> "Classifier":
        import torch

        started = time.perf_counter()
        if threads and device == "cpu":
            # One intra-op thread per worker child: N children x default threads oversubscribe the cores.
            torch.set_num_threads(threads)
        manifest, model = load_artifact(artifact_dir)
        model = model.to(device)
        if device.startswith("cuda"):
            model = model.to(memory_format=torch.channels_last)
        classifier = cls(manifest=manifest, model=model, backend=backend, device=device, artifact_dir=Path(artifact_dir), top_k=top_k, max_pixels=max_pixels)
        classifier._groups = _label_groups(manifest.label_taxa)
        classifier.load_seconds = time.perf_counter() - started
        log.info("classifier loaded: %s (%s, %d labels) backend=%s device=%s in %.2fs", manifest.name, manifest.arch, manifest.num_classes, backend, device, classifier.load_seconds)
        return classifier

    # -- arrays ------------------------------------------------------------------------------
    def logits(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device)
            if self.device.startswith("cuda"):
                x = x.to(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    out = self.model(x)
            else:
                out = self.model(x)
            return out.float().cpu().numpy()

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Temperature-calibrated softmax over the model's labels."""
        z = self.logits(batch) / self.manifest.temperature
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    # -- photos ------------------------------------------------------------------------------
    def preprocess(self, source) -> np.ndarray:
        prep = self.manifest.preprocessing
        return prep.to_array(load_rgb(source, target_size=prep.resize_size, max_pixels=self.max_pixels))

    def classify(self, sources: list) -> list[Classification]:
        """Classify photos (bytes or paths) in one forward pass; failures are per item."""
        arrays, slots, results = [], [], [None] * len(sources)
        for i, source in enumerate(sources):
            try:
                arrays.append(self.preprocess(source))
                slots.append(i)
            except ImageError as exc:
                results[i] = Classification({}, [], exc.code, exc.detail)
        if arrays:
            probs = self.probabilities(np.stack(arrays))
            for row, i in zip(probs, slots):
                results[i] = self.summarise(row)
        return results

    def summarise(self, probs: np.ndarray) -> Classification:
        scores = {key: float(probs[idx].sum()) for key, idx in self._groups}
        top = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[: self.top_k]
        return Classification(scores, top)


def _label_groups(label_taxa: list[str | None]) -> list[tuple[str, np.ndarray]]:
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(label_taxa):
        groups.setdefault(key or NO_ANIMAL, []).append(i)
    return [(key, np.asarray(idx)) for key, idx in groups.items()]
