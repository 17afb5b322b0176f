"""Callbacks of framegen's own (Lightning's ModelCheckpoint, EarlyStopping, ... come from the configs)."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import lightning as L
import torch

from framegen.checkpoints import export_net

log = logging.getLogger(__name__)


class ExportBestModel(L.Callback):
    """Writes ``best_model.pth`` (a plain state dict with the architecture inside) whenever the monitored
    validation metric improves; the inference side loads it with :func:`framegen.checkpoints.load_net`."""

    def __init__(self, *, dirpath: str, filename: str = "best_model.pth", monitor: str = "val/psnr",
                 mode: str = "max") -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.path = Path(dirpath) / filename
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best if self.mode == "max" else value < self.best

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        if not math.isfinite(value) or not all(torch.isfinite(p).all() for p in pl_module.net.parameters()):
            log.warning("not exporting %s: %s = %s or non-finite weights (a diverged run)", self.path, self.monitor, value)
            return
        if not self._improved(value):
            return
        self.best = value
        if trainer.is_global_zero:
            export_net(self.path, pl_module.net, pl_module.hparams["net"],
                       metrics={self.monitor: value}, epoch=trainer.current_epoch, global_step=trainer.global_step)
            log.info("exported %s (%s = %.4f)", self.path, self.monitor, value)

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.best = state_dict.get("best")




class LastCheckpoint(L.Callback):
    """Keeps ``last.ckpt`` fresh for resuming: every ``every_n_train_steps`` optimizer steps, at the end of every
    training epoch and when fitting ends (however it ends but an exception), each time written to a temporary file
    and renamed, so a kill during the write never leaves a broken ``last.ckpt``."""

    def __init__(self, *, dirpath: str, filename: str = "last.ckpt", every_n_train_steps: int = 200) -> None:
        self.path = Path(dirpath) / filename
        self.every = max(0, int(every_n_train_steps))
        self._saved_at: int | None = None

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or self._saved_at == trainer.global_step:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        trainer.save_checkpoint(tmp)
        if trainer.is_global_zero:
            os.replace(tmp, self.path)
        self._saved_at = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if self.every and trainer.global_step % self.every == 0:
            self._save(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
