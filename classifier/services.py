"""Writes for model versions: register an artifact, activate it, train and register a new one."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from backend.errors import ServiceError
from classifier.inference import serving_prepare
from classifier.models import ModelVersion
from ml.artifacts import file_sha256, read_manifest
from ml.training.config import TrainingConfig
from ml.training.data import DataPlan
from ml.training.lock import TrainingLocked, training_lock
from ml.training.train import TrainingResult, UnmatchedLabels, plan_data, train
from species.label_matching import match_labels_to_taxa


def model_version_register(*, path, activate: bool = False) -> ModelVersion:
    """Register an artifact folder (verified: manifest, checksum) as a model version."""
    manifest = read_manifest(path)
    sha = file_sha256(Path(path) / manifest.weights_file)
    if manifest.sha256 and manifest.sha256 != sha:
        raise ValueError(f"checksum mismatch in {path}")
    with transaction.atomic():
        version, _ = ModelVersion.objects.update_or_create(
            name=manifest.name,
            defaults={"arch": manifest.arch, "path": str(path), "sha256": sha, "num_labels": manifest.num_classes, "metrics": manifest.metrics},
        )
        if activate:
            model_version_activate(model_version=version)
    return version


@transaction.atomic
def model_version_activate(*, model_version: ModelVersion) -> None:
    """Exactly one active version; workers notice on their next task (no restart)."""
    ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=model_version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated=timezone.now())


def model_version_prepare_and_register(*, path, activate: bool) -> ModelVersion:
    """Build what the workers will load (the ONNX export) before registering, so that a worker's
    switch to the new version does not pay for it."""
    serving_prepare(path)
    return model_version_register(path=path, activate=activate)


class ModelTrainingRefused(ServiceError):
    code = "training_refused"


@dataclass
class TrainedModel:
    result: TrainingResult
    version: ModelVersion


@dataclass
class TrainingPlan:
    data: DataPlan
    config: TrainingConfig
    unmatched: list[str]

    def describe(self) -> str:
        lines = [self.data.describe(), "taxa: " + ", ".join(f"{k} -> {v or 'no animal'}" for k, v in self.config.label_taxa.items())]
        if self.unmatched:
            verdict = "kept" if self.config.allow_unmatched else "refused without --allow-unmatched"
            lines.append(f"unmatched ({verdict}): {', '.join(self.unmatched)}")
        c = self.config
        lines.append(f"would train {c.arch} ({c.freeze_epochs} frozen + {c.epochs} unfrozen epochs) into {c.output}")
        return "\n".join(lines)


def training_plan(*, config: TrainingConfig) -> TrainingPlan:
    """Read the data, match its classes to taxa (species.label_matching) and say what training
    would do; `config.label_taxa` is filled in."""
    try:
        data = plan_data(config)
    except (ValueError, OSError) as exc:
        raise ModelTrainingRefused(str(exc)) from exc
    config.label_taxa, unmatched = match_labels_to_taxa(data.classes)
    return TrainingPlan(data=data, config=config, unmatched=unmatched)


def model_train(*, config: TrainingConfig, activate: bool, log=print) -> TrainedModel:
    """Train, export for serving, register (and activate). A failed or interrupted run registers
    nothing and the active model stays; a concurrent run is refused (ml.training.lock)."""
    plan = training_plan(config=config)
    if plan.unmatched and not config.allow_unmatched:
        raise ModelTrainingRefused(
            f"{len(plan.unmatched)} classes match no taxon: {', '.join(plan.unmatched)} (add the taxa or pass --allow-unmatched)"
        )
    artifact = Path(config.output) / "model"
    taken = ModelVersion.objects.filter(path=str(artifact)).first()
    if taken is not None:
        raise ModelTrainingRefused(f"{artifact} is already registered as model version {taken.name}; choose another --output")
    try:
        with training_lock(Path(config.output).parent):
            result = train(config, log=log)
            version = model_version_prepare_and_register(path=result.artifact, activate=activate)
    except TrainingLocked as exc:
        raise ModelTrainingRefused(str(exc)) from exc
    except (UnmatchedLabels, ValueError, FileNotFoundError) as exc:
        raise ModelTrainingRefused(f"training failed, the active model is unchanged: {exc}") from exc
    return TrainedModel(result=result, version=version)
