"""``train(cfg)``: build data, module, callbacks, loggers and trainer from a composed Hydra config; fit; test."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


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


def train(cfg: DictConfig) -> dict[str, float]:
    """Train (and optionally test) the model the config describes. Returns the logged metrics as floats."""
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    if cfg.get("float32_matmul_precision"):
        torch.set_float32_matmul_precision(cfg.float32_matmul_precision)

    datamodule: L.LightningDataModule = instantiate(cfg.data)
    loss = OmegaConf.to_container(cfg.loss, resolve=True) if cfg.get("loss") else None
    module: L.LightningModule = instantiate(cfg.model, loss=loss)
    if cfg.get("init_from") and not cfg.get("ckpt_path"):
        from framegen.checkpoints import read_checkpoint

        arch, state, _ = read_checkpoint(cfg.init_from)
        if arch != module.hparams["net"]:
            raise ValueError(f"init_from {cfg.init_from} holds {arch}, but the config builds {module.hparams['net']}")
        module.net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        log.info("initialised the net from %s", cfg.init_from)
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    if not loggers:  # nothing to log the learning rate to
        callbacks = [c for c in callbacks if not isinstance(c, LearningRateMonitor)]
    trainer: L.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)

    for lg in loggers:
        lg.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    metrics: dict[str, float] = {}
    if cfg.get("train", True):
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    if cfg.get("test", False):
        best = getattr(trainer.checkpoint_callback, "best_model_path", "") if cfg.get("train", True) else ""
        if not best:
            log.info("testing the current weights (no best checkpoint)")
        trainer.test(module, datamodule=datamodule, ckpt_path=best or None)
        metrics.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    return metrics


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
