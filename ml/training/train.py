"""train(config): fine-tune a zoo model with fastai (frozen, then unfrozen), evaluate, report, export.

fastai stays inside this module: the model comes from ml.zoo (so the exported weights load with
ml.artifacts.load_artifact), the data from plain torch datasets using ml.transforms.Preprocessing (the
same resize, crop and normalisation as serving), and fastai's Learner drives the one-cycle schedules,
lr_find, discriminative learning rates and early stopping.
"""

from __future__ import annotations

import copy
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from ml.training.config import TrainingConfig
from ml.training.data import (
    DataPlan,
    ImageRecord,
    build_plan,
    is_empty_label,
    load_coco,
    load_folders,
    records_from_dicts,
)

CHECKPOINT = "last.pt"
BEST = "best.pt"


class UnmatchedLabels(ValueError):
    """Class names with no taxon, refused unless allow_unmatched."""

    def __init__(self, labels: list[str]):
        super().__init__(
            f"{len(labels)} classes match no taxon: {', '.join(labels)} (add the taxa, or allow unmatched classes)"
        )
        self.labels = labels


@dataclass
class TrainingResult:
    output: Path
    artifact: Path
    metrics: dict
    plan: DataPlan
    seconds: float
    unreadable: list[str] = field(default_factory=list)
    label_taxa: dict = field(default_factory=dict)


# -- data ----------------------------------------------------------------------------------------
def load_records(config: TrainingConfig) -> list[ImageRecord]:
    if config.coco is not None:
        return load_coco(config.coco, config.images)
    if config.folders is not None:
        return load_folders(config.folders)
    return records_from_dicts(config.records or [])


def plan_data(config: TrainingConfig) -> DataPlan:
    """What would be trained on: classes, split, and what was dropped and why (no torch needed)."""
    return build_plan(
        load_records(config),
        split=config.split,
        valid_pct=config.valid_pct,
        seed=config.seed,
        empty_keep=config.empty_keep,
        empty_names=config.empty_names,
        first_frame_only=config.first_frame_only,
        min_per_class=config.min_per_class,
    )


def label_taxa_for(
    classes: list[str], mapping: dict, empty_names, allow_unmatched: bool
) -> tuple[list[str | None], list[str]]:
    """Taxon key for each class (None: no animal); unmatched classes keep their own name when allowed."""
    taxa, unmatched = [], []
    for name in classes:
        if name in mapping:
            taxa.append(mapping[name])
        elif is_empty_label(name, empty_names):
            taxa.append(None)
        else:
            unmatched.append(name)
            taxa.append(name)
    if unmatched and not allow_unmatched:
        raise UnmatchedLabels(unmatched)
    return taxa, unmatched


def decode_images(records: list[ImageRecord], prep, keep_in_memory: bool) -> tuple[dict, list[str]]:
    """Decode every image once (reduced-size JPEG decode, upright RGB); unreadable ones are reported."""
    from ml.images import ImageError, load_rgb

    cache, unreadable = {}, []
    for r in records:
        try:
            img = load_rgb(r.path, target_size=prep.resize_size)
            img.load()
            cache[r.id] = img if keep_in_memory else None
        except ImageError as exc:
            unreadable.append(f"{r.path}: {exc.code}")
    return cache, unreadable


class ImageDataset:
    """(normalised float32 array, class index) per record: augmented for training, serving's path otherwise."""

    def __init__(self, records, class_index, prep, cache: dict, train: bool, seed: int):
        self.records, self.class_index, self.prep, self.cache, self.train = records, class_index, prep, cache, train
        self.rng = random.Random(seed)

    def __len__(self):
        return len(self.records)

    def image(self, i):
        from ml.images import load_rgb

        r = self.records[i]
        img = self.cache.get(r.id)
        return img if img is not None else load_rgb(r.path, target_size=self.prep.resize_size)

    def __getitem__(self, i):
        import torch

        img = self.image(i)
        arr = self.prep.train_array(img, self.rng) if self.train else self.prep.to_array(img)
        return torch.from_numpy(arr), self.class_index[self.records[i].label]


def load_data(config: TrainingConfig, plan: DataPlan, prep, log: Callable = print):
    """(train DataLoader, valid DataLoader, train records, valid records, unreadable) with seeded order."""
    import torch
    from torch.utils.data import DataLoader, WeightedRandomSampler

    records = plan.train + plan.valid
    cache, unreadable = decode_images(records, prep, keep_in_memory=len(records) <= config.cache_images_max)
    if unreadable:
        log(f"skipped {len(unreadable)} unreadable images")
    train = [r for r in plan.train if r.id in cache]
    valid = [r for r in plan.valid if r.id in cache]
    if not train or not valid:
        raise ValueError(f"need training and validation images; have {len(train)} and {len(valid)} readable")
    class_index = {c: i for i, c in enumerate(plan.classes)}
    train_ds = ImageDataset(train, class_index, prep, cache, train=True, seed=config.seed)
    valid_ds = ImageDataset(valid, class_index, prep, cache, train=False, seed=config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    bs = min(config.batch_size, len(train))
    if config.balance == "sampler":
        weights = class_weights([class_index[r.label] for r in train], len(plan.classes))
        sample_w = [float(weights[class_index[r.label]]) for r in train]
        sampler = WeightedRandomSampler(sample_w, num_samples=len(train), replacement=True, generator=generator)
        train_dl = DataLoader(train_ds, batch_size=bs, sampler=sampler, num_workers=0)
    else:
        train_dl = DataLoader(train_ds, batch_size=bs, shuffle=True, generator=generator, num_workers=0)
    valid_dl = DataLoader(valid_ds, batch_size=config.batch_size, shuffle=False, num_workers=0)
    return train_dl, valid_dl, train, valid, unreadable


def class_weights(targets: list[int], num_classes: int) -> np.ndarray:
    """Inverse-frequency weights, mean 1 over the classes present; absent classes get 0."""
    counts = np.bincount(np.asarray(targets, dtype=np.int64), minlength=num_classes).astype(np.float64)
    weights = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    present = weights > 0
    weights[present] *= present.sum() / weights[present].sum()
    return weights


# -- model ---------------------------------------------------------------------------------------
def head_parameters(model) -> set[int]:
    """ids of the classifier head's parameters (torchvision `fc`, timm `get_classifier()`)."""
    head = model.get_classifier() if hasattr(model, "get_classifier") else model.fc
    return {id(p) for p in head.parameters()}


def body_head_splitter(model):
    """Two parameter groups for fastai: the pretrained body (frozen first, lower lr) and the new head."""
    head = head_parameters(model)
    params = list(model.parameters())
    return [[p for p in params if id(p) not in head], [p for p in params if id(p) in head]]


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def evaluate(model, loader, device: str) -> tuple[np.ndarray, np.ndarray]:
    """(logits, targets) over a loader, in eval mode."""
    import torch

    model.eval()
    logits, targets = [], []
    with torch.inference_mode():
        for x, y in loader:
            logits.append(model(x.to(device)).float().cpu().numpy())
            targets.append(np.asarray(y))
    return np.concatenate(logits), np.concatenate(targets).astype(np.int64)


def _macro_f1_metric(targs, preds):
    from ml.training.metrics import macro_f1

    return macro_f1(targs, preds)


# -- checkpoints ---------------------------------------------------------------------------------
def _plain(value):
    """Numpy scalars and arrays to Python numbers and tensors, so torch.load(weights_only=True) reads them."""
    import torch

    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    return value


def _plain_opt_state(opt) -> dict:
    sd = opt.state_dict()
    return {"state": [_plain(dict(s)) for s in sd["state"]], "hypers": [_plain(dict(h)) for h in sd["hypers"]]}


def save_checkpoint(path: Path, payload: dict) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def _split_ids(train, valid) -> dict:
    return {"train": sorted(r.id for r in train), "valid": sorted(r.id for r in valid)}


# -- training ------------------------------------------------------------------------------------
# train() runs named steps over one TrainingRun, in the manner of torchvision's reference scripts:
# prepare the run (plan, labels, data, a checkpoint to resume), build the learner, resume, pick the
# learning rate, fit the two phases, then export the best epoch and its top losses.
@dataclass
class TrainingState:
    """What the epochs leave behind: written by ml.training.epochs.EpochCheckpoint after each epoch,
    read by the export. "Best" is the highest macro-F1, ties broken by the lower validation loss."""

    history: list[dict] = field(default_factory=list)
    best: dict | None = None  # the best epoch's weights, on the CPU
    best_key: tuple[float, float] | None = None  # (macro-F1, -validation loss) of that epoch
    since_best: int = 0  # epochs since the best, for early stopping
    lr: float | None = None  # the base learning rate (given, found by lr_find, or resumed)

    def record(self, row: dict, model) -> bool:
        """Append an epoch's row; True (and its weights kept) when it is the new best."""
        self.history.append(row)
        key = (row["macro_f1"], -row["valid_loss"])
        if self.best_key is not None and key <= self.best_key:
            self.since_best += 1
            return False
        self.best_key, self.since_best = key, 0
        self.best = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        return True


@dataclass
class TrainingRun:
    """What the steps share."""

    config: TrainingConfig
    log: Callable[[str], None]
    plan: DataPlan
    prep: object  # ml.transforms.Preprocessing
    device: str
    label_taxa: list[str | None]
    unmatched: list[str]
    train_dl: object
    valid_dl: object
    train_records: list[ImageRecord]
    valid_records: list[ImageRecord]
    unreadable: list[str]
    resumed: dict | None  # the last.pt being resumed
    state: TrainingState = field(default_factory=TrainingState)
    model: object = None
    learn: object = None
    started: float = field(default_factory=time.perf_counter)

    @property
    def checkpoints(self) -> Path:
        return self.config.output / "checkpoints"

    def checkpoint(self, phase: str, phase_epoch: int, opt) -> dict:
        """last.pt's payload: enough to resume after this epoch (and to refuse another split)."""
        return {
            "model": self.model.state_dict(),
            "opt": _plain_opt_state(opt),
            "phase": phase,
            "phase_epoch": phase_epoch,
            "history": self.state.history,
            "best_key": list(self.state.best_key),
            "since_best": self.state.since_best,
            "lr": self.state.lr,
            "classes": self.plan.classes,
            "arch": self.config.arch,
            "split": _split_ids(self.train_records, self.valid_records),
        }


def train(config: TrainingConfig, log: Callable[[str], None] = print) -> TrainingResult:
    """Train, keep the best epoch by macro-F1, calibrate, export the artifact and write the report."""
    run = prepare_run(config, log)
    build_learner(run)
    start_phase, start_epoch = resume(run)
    choose_lr(run)
    fit_phases(run, start_phase, start_epoch)
    return export_best(run)


def prepare_run(config: TrainingConfig, log: Callable[[str], None]) -> TrainingRun:
    """Seed, plan the data, map the classes to taxa, load the images and the checkpoint to resume."""
    from fastai.torch_core import set_seed

    from ml.zoo import spec

    started = time.perf_counter()
    set_seed(config.seed, reproducible=True)
    plan = plan_data(config)
    label_taxa, unmatched = label_taxa_for(plan.classes, config.label_taxa, config.empty_names, config.allow_unmatched)
    if unmatched:
        log(f"warning: {len(unmatched)} classes match no taxon and keep their own name as key: {', '.join(unmatched)}")
    prep = spec(config.arch).preprocessing
    if config.img_size:
        prep = replace(prep, input_size=config.img_size)
    log(plan.describe())
    resumed = _last_checkpoint(config.output / "checkpoints") if config.resume else None
    train_dl, valid_dl, train_records, valid_records, unreadable = load_data(config, plan, prep, log)
    if resumed is not None and resumed["split"] != _split_ids(train_records, valid_records):
        raise ValueError(
            "the checkpoint was made with another data split: same data, options and seed are needed to resume"
        )
    return TrainingRun(
        config=config,
        log=log,
        plan=plan,
        prep=prep,
        device=resolve_device(config.device),
        label_taxa=label_taxa,
        unmatched=unmatched,
        train_dl=train_dl,
        valid_dl=valid_dl,
        train_records=train_records,
        valid_records=valid_records,
        unreadable=unreadable,
        resumed=resumed,
        started=started,
    )


def _last_checkpoint(checkpoints: Path) -> dict:
    if not (checkpoints / CHECKPOINT).is_file():
        raise FileNotFoundError(f"nothing to resume: no {checkpoints / CHECKPOINT}")
    return load_checkpoint(checkpoints / CHECKPOINT)


def build_learner(run: TrainingRun) -> None:
    """The zoo model (random head; pretrained body unless resuming) in a fastai Learner with the
    body/head split, class-weighted loss when asked, and macro-F1 and accuracy as metrics."""
    import torch
    from fastai.callback.progress import ProgressCallback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.metrics import AccumMetric, accuracy

    from ml.zoo import build_model

    config, device = run.config, run.device
    num_classes = len(run.plan.classes)
    weights = None
    if config.balance == "weights":
        weights = class_weights([run.plan.classes.index(r.label) for r in run.train_records], num_classes)
    run.model = build_model(config.arch, num_classes, pretrained="none" if run.resumed else config.pretrained)
    loss_func = torch.nn.CrossEntropyLoss(
        weight=None if weights is None else torch.tensor(weights, dtype=torch.float32).to(device)
    )
    run.learn = Learner(
        DataLoaders(run.train_dl, run.valid_dl, device=torch.device(device)),
        run.model.to(device),
        loss_func=loss_func,
        splitter=body_head_splitter,
        metrics=[AccumMetric(_macro_f1_metric, dim_argmax=-1, to_np=True, invert_arg=True, name="macro_f1"), accuracy],
        path=config.output,
        model_dir="checkpoints",
    )
    if config.quiet or not sys.stdout.isatty():
        run.learn.remove_cb(ProgressCallback)
        run.learn.logger = lambda *args: None  # the epoch lines come from EpochCheckpoint instead


def resume(run: TrainingRun) -> tuple[str, int]:
    """Load the resumed weights and state; (phase, first epoch of that phase) to start at."""
    if run.resumed is None:
        return "frozen", 0
    saved = run.resumed
    run.model.load_state_dict(saved["model"])
    run.state = TrainingState(
        history=saved["history"],
        best_key=tuple(saved["best_key"]) if saved["best_key"] else None,
        lr=saved["lr"],
        since_best=saved.get("since_best", 0),
        best=load_checkpoint(run.checkpoints / BEST) if (run.checkpoints / BEST).is_file() else None,
    )
    phase, epoch = saved["phase"], saved["phase_epoch"] + 1
    if phase == "frozen" and epoch >= run.config.freeze_epochs:
        phase, epoch = "unfrozen", 0
    run.log(f"resuming at {phase} epoch {epoch} from {run.checkpoints / CHECKPOINT}")
    return phase, epoch


def choose_lr(run: TrainingRun) -> None:
    """The base learning rate: resumed, given, or lr_find's valley on the frozen model."""
    run.learn.freeze()
    if run.state.lr is not None:
        return
    if run.config.lr is not None:
        run.state.lr = float(run.config.lr)
        return
    with run.learn.no_bar() if hasattr(run.learn, "no_bar") else _nothing():
        found = run.learn.lr_find(num_it=run.config.lr_find_iters, show_plot=False)
    run.state.lr = float(found.valley)
    run.log(f"lr_find suggests {run.state.lr:.2e}")


def fit_phases(run: TrainingRun, start_phase: str, start_epoch: int) -> None:
    """One-cycle on the head with the body frozen, then on everything with discriminative rates
    (the body at 1/100 of the head) and early stopping."""
    import fastai.callback.schedule  # noqa: F401 - adds Learner.fit_one_cycle and Learner.lr_find

    config, base_lr = run.config, run.state.lr
    if start_phase == "frozen" and config.freeze_epochs > 0:
        _fit_phase(run, "frozen", config.freeze_epochs, slice(base_lr), 0.99, start_epoch, offset=0)
        start_epoch = 0
    if config.epochs > 0:
        _fit_phase(
            run,
            "unfrozen",
            config.epochs,
            slice(base_lr / 200, base_lr / 2),
            0.3,
            start_epoch,
            offset=config.freeze_epochs,
            patience=config.patience,
        )


def _fit_phase(
    run: TrainingRun,
    phase: str,
    epochs: int,
    lr: slice,
    pct_start: float,
    start_epoch: int,
    *,
    offset: int,
    patience: int | None = None,
) -> None:
    from ml.training.epochs import EpochCheckpoint

    learn = run.learn
    learn.create_opt()
    if phase == "unfrozen":
        learn.unfreeze()
    else:
        learn.freeze()
    if run.resumed is not None and run.resumed["phase"] == phase and start_epoch > 0:
        from fastcore.foundation import L

        saved = run.resumed["opt"]
        learn.opt.load_state_dict({"state": saved["state"], "hypers": L(saved["hypers"])})
    learn.fit_one_cycle(
        epochs,
        lr,
        pct_start=pct_start,
        start_epoch=start_epoch,
        cbs=[EpochCheckpoint(run, phase, offset, start_epoch, patience)],
    )


def export_best(run: TrainingRun) -> TrainingResult:
    """Evaluate the best epoch, calibrate its temperature, save the artifact, metrics and report."""
    from ml.artifacts import Manifest, save_artifact
    from ml.training import metrics as M
    from ml.training.report import write_report

    config, plan, state = run.config, run.plan, run.state
    if state.best is not None:
        run.model.load_state_dict(state.best)
    model = run.model.to(run.device).eval()
    logits, valid_targets = evaluate(model, run.valid_dl, run.device)
    temperature = M.fit_temperature(logits, valid_targets)
    summary = M.summarise(logits, valid_targets, plan.classes, temperature)
    metrics = _run_metrics(run, summary)
    manifest = Manifest(
        name=config.name or f"{config.arch}-{config.output.name}",
        arch=config.arch,
        labels=list(plan.classes),
        label_taxa=run.label_taxa,
        preprocessing=run.prep,
        temperature=temperature,
        metrics={
            k: metrics[k]
            for k in ("macro_f1", "accuracy", "valid_loss", "ece_before", "ece_after", "best_epoch", "seed")
        }
        | {"split": config.split, "train_images": len(run.train_records), "valid_images": len(run.valid_records)},
    )
    artifact = config.output / "model"
    save_artifact(artifact, manifest, copy.deepcopy(model).cpu().state_dict())
    metrics["top_losses"] = top_losses(
        M.softmax(logits), valid_targets, run.valid_records, plan.classes, config.top_losses
    )
    metrics["seconds"] = round(time.perf_counter() - run.started, 1)
    (config.output / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_report(config.output, metrics, run.prep, config.to_dict())
    run.log(
        f"macro_f1 {summary['macro_f1']:.4f} accuracy {summary['accuracy']:.4f} ECE {summary['ece_before']:.3f} -> {summary['ece_after']:.3f} "
        f"(T={temperature:.2f}); artifact {artifact}"
    )
    return TrainingResult(
        output=config.output,
        artifact=artifact,
        metrics=metrics,
        plan=plan,
        seconds=metrics["seconds"],
        unreadable=run.unreadable,
        label_taxa=dict(zip(plan.classes, run.label_taxa)),
    )


def _run_metrics(run: TrainingRun, summary: dict) -> dict:
    history = run.state.history
    best_epoch = max(history, key=lambda h: (h["macro_f1"], -h["valid_loss"]))["epoch"] if history else None
    return {
        **summary,
        "best_epoch": best_epoch,
        "history": history,
        "lr": run.state.lr,
        "seconds": round(time.perf_counter() - run.started, 1),
        "device": run.device,
        "arch": run.config.arch,
        "pretrained": run.config.pretrained,
        "input_size": run.prep.input_size,
        "seed": run.config.seed,
        "plan": run.plan.to_dict(),
        "unreadable": run.unreadable,
        "unmatched_labels": run.unmatched,
        "temperature_note": "fitted on the validation set, so ece_after is measured on the data it was fitted to",
    }


def top_losses(probs: np.ndarray, targets: np.ndarray, records: list[ImageRecord], classes: list[str], n: int) -> list:
    """The n validation images the model got most wrong, by its own (uncalibrated) loss."""
    losses = -np.log(np.clip(probs[np.arange(len(targets)), targets], 1e-12, None))
    return [
        {
            "path": records[i].path,
            "actual": classes[targets[i]],
            "predicted": classes[int(probs[i].argmax())],
            "loss": float(losses[i]),
            "probability": float(probs[i].max()),
        }
        for i in np.argsort(-losses)[:n]
    ]


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
