"""Model artifacts: a folder with weights (safetensors) and manifest.json, verified on load."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ml.transforms import Preprocessing

MANIFEST = "manifest.json"
WEIGHTS = "model.safetensors"
FORMAT_VERSION = 1


class ArtifactError(RuntimeError):
    """The artifact is missing, damaged or inconsistent: the model must not serve."""


@dataclass
class Manifest:
    name: str
    arch: str
    labels: list[str]
    # taxon key (scientific name) for each label; None means "no animal"
    label_taxa: list[str | None]
    preprocessing: Preprocessing
    temperature: float = 1.0
    metrics: dict = field(default_factory=dict)
    sha256: str = ""
    created: str = ""
    weights_file: str = WEIGHTS
    format_version: int = FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def to_dict(self) -> dict:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "arch": self.arch,
            "num_classes": self.num_classes,
            "labels": self.labels,
            "label_taxa": self.label_taxa,
            "preprocessing": self.preprocessing.to_dict(),
            "temperature": self.temperature,
            "metrics": self.metrics,
            "weights_file": self.weights_file,
            "sha256": self.sha256,
            "created": self.created,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Manifest":
        try:
            manifest = cls(
                name=data["name"],
                arch=data["arch"],
                labels=list(data["labels"]),
                label_taxa=list(data.get("label_taxa") or [None] * len(data["labels"])),
                preprocessing=Preprocessing.from_dict(data["preprocessing"]),
                temperature=float(data.get("temperature", 1.0)),
                metrics=data.get("metrics", {}),
                sha256=data.get("sha256", ""),
                created=data.get("created", ""),
                weights_file=data.get("weights_file", WEIGHTS),
                format_version=int(data.get("format_version", FORMAT_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"manifest.json is incomplete: {exc!r}") from exc
        if len(manifest.label_taxa) != len(manifest.labels):
            raise ArtifactError(f"manifest has {len(manifest.labels)} labels but {len(manifest.label_taxa)} label_taxa")
        if manifest.temperature <= 0:
            raise ArtifactError("manifest temperature must be positive")
        return manifest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_artifact(directory: str | os.PathLike, manifest: Manifest, state_dict: dict) -> Manifest:
    """Write weights and manifest atomically (into a temp folder, then rename)."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    save_file(tensors, str(staging / manifest.weights_file))
    manifest.sha256 = file_sha256(staging / manifest.weights_file)
    manifest.created = manifest.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
    (staging / MANIFEST).write_text(json.dumps(manifest.to_dict(), indent=1))
    if directory.exists():
        old = directory.with_name(f".{directory.name}-old-{os.getpid()}")
        directory.rename(old)
        staging.rename(directory)
        import shutil

        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(directory)
    return manifest


def read_manifest(directory: str | os.PathLike) -> Manifest:
    from ml import speciesnet

    if speciesnet.is_speciesnet_folder(directory):  # SpeciesNet's published layout (info.json)
        return speciesnet.read_manifest(directory)
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise ArtifactError(f"no {MANIFEST} in {directory}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON: {exc}") from exc
    return Manifest.from_dict(data)


def load_artifact(directory: str | os.PathLike):
    """(manifest, torch model in eval mode) after checking checksum and head size."""
    from ml import speciesnet

    if speciesnet.is_speciesnet_folder(directory):
        return speciesnet.load(directory)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ml.zoo import build_model

    directory = Path(directory)
    manifest = read_manifest(directory)
    weights = directory / manifest.weights_file
    if not weights.is_file():
        raise ArtifactError(f"weights file {weights} is missing")
    actual = file_sha256(weights)
    if manifest.sha256 and actual != manifest.sha256:
        raise ArtifactError(
            f"checksum mismatch for {weights}: manifest says {manifest.sha256[:12]}…, file is {actual[:12]}…"
        )
    try:
        state_dict = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ArtifactError(f"cannot read {weights}: {exc}") from exc
    model = build_model(manifest.arch, manifest.num_classes, pretrained="none")
    head = _head_size(model.state_dict(), state_dict)
    if head is not None and head != manifest.num_classes:
        raise ArtifactError(
            f"the manifest lists {manifest.num_classes} labels but the weights have a {head}-class head"
        )
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise ArtifactError(f"weights do not fit a {manifest.arch}: {str(exc)[:300]}") from exc
    return manifest, model.eval()


def _head_size(model_state: dict, weights: dict) -> int | None:
    """Rows of the weights' classifier head: the model's last 1-D bias, looked up in the weights."""
    biases = [k for k, v in model_state.items() if k.endswith(".bias") and v.ndim == 1]
    if not biases or biases[-1] not in weights:
        return None
    return int(weights[biases[-1]].shape[0])
