"""Writes for model versions: register an artifact, score it, activate it (gated and logged), roll
back, and train and register a new one."""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from classifier.evaluation import SplitScore, ValidationSplit, score_artifact
from classifier.inference import serving_prepare
from classifier.models import ModelActivation, ModelEvaluation, ModelVersion
from core.errors import Conflict, ServiceError
from ml.artifacts import ArtifactError, file_sha256, read_manifest
from ml.training.config import TrainingConfig
from ml.training.data import DataPlan
from ml.training.lock import TrainingLocked, training_lock
from ml.training.train import TrainingResult, UnmatchedLabels, plan_data, train
from species.label_matching import UnmatchedLabel, match_labels_to_taxa
from species.models import Taxon


class ActivationRefused(Conflict):
    code = "activation_refused"


class ModelTrainingRefused(ServiceError):
    code = "training_refused"


def command_line_operator() -> str:
    """Who runs a management command: the OS account and host ("root@box (manage.py)")."""
    return f"{getpass.getuser()}@{socket.gethostname()} (manage.py)"


# -- registry ------------------------------------------------------------------------------------
def model_version_register(
    *, path, activate: bool = False, by: str = "", reason: str = "", force: bool = False
) -> ModelVersion:
    """Register an artifact folder (verified: manifest, checksum) as a model version; with
    `activate`, make it the serving one through model_version_activate (the same gate)."""
    manifest = read_manifest(path)
    sha = file_sha256(Path(path) / manifest.weights_file)
    if manifest.sha256 and manifest.sha256 != sha:
        raise ValueError(f"checksum mismatch in {path}")
    version, _ = ModelVersion.objects.update_or_create(
        name=manifest.name,
        defaults={
            "arch": manifest.arch,
            "path": str(path),
            "sha256": sha,
            "num_labels": manifest.num_classes,
            "metrics": manifest.metrics,
        },
    )
    if activate and not version.is_active:
        model_version_activate(
            model_version=version,
            by=by or command_line_operator(),
            reason=reason or "registered and activated",
            force=force,
        )
    return version


class ModelRegistrationRefused(ServiceError):
    code = "registration_refused"


@dataclass(frozen=True)
class SpeciesNetRegistration:
    version: ModelVersion
    warning: str  # loading a pickled module runs its code: the curator vouches for the folder
    unmatched_taxa: list[str]  # label taxa the taxonomy does not know (import the SpeciesNet taxonomy)


def model_version_add_speciesnet(*, path, name: str | None = None) -> SpeciesNetRegistration:
    """Register a SpeciesNet model folder (its published layout: info.json, a pickled torch
    classifier, the labels) as a model version, not active. Refused, with the reason, when a file is
    missing, the classifier does not load or does not take SpeciesNet's input, its head does not
    match the labels, or it is an always_crop model this installation cannot run. The checksums of
    its files are written beside info.json and every later load verifies them."""
    from ml import speciesnet

    path = Path(path).resolve()
    try:
        folder = speciesnet.read_folder(path)
        speciesnet.require_runnable(folder)
        checksums = speciesnet.record_checksums(folder)
        speciesnet.load_module(folder)  # the module runs once here: head size, input layout
    except OSError as exc:
        raise ModelRegistrationRefused(f"cannot register {path}: {exc}") from exc
    except ArtifactError as exc:
        raise ModelRegistrationRefused(str(exc)) from exc
    manifest = speciesnet.manifest(folder, name)
    taken = ModelVersion.objects.filter(name=manifest.name).exclude(path=str(path)).first()
    if taken is not None:
        raise ModelRegistrationRefused(
            f"a model version named {manifest.name} already serves from {taken.path}; pass --name"
        )
    try:
        serving_prepare(path)  # the ONNX export, when the workers run onnxruntime
    except ArtifactError as exc:
        raise ModelRegistrationRefused(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - torch.onnx's errors have no common type
        raise ModelRegistrationRefused(
            f"the classifier loads but its ONNX export for the onnxruntime workers failed ({type(exc).__name__}: "
            f"{str(exc)[:300]}); serve it with RANGEWATCH_INFERENCE_BACKEND=torch"
        ) from exc
    known = set(
        Taxon.objects.filter(scientific_name__in=set(filter(None, manifest.label_taxa))).values_list(
            "scientific_name", flat=True
        )
    )
    unmatched = sorted({key for key in manifest.label_taxa if key and key not in known})
    version, _ = ModelVersion.objects.update_or_create(
        name=manifest.name,
        defaults={
            "arch": speciesnet.ARCH,
            "path": str(path),
            "sha256": checksums["classifier"],
            "num_labels": manifest.num_classes,
            "metrics": {**manifest.metrics, "checksums": checksums, "taxa_not_in_taxonomy": len(unmatched)},
        },
    )
    return SpeciesNetRegistration(version=version, warning=speciesnet.UNSAFE_NOTE, unmatched_taxa=unmatched)


def model_version_prepare_and_register(*, path, activate: bool, by: str = "", reason: str = "") -> ModelVersion:
    """Build what the workers will load (the ONNX export) before registering, so that a worker's
    switch to the new version does not pay for it."""
    serving_prepare(path)
    return model_version_register(path=path, activate=activate, by=by, reason=reason)


# -- evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Comparison:
    """Two versions scored on the same validation split."""

    split: ValidationSplit
    candidate: ModelEvaluation
    active: ModelEvaluation

    @property
    def candidate_is_worse(self) -> bool:
        return self.candidate.macro_f1 < self.active.macro_f1

    def describe(self) -> str:
        return (
            f"macro-F1 {self.candidate.macro_f1:.3f} ({self.candidate.version.name}) vs {self.active.macro_f1:.3f} "
            f"({self.active.version.name}, active) on the same {self.candidate.images} validation images, "
            f"split {self.split.sha256[:8]}"
        )


class NotComparable(ServiceError):
    code = "not_comparable"


def model_version_evaluate(
    *, model_version: ModelVersion, split: ValidationSplit, compute: bool = True
) -> ModelEvaluation:
    """The version's stored score on the split, computed (and stored) when missing and `compute`;
    the admin passes compute=False so that no web process loads a model."""
    stored = ModelEvaluation.objects.filter(version=model_version, split_sha256=split.sha256).first()
    if stored is not None:
        return stored
    if not compute:
        raise NotComparable(
            f"{model_version.name} has not been scored on split {split.sha256[:8]} yet: "
            f"run `manage.py model_version activate` (it scores both models first)"
        )
    try:
        score: SplitScore = score_artifact(model_version.path, split)
    except (ArtifactError, FileNotFoundError) as exc:
        raise NotComparable(f"cannot score {model_version.name}: {exc}") from exc
    evaluation, _ = ModelEvaluation.objects.update_or_create(
        version=model_version,
        split_sha256=split.sha256,
        defaults={"images": score.images, "macro_f1": score.macro_f1, "accuracy": score.accuracy},
    )
    return evaluation


def model_versions_compare(*, candidate: ModelVersion, active: ModelVersion, compute: bool = True) -> Comparison:
    """Score both on the candidate's validation split (or, for a candidate trained elsewhere such
    as the starter model, on the active one's)."""
    split = ValidationSplit.load(candidate.path) or ValidationSplit.load(active.path)
    if split is None:
        raise NotComparable(
            f"neither {candidate.name} nor {active.name} has a validation split ({candidate.path}, {active.path})"
        )
    return Comparison(
        split=split,
        candidate=model_version_evaluate(model_version=candidate, split=split, compute=compute),
        active=model_version_evaluate(model_version=active, split=split, compute=compute),
    )


# -- activation ----------------------------------------------------------------------------------
class ArtifactInvalid(Conflict):
    code = "artifact_invalid"


def model_version_verify(model_version: ModelVersion) -> None:
    """The artifact on disk is the one registered: its manifest reads, its weights file exists and
    hashes to the SHA-256 recorded at registration (and to the manifest's). Any artifact kind: only
    the manifest's weights file is read, never loaded. Raises ArtifactInvalid with the reason."""
    try:
        manifest = read_manifest(model_version.path)
        weights = Path(model_version.path) / manifest.weights_file
        if not weights.is_file():
            raise ArtifactError(f"weights file {weights} is missing")
        actual = file_sha256(weights)
    except (ArtifactError, OSError, ValueError) as exc:
        raise ArtifactInvalid(f"{model_version.name} cannot be activated: {exc}") from exc
    expected = {model_version.sha256, manifest.sha256} - {""}
    if not expected or expected != {actual}:
        raise ArtifactInvalid(
            f"{model_version.name} cannot be activated: checksum mismatch for {weights} "
            f"(registered {model_version.sha256[:12] or 'none'}, file {actual[:12]}); register the artifact again"
        )


def model_version_activate(
    *, model_version: ModelVersion, by: str, reason: str, force: bool = False, compute: bool = True
) -> ModelActivation:
    """Make a version the serving one. Refused when its validation macro-F1 is below the active
    version's on the same split, or cannot be compared, unless `force`; logged either way."""
    if not reason.strip():
        raise ServiceError("say why this version is activated (reason)", fields={"reason": ["required"]})
    # Before anything else, and never skipped by `force`: truncated weights were once force-activated
    # from the admin, and every upload then sat in `processing` for ~4 min (issue 23).
    model_version_verify(model_version)
    active = ModelVersion.objects.filter(is_active=True).first()
    comparison, forced = "", False
    if active is not None and active.pk == model_version.pk:
        raise Conflict(f"{model_version.name} is already the active model")
    if active is not None:
        try:
            compared = model_versions_compare(candidate=model_version, active=active, compute=compute)
        except NotComparable as exc:
            if not force:
                raise ActivationRefused(f"{exc.detail}; activate anyway with force") from exc
            comparison, forced = f"not compared: {exc.detail}"[:300], True
        else:
            comparison, forced = compared.describe()[:300], compared.candidate_is_worse
            if compared.candidate_is_worse and not force:
                raise ActivationRefused(
                    f"{model_version.name} scores below the active model: {comparison}; activate anyway with force"
                )
    return _switch(
        model_version=model_version, expected_active=active, by=by, reason=reason, comparison=comparison, forced=forced
    )


def model_version_rollback(*, by: str, reason: str) -> ModelActivation:
    """Back to the version that was active before the last activation (no gate: it served before)."""
    last = ModelActivation.objects.select_related("version", "previous").first()
    if last is None or last.previous is None:
        raise Conflict("nothing to roll back to: no activation with a previous version is logged")
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None or active.pk != last.version_id:
        raise Conflict(
            f"the last logged activation ({last.version.name}) is not the active model; "
            "activate a version by name instead"
        )
    model_version_verify(last.previous)  # the version it goes back to may have been damaged since
    return _switch(
        model_version=last.previous,
        expected_active=active,
        by=by,
        reason=reason or "rollback",
        comparison=f"rollback of activation #{last.pk} ({last.version.name})",
        forced=False,
    )


@transaction.atomic
def _switch(*, model_version, expected_active, by, reason, comparison, forced) -> ModelActivation:
    """Exactly one active version; workers notice on their next task (no restart). Callers have
    verified the artifact (model_version_verify), outside this transaction: hashing takes a while."""
    current = ModelVersion.objects.select_for_update().filter(is_active=True).first()
    if (current and current.pk) != (expected_active and expected_active.pk):
        raise Conflict("another activation happened meanwhile; look at `manage.py model_version list` and retry")
    ModelVersion.objects.filter(is_active=True).exclude(pk=model_version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=model_version.pk).update(is_active=True, activated=timezone.now())
    return ModelActivation.objects.create(
        version=model_version, previous=current, by=by[:150], reason=reason, comparison=comparison, forced=forced
    )


# -- training ------------------------------------------------------------------------------------
@dataclass
class TrainingPlan:
    data: DataPlan
    config: TrainingConfig
    unmatched: list[UnmatchedLabel]
    how: dict[str, str]

    def describe(self) -> str:
        lines = [self.data.describe(), "taxa:"]
        lines += [f"  {k} -> {v or 'no animal'} ({self.how[k]})" for k, v in self.config.label_taxa.items()]
        if self.unmatched:
            verdict = (
                "kept under their own names" if self.config.allow_unmatched else "refused without --allow-unmatched"
            )
            lines.append(f"unmatched ({verdict}):")
            lines += [f"  {u}" for u in self.unmatched]
        c = self.config
        lines.append(f"would train {c.arch} ({c.freeze_epochs} frozen + {c.epochs} unfrozen epochs) into {c.output}")
        return "\n".join(lines)


@dataclass
class TrainedModel:
    result: TrainingResult
    version: ModelVersion
    comparison: Comparison | None  # None: no active model, or it could not be scored
    activation: ModelActivation | None
    refused: str = ""  # why --activate did not activate


def training_plan(*, config: TrainingConfig) -> TrainingPlan:
    """Read the data, match its classes to taxa (species.label_matching) and say what training
    would do; `config.label_taxa` is filled in."""
    try:
        data = plan_data(config)
    except (ValueError, OSError) as exc:
        raise ModelTrainingRefused(str(exc)) from exc
    matching = match_labels_to_taxa(data.classes)
    config.label_taxa = matching.taxa
    return TrainingPlan(data=data, config=config, unmatched=matching.unmatched, how=matching.how)


def model_train(
    *, config: TrainingConfig, activate: bool, force: bool = False, by: str = "", reason: str = "", log=print
) -> TrainedModel:
    """Train, export for serving, register, score it and the active model on the run's validation
    split, and activate it if asked and not worse (or forced). A failed or interrupted run
    registers nothing and the active model stays; a concurrent run is refused (ml.training.lock)."""
    plan = training_plan(config=config)
    if plan.unmatched and not config.allow_unmatched:
        raise ModelTrainingRefused(
            f"{len(plan.unmatched)} classes match no taxon: {', '.join(u.label for u in plan.unmatched)}\n"
            + "\n".join(f"  {u}" for u in plan.unmatched)
            + "\nadd the taxa (import_data), add a row to species/starter_pack/camera_trap_labels.csv, "
            "or pass --allow-unmatched"
        )
    artifact = Path(config.output) / "model"
    taken = ModelVersion.objects.filter(path=str(artifact)).first()
    if taken is not None:
        raise ModelTrainingRefused(
            f"{artifact} is already registered as model version {taken.name}; choose another --output"
        )
    try:
        with training_lock(Path(config.output).parent):
            result = train(config, log=log)
            ValidationSplit(tuple((r.path, result.label_taxa.get(r.label)) for r in result.plan.valid)).save(
                result.artifact
            )
            version = model_version_prepare_and_register(path=result.artifact, activate=False)
    except TrainingLocked as exc:
        raise ModelTrainingRefused(str(exc)) from exc
    except (UnmatchedLabels, ValueError, FileNotFoundError) as exc:
        raise ModelTrainingRefused(f"training failed, the active model is unchanged: {exc}") from exc
    active = ModelVersion.objects.filter(is_active=True).first()
    comparison = None
    if active is not None:
        try:
            comparison = model_versions_compare(candidate=version, active=active)
            log(comparison.describe())
        except NotComparable as exc:
            log(f"not compared with the active model: {exc.detail}")
    trained = TrainedModel(result=result, version=version, comparison=comparison, activation=None)
    if activate:
        try:
            trained.activation = model_version_activate(
                model_version=version,
                by=by or command_line_operator(),
                reason=reason or "train_classifier --activate",
                force=force,
            )
        except ActivationRefused as exc:
            trained.refused = exc.detail
    return trained
