"""The fastai callback that ends each epoch of ml.training.train: log, record, checkpoint, stop early.

fastai is imported here, at the top, so this module is imported only inside a training run."""

from __future__ import annotations

import time

from fastai.callback.core import Callback, CancelFitException

from ml.training.train import BEST, CHECKPOINT, TrainingRun, save_checkpoint


class EpochCheckpoint(Callback):
    """After each epoch: log, record the history in the run's TrainingState, save last.pt
    (resumable) and best.pt, and stop early after `patience` epochs without a new best (with few
    images macro-F1 often stays flat, so the validation loss breaks ties)."""

    order = 65  # after the Recorder

    def __init__(self, run: TrainingRun, phase: str, offset: int, start_epoch: int, patience: int | None = None):
        self.run, self.phase, self.offset, self.start_epoch, self.patience = run, phase, offset, start_epoch, patience
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
        run, state = self.run, self.run.state
        if state.record(row, self.model):
            save_checkpoint(run.checkpoints / BEST, state.best)
        save_checkpoint(run.checkpoints / CHECKPOINT, run.checkpoint(self.phase, self.epoch, self.opt))
        run.log(
            f"epoch {row['epoch']} ({self.phase}): train_loss {train_loss:.4f} valid_loss {valid_loss:.4f} "
            f"macro_f1 {f1:.4f} accuracy {acc:.4f} ({row['seconds']:.1f}s)"
        )
        if self.patience is not None and state.since_best >= self.patience:
            run.log(
                f"early stopping: no better macro-F1 (or, at equal macro-F1, lower validation loss) for {self.patience} epochs"
            )
            raise CancelFitException()
