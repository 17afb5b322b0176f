"""``train(cfg)``: build data, module, callbacks, loggers and trainer from a composed Hydra config; fit; test.

Every run ends validated: when the last validation came before the final step (a short ``trainer.max_steps``), one
more runs after fitting, so ``best_model.pth`` always exists. A resumed run (``ckpt_path=<run>/checkpoints/...``)
continues in that run's folder and its ``metrics.csv``. Problems a user can fix (a diverged loss, a checkpoint of
another architecture, a GPU preset without a GPU, missing data) raise :class:`TrainingError` with one line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig, OmegaConf, open_dict

from framegen.media import user_path
from framegen.models import normalize_arch
from framegen.module import TrainingError

log = logging.getLogger(__name__)

__all__ = ["TrainingError", "optimized_metric", "train"]


def _instantiate_group(group: DictConfig | None) -> list:
    """Instantiate every entry with a ``_target_`` in a config group mapping (callbacks, loggers)."""
    if not group:
        return []
    out = []
    for name, conf in group.items():
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
        build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
        raise TrainingError(f"this trainer preset needs a CUDA GPU, but none was found (torch {torch.__version__} is "
                            f"{build}); use trainer=cpu, or install a CUDA build of torch on a machine with a GPU")


def _checkpoint_arch(path: Path) -> tuple[dict, int | None]:
    """(the net a checkpoint holds, its global step) with one-line errors."""
    from framegen.checkpoints import CheckpointError, read_checkpoint

    try:
        arch, _, info = read_checkpoint(path)
    except CheckpointError as err:
        raise TrainingError(str(err)) from None
    return arch, info.get("global_step")


def _describe(arch: dict) -> str:
    return f"a {arch.get('name')!r} net ({', '.join(f'{k}={v}' for k, v in arch.items() if k != 'name')})"


def _resume_folder(ckpt: Path) -> Path | None:
    """The run folder of ``<run>/checkpoints/<file>.ckpt`` (where a resumed run continues), else None."""
    return ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None


def _prepare_paths(cfg: DictConfig) -> int | None:
    """Expand ``~`` and variables in the user's paths; point a resumed run at its own folder. Returns the step a
    resume starts at."""
    resume_step = None
    from framegen.checkpoints import CheckpointError, resolve_checkpoint

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
            arch, resume_step = _checkpoint_arch(ckpt)
            wanted = OmegaConf.to_container(cfg.model.net, resolve=True)
            if normalize_arch(arch) != normalize_arch(wanted):
                raise TrainingError(f"ckpt_path {ckpt} holds {_describe(arch)}, but the config builds {_describe(wanted)}"
                                    f" (resume with the model=... options the run was started with)")
            folder = _resume_folder(ckpt)
            if folder is not None and cfg.get("resume_in_place", True):
                cfg.paths.output_dir = str(folder)
    return resume_step


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and optionally test) the model the config describes. Returns the logged metrics as floats."""
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    if cfg.get("float32_matmul_precision"):
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)
    _check_accelerator(cfg)
    resume_step = _prepare_paths(cfg)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    loss = OmegaConf.to_container(cfg.loss, resolve=True) if cfg.get("loss") else None
    module: L.LightningModule = instantiate(cfg.model, loss=loss)
    if cfg.get("init_from") and not cfg.get("ckpt_path"):
        _init_from(module, Path(cfg.init_from))
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    for lg in loggers:
        if hasattr(lg, "keep_before"):
            lg.keep_before = resume_step
    if not loggers:  # nothing to log the learning rate to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    if not cfg.get("train", True):  # scoring only: nothing to export
        from framegen.callbacks import ExportBestModel

        callbacks = [c for c in callbacks if not isinstance(c, ExportBestModel)]
    trainer_cfg = cfg.trainer.copy()
    if cfg.get("val_every_n_steps"):
        with open_dict(trainer_cfg):
            trainer_cfg.val_check_interval = int(cfg.val_every_n_steps)
            trainer_cfg.check_val_every_n_epoch = None
    trainer: L.Trainer = instantiate(trainer_cfg, callbacks=callbacks, logger=loggers or False)

    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        _validate_at_end(trainer, module, datamodule)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if cfg.get("validate", False) and not cfg.get("train", True):
        trainer.validate(module, datamodule=datamodule)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if cfg.get("test", False):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if cfg.get("train", True) else ""
        if not best:
            log.info("testing the current weights (no best checkpoint)")
        trainer.test(module, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    _report_locations(cfg, trainer)
    return metrics


def _init_from(module: L.LightningModule, path: Path) -> None:
    from framegen.checkpoints import CheckpointError, checked_state, load_weights, read_checkpoint

    arch, _ = _checkpoint_arch(path)
    have, want = normalize_arch(arch), normalize_arch(module.hparams["net"])
    how = ("same" if have == want else "scales" if _grows_scales(have, want) else "rife" if _rife_into_flow(have, want)
           else "flow" if _flow_into_advanced(have, want) else None)
    if how is None:
        raise TrainingError(f"init_from {path} holds {_describe(arch)}, but the config builds "
                            f"{_describe(module.hparams['net'])} (choose the matching model=...)")
    state = read_checkpoint(path)[1]
    try:
        if how == "scales":  # a flow net with more (coarser) blocks: the old blocks move to their scales
            from framegen.models.flow_net import load_with_added_scales

            added = load_with_added_scales(module.net, checked_state(state, source=path), scales=have["scales"])
            log.info("initialised the net from %s; blocks %s (scales %s) are new", path, added,
                     [want["scales"][i] for i in added])
            return
        if how == "rife":  # RIFE 4.25's weights into a flow net of RIFE blocks: the refinement net starts at zero
            from framegen.models.flow_net import load_rife_weights

            load_rife_weights(module.net, checked_state(state, source=path))
            log.info("initialised the flow net's blocks and encoder from RIFE 4.25's weights in %s", path)
            return
        if how == "flow":  # a light net's weights as the advanced net's flow part: the rest starts from its init
            load_weights(module.net.flow, state, source=path)
            log.info("initialised the advanced net's flow part from %s (the context, attention and decoder are new)",
                     path)
            return
        load_weights(module.net, state, source=path)
    except (CheckpointError, ValueError) as err:
        raise TrainingError(str(err)) from None
    log.info("initialised the net from %s", path)


def _grows_scales(have: dict, want: dict) -> bool:
    """True when ``want`` is the flow net ``have`` with extra scales (the same widths where they meet)."""
    if have["name"] != "flow" or want["name"] != "flow":
        return False
    rest = {k: v for k, v in have.items() if k != "scales"} == {k: v for k, v in want.items() if k != "scales"}
    return rest and set(have["scales"]) < set(want["scales"]) and min(have["scales"]) == min(want["scales"])


def _rife_into_flow(have: dict, want: dict) -> bool:
    """True when ``have`` is RIFE 4.25 and ``want`` a flow net of RIFE blocks with its widths, scales and layers."""
    if have["name"] != "rife425" or want["name"] != "flow" or want.get("block") != "rife":
        return False
    return all(have[k] == want.get(k) for k in ("widths", "scales", "num_layers", "feature_channels"))


def _flow_into_advanced(have: dict, want: dict) -> bool:
    """True when ``have`` is the flow net that ``want``, an advanced net, estimates its flows with."""
    if have["name"] != "flow" or want["name"] != "advanced":
        return False
    from framegen.models.advanced_net import DEFAULT_FLOW

    return normalize_arch({"name": "flow", **(want.get("flow") or DEFAULT_FLOW)}) == have


def _validate_at_end(trainer: L.Trainer, module: L.LightningModule, datamodule) -> None:
    """A run stopped by max_steps between validations is validated once more, so it exports its best model."""
    if trainer.fast_dev_run or trainer.interrupted or not trainer.limit_val_batches:
        return
    last = getattr(module, "last_validated_step", None)
    if last == trainer.global_step:
        return
    log.info("validating the final weights (step %d; the last validation was at %s)", trainer.global_step, last)
    trainer.validate(module, datamodule=datamodule, verbose=False)


def _report_locations(cfg: DictConfig, trainer: L.Trainer) -> None:
    out = Path(cfg.paths.output_dir)
    ckpts = out / "checkpoints"
    best = ckpts / "best_model.pth"
    lines = [f"run folder: {out}", f"  checkpoints: {ckpts} (last.ckpt resumes with ckpt_path=)"]
    lines.append(f"  best model: {best}" if best.is_file() else "  best model: none (no validation finished)")
    for lg in trainer.loggers:
        lines.append(f"  {type(lg).__name__}: {getattr(lg, 'log_dir', None) or getattr(lg, 'save_dir', '')}")
    print("\n".join(lines))


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
