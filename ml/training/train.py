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
def train(config: TrainingConfig, log: Callable[[str], None] = print) -> TrainingResult:
    """Train, keep the best epoch by macro-F1, calibrate, export the artifact and write the report."""
    import fastai.callback.schedule  # noqa: F401 - adds Learner.fit_one_cycle and Learner.lr_find
    import torch
    from fastai.callback.core import Callback, CancelFitException
    from fastai.callback.progress import ProgressCallback
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.metrics import AccumMetric, accuracy
    from fastai.torch_core import set_seed

    from ml.artifacts import Manifest, save_artifact
    from ml.training import metrics as M
    from ml.training.report import write_report
    from ml.zoo import build_model, spec

    started = time.perf_counter()
    output = config.output
    checkpoints = output / "checkpoints"
    set_seed(config.seed, reproducible=True)
    plan = plan_data(config)
    label_taxa, unmatched = label_taxa_for(plan.classes, config.label_taxa, config.empty_names, config.allow_unmatched)
    if unmatched:
        log(f"warning: {len(unmatched)} classes match no taxon and keep their own name as key: {', '.join(unmatched)}")
    prep = spec(config.arch).preprocessing
    if config.img_size:
        prep = replace(prep, input_size=config.img_size)
    device = resolve_device(config.device)
    log(plan.describe())

    resume_state = None
    if config.resume:
        if not (checkpoints / CHECKPOINT).is_file():
            raise FileNotFoundError(f"nothing to resume: no {checkpoints / CHECKPOINT}")
        resume_state = load_checkpoint(checkpoints / CHECKPOINT)

    train_dl, valid_dl, train_records, valid_records, unreadable = load_data(config, plan, prep, log)
    if resume_state is not None and resume_state["split"] != _split_ids(train_records, valid_records):
        raise ValueError(
            "the checkpoint was made with another data split: same data, options and seed are needed to resume"
        )
    num_classes = len(plan.classes)
    targets = [plan.classes.index(r.label) for r in train_records]
    weights = class_weights(targets, num_classes) if config.balance == "weights" else None

    model = build_model(config.arch, num_classes, pretrained="none" if resume_state else config.pretrained)
    loss_func = torch.nn.CrossEntropyLoss(
        weight=None if weights is None else torch.tensor(weights, dtype=torch.float32).to(device)
    )
    dls = DataLoaders(train_dl, valid_dl, device=torch.device(device))
    learn = Learner(
        dls,
        model.to(device),
        loss_func=loss_func,
        splitter=body_head_splitter,
        metrics=[AccumMetric(_macro_f1_metric, dim_argmax=-1, to_np=True, invert_arg=True, name="macro_f1"), accuracy],
        path=output,
        model_dir="checkpoints",
    )
    if config.quiet or not sys.stdout.isatty():
        learn.remove_cb(ProgressCallback)
        learn.logger = lambda *args: None  # the epoch lines come from EpochCheckpoint instead

    state = {"history": [], "best": None, "best_key": None, "since_best": 0, "lr": None}
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        state.update(
            history=resume_state["history"],
            best_key=tuple(resume_state["best_key"]) if resume_state["best_key"] else None,
            lr=resume_state["lr"],
            since_best=resume_state.get("since_best", 0),
        )
        if (checkpoints / BEST).is_file():
            state["best"] = load_checkpoint(checkpoints / BEST)

    class EpochCheckpoint(Callback):
        """After each epoch: log, record history, save last.pt (resumable) and best.pt, stop early.

        "Best" is the highest macro-F1, ties broken by the lower validation loss (with few images
        macro-F1 often stays flat); early stopping counts epochs without a new best by that rule.
        """

        order = 65  # after the Recorder

        def __init__(self, phase: str, offset: int, start_epoch: int, patience: int | None = None):
            self.phase, self.offset, self.start_epoch, self.patience = phase, offset, start_epoch, patience
            self.epoch_started = time.perf_counter()

        def before_epoch(self):
            self.epoch_started = time.perf_counter()

        def after_epoch(self):
            if self.epoch < self.start_epoch:
                return  # skipped while resuming
            train_loss, valid_loss, f1, acc = (float(v) for v in self.recorder.values[-1][:4])
            row = {
                "epoch": self.offset + self.epoch,
                "phase": self.phase,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                "macro_f1": f1,
                "accuracy": acc,
                "seconds": round(time.perf_counter() - self.epoch_started, 2),
            }
            state["history"].append(row)
            key = (f1, -valid_loss)
            if state["best_key"] is None or key > tuple(state["best_key"]):
                state["best_key"], state["since_best"] = key, 0
                state["best"] = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
                save_checkpoint(checkpoints / BEST, state["best"])
            else:
                state["since_best"] += 1
            save_checkpoint(
                checkpoints / CHECKPOINT,
                {
                    "model": self.model.state_dict(),
                    "opt": _plain_opt_state(self.opt),
                    "phase": self.phase,
                    "phase_epoch": self.epoch,
                    "history": state["history"],
                    "best_key": list(state["best_key"]),
                    "since_best": state["since_best"],
                    "lr": state["lr"],
                    "classes": plan.classes,
                    "arch": config.arch,
                    "split": _split_ids(train_records, valid_records),
                },
            )
            log(
                f"epoch {row['epoch']} ({self.phase}): train_loss {train_loss:.4f} valid_loss {valid_loss:.4f} "
                f"macro_f1 {f1:.4f} accuracy {acc:.4f} ({row['seconds']:.1f}s)"
            )
            if self.patience is not None and state["since_best"] >= self.patience:
                log(
                    f"early stopping: no better macro-F1 (or, at equal macro-F1, lower validation loss) for {self.patience} epochs"
                )
                raise CancelFitException()

    # Where to pick up: (phase, first epoch of that phase).
    start_phase, start_epoch = "frozen", 0
    if resume_state is not None:
        start_phase, start_epoch = resume_state["phase"], resume_state["phase_epoch"] + 1
        if start_phase == "frozen" and start_epoch >= config.freeze_epochs:
            start_phase, start_epoch = "unfrozen", 0
        log(f"resuming at {start_phase} epoch {start_epoch} from {checkpoints / CHECKPOINT}")

    learn.freeze()
    if state["lr"] is None:
        if config.lr is not None:
            state["lr"] = float(config.lr)
        else:
            with learn.no_bar() if hasattr(learn, "no_bar") else _nothing():
                found = learn.lr_find(num_it=config.lr_find_iters, show_plot=False)
            state["lr"] = float(found.valley)
            log(f"lr_find suggests {state['lr']:.2e}")
    base_lr = state["lr"]

    def restore_opt():
        if resume_state is not None and resume_state["phase"] == phase and start_epoch > 0:
            from fastcore.foundation import L

            learn.opt.load_state_dict(
                {"state": resume_state["opt"]["state"], "hypers": L(resume_state["opt"]["hypers"])}
            )

    if start_phase == "frozen" and config.freeze_epochs > 0:
        phase = "frozen"
        learn.create_opt()
        learn.freeze()
        restore_opt()
        learn.fit_one_cycle(
            config.freeze_epochs,
            slice(base_lr),
            pct_start=0.99,
            start_epoch=start_epoch,
            cbs=[EpochCheckpoint("frozen", 0, start_epoch)],
        )
        start_epoch = 0
    if config.epochs > 0:
        phase = "unfrozen"
        learn.create_opt()
        learn.unfreeze()
        restore_opt()
        learn.fit_one_cycle(
            config.epochs,
            slice(base_lr / 200, base_lr / 2),
            pct_start=0.3,
            start_epoch=start_epoch,
            cbs=[EpochCheckpoint("unfrozen", config.freeze_epochs, start_epoch, patience=config.patience)],
        )

    # The best epoch by macro-F1 is the one evaluated, calibrated and exported.
    if state["best"] is not None:
        model.load_state_dict(state["best"])
    model = model.to(device).eval()
    logits, valid_targets = evaluate(model, valid_dl, device)
    temperature = M.fit_temperature(logits, valid_targets)
    summary = M.summarise(logits, valid_targets, plan.classes, temperature)
    best_epoch = (
        max(state["history"], key=lambda h: (h["macro_f1"], -h["valid_loss"]))["epoch"] if state["history"] else None
    )
    seconds = time.perf_counter() - started
    metrics = {
        **summary,
        "best_epoch": best_epoch,
        "history": state["history"],
        "lr": base_lr,
        "seconds": round(seconds, 1),
        "device": device,
        "arch": config.arch,
        "pretrained": config.pretrained,
        "input_size": prep.input_size,
        "seed": config.seed,
        "plan": plan.to_dict(),
        "unreadable": unreadable,
        "unmatched_labels": unmatched,
        "temperature_note": "fitted on the validation set, so ece_after is measured on the data it was fitted to",
    }
    name = config.name or f"{config.arch}-{output.name}"
    manifest = Manifest(
        name=name,
        arch=config.arch,
        labels=list(plan.classes),
        label_taxa=label_taxa,
        preprocessing=prep,
        temperature=temperature,
        metrics={
            k: metrics[k]
            for k in ("macro_f1", "accuracy", "valid_loss", "ece_before", "ece_after", "best_epoch", "seed")
        }
        | {"split": config.split, "train_images": len(train_records), "valid_images": len(valid_records)},
    )
    model_cpu = copy.deepcopy(model).cpu()
    artifact = output / "model"
    save_artifact(artifact, manifest, model_cpu.state_dict())
    probs = M.softmax(logits)  # the model's own losses, before calibration
    losses = -np.log(np.clip(probs[np.arange(len(valid_targets)), valid_targets], 1e-12, None))
    order = np.argsort(-losses)[: config.top_losses]
    top = [
        {
            "path": valid_records[i].path,
            "actual": plan.classes[valid_targets[i]],
            "predicted": plan.classes[int(probs[i].argmax())],
            "loss": float(losses[i]),
            "probability": float(probs[i].max()),
        }
        for i in order
    ]
    metrics["top_losses"] = top
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_report(output, metrics, prep, config.to_dict())
    log(
        f"macro_f1 {summary['macro_f1']:.4f} accuracy {summary['accuracy']:.4f} ECE {summary['ece_before']:.3f} -> {summary['ece_after']:.3f} "
        f"(T={temperature:.2f}); artifact {artifact}"
    )
    return TrainingResult(
        output=output,
        artifact=artifact,
        metrics=metrics,
        plan=plan,
        seconds=metrics["seconds"],
        unreadable=unreadable,
        label_taxa=dict(zip(plan.classes, label_taxa)),
    )


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
