"""Callbacks of framegen's own (Lightning's ModelCheckpoint, EarlyStopping, ... come from the configs)."""

from __future__ import annotations

import errno
import logging
import math
import os
import signal
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import RichModelSummary, RichProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities.model_summary import get_formatted_model_size, get_human_readable_count
from rich import get_console
from rich.progress import ProgressColumn, Task
from rich.table import Table
from rich.text import Text

from framegen.atomic import atomic_path
from framegen.checkpoints import export_net
from framegen.errors import TrainingError
from framegen.image_tensor import to_image
from framegen.media import write_image
from framegen.viz import interpolation_sheet

log = logging.getLogger(__name__)


class ImageLogger(L.Callback):
    """Sheets of input frames, prediction, ground truth and flows, written to every logger that takes images
    (TensorBoard, W&B; CSV: PNG files under ``<log dir>/images``): a training batch every ``every_n_steps`` steps
    (0 = never) and the first batch of every validation and test. Reads the ``frame`` and ``flows`` that the
    module's steps return."""

    def __init__(self, *, every_n_steps: int = 500) -> None:
        self.every_n_steps = int(every_n_steps)
        self._step = 0

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self._step = trainer.global_step  # the step this batch belongs to (global_step moves on at its end)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        n = self.every_n_steps
        if n and self._step % n == 0:
            self._log(trainer, "train/images", batch, outputs, step=self._step)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0):
        if batch_idx == 0 and not trainer.sanity_checking:
            self._log(trainer, "val/images", batch, outputs, step=trainer.global_step)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx: int, dataloader_idx: int = 0):
        if batch_idx == 0:
            self._log(trainer, "test/images", batch, outputs, step=trainer.global_step)

    @staticmethod
    def _log(trainer: L.Trainer, tag: str, batch: dict, outputs, *, step: int) -> None:
        if not trainer.loggers or not trainer.is_global_zero or not isinstance(outputs, dict) or "frame" not in outputs:
            return
        sheet = interpolation_sheet(batch["img0"], batch["img1"], outputs["frame"], batch["gt"], outputs["flows"],
                                    labels=True, t=batch["t"])
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(tag, sheet, step)
            elif isinstance(logger, WandbLogger):
                logger.log_image(key=tag, images=[to_image(sheet)], step=step)
            elif isinstance(logger, CSVLogger):
                folder = Path(logger.log_dir) / "images"
                folder.mkdir(parents=True, exist_ok=True)
                write_image(folder / f"{tag.replace('/', '_')}_step{step:07d}.png", to_image(sheet))


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


# errors of a write that the user fixes outside framegen: a full disk or quota, a read-only or forbidden folder
WRITE_ERRORS = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES, errno.EPERM)


def write_reason(err: OSError) -> str:
    """Why a write failed, in words: a full disk, a read-only or forbidden folder, or the system's reason."""
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return "no space left on the device"
    if err.errno == errno.EROFS:
        return "the file system is read-only"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return err.strerror or str(err)


def write_error(err: OSError, path: str | os.PathLike) -> str:
    """One line for a failed write of ``path``."""
    reason = write_reason(err)
    return f"{reason} while writing {path}" if reason.startswith("no space") else f"cannot write {path}: {reason}"


class LastCheckpoint(L.Callback):
    """Keeps ``last.ckpt`` fresh for resuming: every ``every_n_train_steps`` optimizer steps, at the end of every
    training epoch and when fitting ends, each time written to a temporary file and renamed, so a kill during the
    write never leaves a broken ``last.ckpt``.

    A stop (Ctrl-C, SIGTERM) saves it too: a signal that arrives during a training step is held until the step ends,
    then ``last.ckpt`` is saved at that step and the run stops with KeyboardInterrupt (a second signal stops at once);
    one that arrives elsewhere (loading data, validating) stops at once and saves the last finished step (none before
    the session's first training step: a run stopped while starting saves nothing). A failed
    write (a full disk) removes the temporary file, keeps the previous ``last.ckpt`` and raises a one-line
    :class:`~framegen.errors.TrainingError`.
    """

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, *, dirpath: str, filename: str = "last.ckpt", every_n_train_steps: int = 200) -> None:
        self.path = Path(dirpath) / filename
        self.every = max(0, int(every_n_train_steps))
        self._saved_at: int | None = None
        self._in_step = False
        self._trained = False  # a training step ended in this session
        self.stop_requested: str | None = None  # the name of the signal that asked the run to stop
        self._previous: dict[int, Any] = {}

    @property
    def saved_at(self) -> int | None:
        """The step of the last save of this session (None before the first)."""
        return self._saved_at

    def _save(self, trainer: L.Trainer) -> None:
        if trainer.sanity_checking or trainer.fast_dev_run or self._saved_at == trainer.global_step:
            return
        try:
            if trainer.is_global_zero:
                with atomic_path(self.path) as tmp:
                    trainer.save_checkpoint(tmp, weights_only=False)
            else:  # a collective call: every process makes it, only the first writes
                trainer.save_checkpoint(self.path, weights_only=False)
        except OSError as err:
            if self.path.is_file():
                kept, then = " (the previous one is kept)", f"resume with ckpt_path={self.path}"
            else:
                kept, then = "", "start the run again (no last.ckpt was saved yet)"
            raise TrainingError(f"{write_error(err, self.path)} at step {trainer.global_step}{kept}: free some "
                                f"space (or fix the folder) and {then}") from None
        self._saved_at = trainer.global_step

    # ------------------------------------------------------------------ stopping on a signal
    def _on_signal(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        if self._in_step and self.stop_requested is None:
            self.stop_requested = name  # finish this step, save it, then stop
            return
        self.stop_requested = self.stop_requested or name
        raise KeyboardInterrupt

    def _install(self) -> None:
        for name in self.SIGNALS:
            signum = getattr(signal, name)
            try:
                self._previous[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # not the main thread
                pass

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            if signal.getsignal(signum) == self._on_signal and handler is not None:
                signal.signal(signum, handler)
        self._previous = {}

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.stop_requested, self._in_step, self._trained = None, False, False
        if not trainer.fast_dev_run:
            self._install()

    def _stop_if_asked(self) -> None:
        if self.stop_requested:  # the step is saved and logged: stop before the next one (or a validation)
            raise KeyboardInterrupt

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self._stop_if_asked()
        self._in_step = True

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        self._in_step, self._trained = False, True
        if self.stop_requested or (self.every and trainer.global_step % self.every == 0):
            self._save(trainer)

    def on_validation_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == "fit":
            self._stop_if_asked()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
        self._stop_if_asked()

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)
        self._stop_if_asked()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self._restore()
        if not isinstance(exception, KeyboardInterrupt):
            return
        self.stop_requested = self.stop_requested or "SIGINT"
        if self._in_step:  # a second signal inside a step: its weights may be half-updated; keep the last save
            log.warning("stopped inside a training step: last.ckpt keeps step %s", self._saved_at)
            return
        if not self._trained:  # stopped while starting (sanity check, first batch): no step to save
            return
        try:
            self._save(trainer)
        except Exception as err:  # noqa: BLE001 - the stop goes on; the previous last.ckpt stays
            log.error("%s", err)

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()


class StepProgressBar(RichProgressBar):
    """Lightning's rich progress bar, but a run with ``trainer.max_steps`` set shows one bar over the whole run:
    optimizer steps done of the run's total (``max_steps``, or fewer when ``max_epochs`` ends it first), the time
    left for the run (not the epoch) and steps per second. Without ``max_steps`` it is Lightning's per-epoch bar."""

    def _steps_total(self) -> int | None:
        trainer = self.trainer
        if trainer.max_steps is None or trainer.max_steps < 1 or trainer.fast_dev_run:
            return None
        try:
            total = trainer.estimated_stepping_batches
        except Exception:  # noqa: BLE001 - no train loader yet: max_steps alone
            total = trainer.max_steps
        return int(min(trainer.max_steps, total)) if math.isfinite(total) else int(trainer.max_steps)

    def _get_train_description(self, current_epoch: int) -> str:
        total = self._steps_total()
        if total is None:
            return super()._get_train_description(current_epoch)
        return f"Steps (epoch {current_epoch})"

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        total = self._steps_total()
        if total is None or self.is_disabled:
            return super().on_train_epoch_start(trainer, pl_module)
        if self.progress is None:
            return None
        description = self._get_train_description(trainer.current_epoch)
        if self.train_progress_bar_id is None:  # one task for the whole run, started where a resumed run stands
            self.train_progress_bar_id = self.progress.add_task(description, total=total,
                                                                completed=trainer.global_step)
        else:
            self.progress.update(self.train_progress_bar_id, total=total, description=description, visible=True)
        self.refresh()
        return None

    def _initialize_train_progress_bar_id(self) -> None:
        total = self._steps_total()
        if total is None:
            return super()._initialize_train_progress_bar_id()
        self.train_progress_bar_id = self.progress.add_task(
            self._get_train_description(self.trainer.current_epoch), total=total, completed=self.trainer.global_step)
        return None

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if self._steps_total() is None:
            return super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if not self.is_disabled and self.train_progress_bar_id is None:
            self._initialize_train_progress_bar_id()
        self._update(self.train_progress_bar_id, trainer.global_step)
        self._update_metrics(trainer, pl_module)
        self.refresh()
        return None

    def configure_columns(self, trainer: L.Trainer) -> list:
        columns = super().configure_columns(trainer)
        return [*columns[:-1], _SpeedColumn(self, columns[-1])]


class _SpeedColumn(ProgressColumn):
    """Steps per second on the step-counting training bar; Lightning's it/s on the others."""

    def __init__(self, bar: StepProgressBar, fallback: ProgressColumn) -> None:
        super().__init__()
        self.bar, self.fallback = bar, fallback

    def render(self, task: Task):
        if task.id == self.bar.train_progress_bar_id and self.bar._steps_total() is not None:
            speed = task.speed
            return Text(f"{speed if speed is not None else 0.0:.2f} steps/s", style=self.fallback.style)
        return self.fallback.render(task)


class ModelSummary(RichModelSummary):
    """Lightning's model table (name, type, parameters) and parameter counts, without the train/eval module counts
    (the frozen metric nets are in eval mode on purpose) and the FLOPs line (0 unless measured)."""

    @staticmethod
    def summarize(summary_data, total_parameters: int, trainable_parameters: int, model_size: float,
                  *args, **kwargs) -> None:
        columns = dict(summary_data)
        table = Table(header_style="bold magenta")
        for name, justify in (("Name", "left"), ("Type", "left"), ("Params", "right")):
            table.add_column(name, justify=justify)
        for row in zip(*(columns[name] for name in ("Name", "Type", "Params"))):
            table.add_row(*row)
        console = get_console()
        console.print(table)
        console.print(f"params: {get_human_readable_count(int(trainable_parameters))} trainable, "
                      f"{get_human_readable_count(int(total_parameters))} in all "
                      f"({get_formatted_model_size(model_size)} MB)")
