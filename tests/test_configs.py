"""Every option of every config group composes and instantiates."""

import pytest
import yaml
from conftest import CONF, compose_train
from hydra.utils import instantiate
from omegaconf import OmegaConf

from framegen.train import _instantiate_group

GROUPS = ["model", "data", "loss", "trainer", "logger", "callbacks", "paths", "debug", "experiment", "hparams_search"]
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF / g).glob("*.yaml")) if not p.stem.startswith("_")]
# GPU presets are instantiated with the accelerator switched to the CPU this machine has
CPU_OVERRIDES = ["trainer.accelerator=cpu", "trainer.devices=1"]


def test_every_group_has_options():
    assert {g for g, _ in OPTIONS} == set(GROUPS)


@pytest.mark.parametrize("group,option", OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_option_composes_and_instantiates(group, option, tmp_path):
    overrides = [f"{group}={option}"]
    if group in ("trainer", "experiment") or option in ("rtx5070",):
        overrides += CPU_OVERRIDES
    if group == "trainer" and option == "ddp":
        overrides += ["trainer.strategy=ddp"]
    cfg = compose_train(overrides, tmp_path)
    OmegaConf.resolve(cfg)
    datamodule = instantiate(cfg.data)
    module = instantiate(cfg.model, loss=OmegaConf.to_container(cfg.loss))
    callbacks = _instantiate_group(cfg.get("callbacks"))
    loggers = _instantiate_group(cfg.get("logger"))
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    assert datamodule.batch_size >= 1
    assert module.net is not None and trainer is not None
    if option == "rtx5070":
        assert cfg.trainer.precision == "bf16-mixed" and cfg.model.compile is True
    if group == "hparams_search":
        assert cfg.optimized_metric == "val/psnr"
    if group == "experiment":  # each recipe composes as itself (flat files: test_experiments_are_flat)
        assert cfg.task_name == option


EXPERIMENTS = sorted((CONF / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_experiments_are_flat(path):
    """Issue #21: one self-contained file per recipe. Its defaults only override config groups
    (`override /data: corpus`), never name another experiment file; history: docs/model_card.md."""
    text = path.read_text()
    assert text.startswith("# @package _global_")
    entries = (yaml.safe_load(text) or {}).get("defaults", [])
    for entry in entries:
        if entry == "_self_":
            continue
        where = f"{path.name}: defaults entry {entry!r}"
        assert isinstance(entry, dict) and len(entry) == 1, f"{where} is not `override /<group>: <option>`"
        ((key, option),) = entry.items()
        assert key.startswith("override /"), f"{where} inherits another config instead of overriding a group"
        group = key.removeprefix("override /")
        assert group != "experiment", f"{where} inherits another experiment"
        assert (CONF / group / f"{option}.yaml").is_file(), f"{where}: no conf/{group}/{option}.yaml"


def test_wandb_runs_offline_without_an_api_key(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc
    cfg = compose_train(["logger=wandb"], tmp_path)
    (logger,) = _instantiate_group(cfg.logger)
    assert logger._offline is True


def test_rtx5070_preset_fits_the_card():
    cfg = compose_train(["model=advanced", "trainer=rtx5070"], CONF.parent / "logs")
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert cfg.data.batch_size * cfg.trainer.accumulate_grad_batches == 32
    assert cfg.float32_matmul_precision == "high"


@pytest.mark.slow
def test_rtx5070_preset_trains_two_steps_on_the_cpu(tmp_path):
    """The headline preset exercised without a GPU: bf16 autocast, torch.compile, gradient accumulation, workers."""
    from framegen.train import train

    cfg = compose_train(["trainer=rtx5070", "trainer.accelerator=cpu", "trainer.max_steps=2", "logger=csv",
                         "+trainer.num_sanity_val_steps=0", "+trainer.limit_val_batches=1", "data.source.size=32",
                         "data.source.train_samples=8", "data.source.val_samples=2", "data.batch_size=2",
                         "data.val_batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1",
                         "callbacks.progress_bar=null"], tmp_path)
    assert cfg.trainer.precision == "bf16-mixed" and cfg.model.compile and cfg.trainer.accumulate_grad_batches == 2
    assert cfg.data.num_workers == "auto" and cfg.data.persistent_workers
    metrics = train(cfg)
    assert metrics["val/psnr"] > 0 and (tmp_path / "checkpoints" / "best_model.pth").is_file()
    import torch

    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 2
    # the preset's float32_matmul_precision=high is process-wide: train() gives the caller's back (left at "high",
    # later fp32 convolutions of the same process may compute in reduced precision)
    assert torch.get_float32_matmul_precision() == "highest"
