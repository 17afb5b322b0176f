"""``train(cfg)``: build data, module, callbacks, loggers and trainer from a composed Hydra config; fit; test.

Every run ends validated: when the last validation came before the final step (a short ``trainer.max_steps``), one
more runs after fitting, so ``best_model.pth`` always exists. A resumed run (``ckpt_path=<run>/checkpoints/...``)
continues in that run's folder and its ``metrics.csv``. Problems a user can fix (a diverged loss, a checkpoint of
another architecture, a GPU preset without a GPU, missing data) raise :class:`TrainingError` with one line.
"""

from __future__ import annotations

import logging
import math
import os
import shlex
import signal
import sys
import tempfile
from pathlib import Path

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from omegaconf import DictConfig, OmegaConf, open_dict

from framegen.callbacks import WRITE_ERRORS, ExportBestModel, LastCheckpoint, write_error, write_reason
from framegen.checkpoints import CheckpointError, resolve_checkpoint
from framegen.errors import TrainingError
from framegen.init_weights import checkpoint_arch, describe_arch, init_from
from framegen.loggers import quiet_third_party
from framegen.media import user_path
from framegen.models import normalize_arch

log = logging.getLogger(__name__)

__all__ = ["TrainingError", "optimized_metric", "train"]


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry with a ``_target_`` in a config group mapping (callbacks, loggers)."""
    if not group:
        return []
    out = []
    for conf in group.values():
        if isinstance(conf, DictConfig) and "_target_" in conf:
            if conf._target_.endswith("WandbLogger") and not conf.get("offline") and not _wandb_credentials():
                log.info("no wandb API key found: the wandb logger runs offline (sync later with `wandb sync`)")
                conf = OmegaConf.merge(conf, {"offline": True})
            out.append(instantiate(conf))
    return out


def _wandb_credentials() -> bool:
    if os.environ.get("WANDB_API_KEY"):
        return True
    netrc = Path.home() / ".netrc"
    return netrc.is_file() and "api.wandb.ai" in netrc.read_text(errors="ignore")


def _check_accelerator(cfg: DictConfig) -> None:
    acc = str(cfg.trainer.get("accelerator", "auto"))
    if acc in ("gpu", "cuda") and not torch.cuda.is_available():
        if torch.version.cuda is None:
            raise TrainingError(f"this trainer preset needs a CUDA GPU, but torch {torch.__version__} is a CPU-only "
                                f"build: use trainer=cpu, or install a CUDA build of torch on a machine with a GPU")
        raise TrainingError(f"this trainer preset needs a CUDA GPU, but no CUDA device is visible to torch "
                            f"{torch.__version__} (a CUDA {torch.version.cuda} build): check the driver and "
                            f"CUDA_VISIBLE_DEVICES (nvidia-smi; python -c \"import torch; "
                            f"print(torch.cuda.is_available())\" should print True), or use trainer=cpu")


def _whole(value) -> int | None:
    """``value`` as a whole number (8, 8.0, 1e3, "8"), None when it is not one (abc, nan, 2.5, true)."""
    number = _number(value)
    return int(number) if number is not None and number.is_integer() else None


def _number(value) -> float | None:
    """``value`` as a finite number (3e-4, "3e-4"), None when it is not one (abc, nan, inf, true)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# the numeric options a user types most: (what a value must be, what to give); checked before anything is built
_WHOLE_OPTIONS = {
    "data.batch_size": (1, "give a whole number of samples per batch >= 1, e.g. 8"),
    "data.val_batch_size": (1, "give a whole number of samples per batch >= 1, e.g. 16"),
    "data.num_workers": (0, "give a whole number of data-loading processes >= 0 (0: load in the main process) or auto"),
    "trainer.accumulate_grad_batches": (1, "give a whole number of batches per optimizer step >= 1, e.g. 1"),
    "val_every_n_steps": (1, "give a whole number of steps >= 1, or null to validate once an epoch"),
    "trainer.max_steps": (-1, "give a whole number of steps >= 1 (or -1 to end by trainer.max_epochs)"),
    "trainer.max_epochs": (-1, "give a whole number of epochs >= 1 (or -1 to end by trainer.max_steps)"),
}
_REAL_OPTIONS = {
    "model.optimizer.lr": (False, "give a learning rate > 0, e.g. 3e-4"),
    "model.optimizer.weight_decay": (True, "give a weight decay >= 0, e.g. 1e-4 (0: none)"),
}
_NULL_ALLOWED = ("val_every_n_steps", "trainer.max_steps", "trainer.max_epochs")


def _check_options(cfg: DictConfig) -> None:
    """The numeric options users type (``data.batch_size``, ``data.num_workers``, ``model.optimizer.lr``,
    ``weight_decay``, ``trainer.max_steps``, ``trainer.max_epochs``, ``val_every_n_steps``) are numbers in range,
    else one line naming the option, its value and what it takes, before a run folder, a dataset or a net is made;
    each is written back as a plain number (``trainer.max_steps=1e3`` -> 1000). A run that would train nothing
    (max_steps=0, max_epochs=0) or a negative step count is refused too."""
    with open_dict(cfg):
        for key, (least, takes) in _WHOLE_OPTIONS.items():
            if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
                continue
            value = OmegaConf.select(cfg, key)
            if (value is None and key in _NULL_ALLOWED) or (key == "data.num_workers" and value == "auto"):
                continue
            number = _whole(value)
            if number is None or (number < least and key != "trainer.max_steps"):  # max_steps=-5: _check_steps
                raise TrainingError(f"{key}={value}: {takes}")
            if type(value) is not int:
                OmegaConf.update(cfg, key, number, merge=False)
        for key, (zero_ok, takes) in _REAL_OPTIONS.items():
            if OmegaConf.select(cfg, key, default="<absent>") == "<absent>":
                continue
            value = OmegaConf.select(cfg, key)
            number = _number(value)
            if number is None or number < 0 or (number == 0 and not zero_ok):
                raise TrainingError(f"{key}={value}: {takes}")
            if type(value) is not float:
                OmegaConf.update(cfg, key, number, merge=False)
    _check_steps(cfg)


def _check_steps(cfg: DictConfig) -> None:
    """A run that would train nothing (max_steps=0, max_epochs=0) or a negative step count is refused."""
    if not cfg.get("train", True) or cfg.trainer.get("fast_dev_run"):
        return
    steps, epochs = cfg.trainer.get("max_steps"), cfg.trainer.get("max_epochs")
    if steps is not None and (_whole(steps) == 0 or _whole(steps) < -1):
        raise TrainingError(f"trainer.max_steps={steps} trains nothing: give a number of steps >= 1 (or -1 to end by "
                            f"trainer.max_epochs); to score weights without training: train=false validate=true "
                            f"init_from=<weights>")
    if (steps is None or _whole(steps) == -1) and epochs is not None and _whole(epochs) == 0:
        raise TrainingError("trainer.max_epochs=0 trains nothing: give trainer.max_epochs >= 1 or trainer.max_steps")


def _check_writable(folder: Path) -> None:
    """The run folder exists and takes files, else one line (a read-only or forbidden folder)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise TrainingError(f"cannot write the run folder {folder}: {write_reason(err)}; choose a writable "
                            f"paths.output_dir=... (a resumed run: resume_in_place=false writes a new run folder)"
                            ) from None


def _restore_signal_handlers(handlers: dict) -> None:
    for sig, handler in handlers.items():
        try:
            signal.signal(sig, handler)
        except (ValueError, TypeError):  # not the main thread, or a handler set outside Python
            pass


# third-party lines a user cannot act on: Lightning's logger advertisement and bookkeeping notes, a torch
# deprecation inside Lightning, the eval-mode metric nets (LPIPS is frozen on purpose)
def _resume_folder(ckpt: Path) -> Path | None:
    """The run folder of ``<run>/checkpoints/<file>.ckpt`` (where a resumed run continues), else None."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None


def _prepare_paths(cfg: DictConfig) -> int | None:
    """Expand ``~`` and variables in the user's paths; point a resumed run at its own folder. Returns the step a
    resume starts at."""
    resume_step = None
    with open_dict(cfg):
        if cfg.get("ckpt_path"):
            cfg.ckpt_path = str(user_path(cfg.ckpt_path))
        if cfg.get("init_from"):  # a path, or a named model (default, rife425)
            try:
                cfg.init_from = str(resolve_checkpoint(cfg.init_from))
            except CheckpointError as err:
                raise TrainingError(str(err)) from None
        if cfg.get("ckpt_path"):
            ckpt = Path(cfg.ckpt_path)
            arch, resume_step = checkpoint_arch(ckpt)
            wanted = OmegaConf.to_container(cfg.model.net, resolve=True)
            if normalize_arch(arch) != normalize_arch(wanted):
                raise TrainingError(f"ckpt_path {ckpt} holds {describe_arch(arch)}, but the config builds "
                                    f"{describe_arch(wanted)} (resume with the model=... options the run was started with)")
            folder = _resume_folder(ckpt)
            if folder is not None and cfg.get("resume_in_place", True):
                cfg.paths.output_dir = str(folder)
    return resume_step


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and optionally test) the model the config describes. Returns the logged metrics as floats.

    A run stopped by Ctrl-C or SIGTERM saves ``last.ckpt``, prints the run summary with the command that resumes it,
    and raises KeyboardInterrupt (its message says where it stopped)."""
    previous = torch.get_float32_matmul_precision()  # a process-wide setting: the caller's comes back afterwards
    try:
        return _train(cfg)
    finally:
        torch.set_float32_matmul_precision(previous)


def _train(cfg: DictConfig) -> dict[str, float]:
    quiet_third_party()
    try:
        if cfg.get("seed") is not None:
            L.seed_everything(cfg.seed, workers=True, verbose=False)
        if cfg.get("float32_matmul_precision"):
            torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
        _check_accelerator(cfg)
        _check_options(cfg)
        resume_step = _prepare_paths(cfg)
        _check_writable(Path(cfg.paths.output_dir))
        datamodule, module, trainer = _build(cfg, resume_step)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_stopped_while_starting(cfg)) from None

    metrics: dict[str, float] = {}
    # Lightning restores the handlers it found when it tears down; on a stopped or failed fit it finds the
    # LastCheckpoint's and puts those back, and after a stopped validation it leaves SIGINT ignored: restore the
    # caller's own (a notebook, the API, the next trial)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    fitted = False
    try:
        if cfg.get("train", True):
            try:
                trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=False)
            except OSError as err:  # a full disk or a folder gone read-only under Lightning's or a callback's write
                if err.errno not in WRITE_ERRORS:
                    raise
                raise TrainingError(f"{write_error(err, err.filename or cfg.paths.output_dir)} at step "
                                    f"{trainer.global_step}: free some space (or fix the folder) and "
                                    f"{_how_to_go_on(trainer)}") from None
            finally:
                _restore_signal_handlers(handlers)
            fitted = True
            _validate_at_end(trainer, module, datamodule)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        if cfg.get("validate", False) and not cfg.get("train", True):
            trainer.validate(module, datamodule=datamodule)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        if cfg.get("test", False):
            best = getattr(trainer.checkpoint_callback, "best_model_path", "") if cfg.get("train", True) else ""
            if not best:
                log.info("testing the current weights (no best checkpoint)")
            trainer.test(module, datamodule=datamodule, ckpt_path=best or None, weights_only=False)
            metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
        _report_locations(cfg, trainer)
    except (KeyboardInterrupt, SystemExit) as err:  # Lightning turns a KeyboardInterrupt into sys.exit(1)
        if isinstance(err, SystemExit) and not trainer.interrupted:
            raise
        _restore_signal_handlers(handlers)
        raise KeyboardInterrupt(_stopped(cfg, trainer, fitted=fitted)) from None
    finally:
        _restore_signal_handlers(handlers)
    return metrics


def _stopped_while_starting(cfg: DictConfig) -> str:
    """What a run stopped before its trainer started says: nothing was saved (and how a resumed run goes on)."""
    ckpt = Path(str(cfg.ckpt_path)).expanduser() if cfg.get("ckpt_path") else None
    again = f"; ckpt_path={ckpt} still resumes the run" if ckpt is not None and ckpt.is_file() else ""
    return f"stopped while starting, before the first training step: nothing was saved{again}"


def _stopped(cfg: DictConfig, trainer: L.Trainer, *, fitted: bool) -> str:
    """A stopped run: its summary (with the command that resumes it) where it saved anything, and the line that
    says where it stopped and what was saved."""
    saved, step = _last_saved(trainer), trainer.global_step
    if not cfg.get("train", True):
        return "stopped while scoring: nothing was saved"
    if saved:
        _report_locations(cfg, trainer, stopped=True)
        if fitted:
            return (f"stopped at step {saved[1]}, after training, during the run's final validation or export; "
                    f"last.ckpt is saved: the command above finishes it")
        return f"stopped at step {saved[1]}; last.ckpt is saved: resume with the command above"
    if step == 0 and not fitted:
        return "stopped before the first training step: nothing was saved"
    _report_locations(cfg, trainer, stopped=True)
    if trainer.fast_dev_run:
        return f"stopped at step {step}; nothing is saved (fast_dev_run)"
    if not any(isinstance(c, LastCheckpoint) for c in trainer.callbacks):
        return f"stopped at step {step}; no last.ckpt was saved (checkpointing is off)"
    return f"stopped at step {step}; no last.ckpt was saved: nothing to resume from"


def _how_to_go_on(trainer: L.Trainer) -> str:
    """``resume with ckpt_path=<its last.ckpt>`` when the run has one, else that it starts again."""
    saved = _last_saved(trainer)
    return f"resume with ckpt_path={saved[0]}" if saved else "start the run again (no last.ckpt was saved yet)"


def _build(cfg: DictConfig, resume_step: int | None):
    """The data module, the training module, the trainer and its loggers of a run."""
    datamodule: L.LightningDataModule = instantiate(cfg.data)
    loss = OmegaConf.to_container(cfg.loss, resolve=True) if cfg.get("loss") else None
    module: L.LightningModule = instantiate(cfg.model, loss=loss)
    if cfg.get("init_from") and not cfg.get("ckpt_path"):
        init_from(module.net, module.hparams["net"], Path(cfg.init_from))
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    for lg in loggers:
        if hasattr(lg, "keep_before"):
            lg.keep_before = resume_step
    if not loggers:  # nothing to log the learning rate to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.get("train", True):  # scoring only: nothing to export
        callbacks = [c for c in callbacks if not isinstance(c, ExportBestModel)]
    trainer_cfg = cfg.trainer.copy()
    if cfg.get("val_every_n_steps"):
        with open_dict(trainer_cfg):
            trainer_cfg.val_check_interval = int(cfg.val_every_n_steps)
            trainer_cfg.check_val_every_n_epoch = None
    trainer: L.Trainer = instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False)

    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))
    return datamodule, module, trainer


def _last_saved(trainer: L.Trainer) -> tuple[Path, int | None] | None:
    """(last.ckpt, the step it holds) when the run's LastCheckpoint file exists, else None."""
    cb = next((c for c in trainer.callbacks if isinstance(c, LastCheckpoint)), None)
    if cb is None or not cb.path.is_file():
        return None
    step = cb.saved_at
    if step is None:  # saved by an earlier session of a resumed run
        step = torch.load(cb.path, map_location="cpu", weights_only=False, mmap=True).get("global_step")
    return cb.path, step


def _validate_at_end(trainer: L.Trainer, module: L.LightningModule, datamodule) -> None:
    """A run stopped by max_steps between validations is validated once more, so it exports its best model."""
    if trainer.fast_dev_run or trainer.interrupted or not trainer.limit_val_batches:
        return
    last = getattr(module, "last_validated_step", None)
    if last == trainer.global_step:
        return
    log.info("validating the final weights at step %d (%s)", trainer.global_step,
             "no validation ran yet" if last is None else f"the last validation was at step {last}")
    trainer.validate(module, datamodule=datamodule, verbose=False)


def _resume_command(ckpt: Path) -> str:
    """The command line that resumes this run from ``ckpt``: this run's options, with ``ckpt_path=`` set."""
    try:
        overrides = list(HydraConfig.get().overrides.task)
    except Exception:  # noqa: BLE001 - not under Hydra (the Python API)
        overrides = []
    keep = [o for o in overrides if not o.lstrip("+~").startswith(("ckpt_path=", "hydra.", "paths.output_dir="))]
    tool = "framegen train" if Path(sys.argv[0]).name.startswith("framegen") else "python scripts/train.py"
    return " ".join([tool, *map(shlex.quote, keep), shlex.quote(f"ckpt_path={ckpt}")])


def _logger_line(lg) -> str | None:
    if isinstance(lg, CSVLogger):
        return f"  metrics: {Path(lg.log_dir) / 'metrics.csv'}"
    if isinstance(lg, TensorBoardLogger):
        return f"  tensorboard: {lg.log_dir} (tensorboard --logdir {lg.root_dir})"
    if isinstance(lg, WandbLogger):
        return f"  wandb: {lg.save_dir}"
    where = getattr(lg, "log_dir", None) or getattr(lg, "save_dir", None)
    return f"  {type(lg).__name__.removesuffix('Logger').lower()} log: {where}" if where else None


def _report_locations(cfg: DictConfig, trainer: L.Trainer, *, stopped: bool = False) -> None:
    """The run summary: its folder, last.ckpt (with the command that resumes a stopped run), the best model, logs."""
    out = Path(cfg.paths.output_dir)
    best = out / "checkpoints" / "best_model.pth"
    lines = [f"run folder: {out}"]
    last = next((c.path for c in trainer.callbacks if isinstance(c, LastCheckpoint)), None)
    if trainer.fast_dev_run:
        lines.append("  checkpoints: none, checkpointing is off (fast_dev_run)")
    elif last is None:
        lines.append("  last.ckpt: none (callbacks.last_checkpoint is off)")
    elif last.is_file() and stopped:
        lines.append(f"  last.ckpt: {last} (step {_last_saved(trainer)[1]})")
        lines.append(f"  resume: {_resume_command(last)}")
    elif last.is_file():
        lines.append(f"  last.ckpt: {last} (to train on: ckpt_path= and a larger trainer.max_steps or max_epochs)")
    else:
        lines.append("  last.ckpt: none (no training step was saved)")
    if not trainer.fast_dev_run:
        lines.append(f"  best model: {best}" if best.is_file() else "  best model: none (no validation finished)")
    for lg in trainer.loggers:
        line = _logger_line(lg)
        if line:
            lines.append(line)
    print("\n".join(lines), flush=True)


def optimized_metric(cfg: DictConfig, metrics: dict[str, float]) -> float | None:
    """The value a sweeper optimises (``cfg.optimized_metric``), or None when not set."""
    name = cfg.get("optimized_metric")
    if not name:
        return None
    if name not in metrics:
        log.warning("optimized_metric %r was not logged (did the run stop before validating?); logged: %s",
                    name, sorted(metrics))
        return None
    return metrics[name]
