"""The rows of docs/reliability.md: bad inputs and faults give one `error:` line and a non-zero exit, and nothing is
lost (inputs and unrelated files untouched, outputs only when complete). Each test names its row."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT, TINY_ARCH, compose_train, one_error_line
from fake_videos import pan_frames, write_frames, write_video

from framegen.checkpoints import export_net
from framegen.inference.files import Job, interpolate_file
from framegen.inference.interpolator import Interpolator
from framegen.inference.sample import make_sample_clip
from framegen.models import build_net


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def clip(path: Path, n: int = 6, size=(48, 64)) -> Path:
    return write_video(path, pan_frames(n, size), codec="libx264")


# ------------------------------------------------------------------------------------------------ video tool
def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=48000, layout="stereo")
        frame = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
        frame.sample_rate = 48000
        for p in a.encode(frame):
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("case,expected", [("missing", "input not found"), ("empty", "input is an empty file"),
                                           ("random", "as a video"), ("audio", "no video stream")])
def test_row_unreadable_inputs(tmp_path, tool, ckpt, case, expected):
    src = tmp_path / ("in.m4a" if case == "audio" else "in.mp4")
    if case == "empty":
        src.write_bytes(b"")
    elif case == "random":
        src.write_bytes(os.urandom(2000))
    elif case == "audio":
        _audio_only(src)
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}")
    assert code == 2 and expected in one_error_line(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"hydra", src.name} - ({src.name} if case == "missing" else set()))


def test_row_output_folder_holding_the_input_is_refused(tmp_path, tool, ckpt):
    v = tmp_path / "v"
    src = clip(v / "clip.mp4")
    (v / "notes.txt").write_text("x")
    (v / "sub").mkdir()
    before = tree(v)
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={v}", "overwrite=true")
    assert code == 2 and "holds the input" in one_error_line(err)
    assert tree(v) == before and (v / "sub").is_dir()


def test_row_overwrite_replaces_only_framegens_own_frames(tmp_path, interp):
    src = clip(tmp_path / "clip.mp4")
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    from framegen.inference.video_io import VideoError

    with pytest.raises(VideoError, match="not framegen's frames"):
        interpolate_file(src, other, interp, Job(progress=False, overwrite=True))
    assert tree(other) == {"keep.txt": b"mine"}
    frames = tmp_path / "frames"
    frames.mkdir()  # an empty folder made for the output is fine
    interpolate_file(src, frames, interp, Job(progress=False))
    first = tree(frames)
    interpolate_file(src, frames, interp, Job(progress=False, overwrite=True, factor=4))
    assert len(list(frames.glob("*.png"))) == 24 and tree(frames) != first


def test_row_full_disk_while_writing_frames(tmp_path, interp, monkeypatch):
    src = clip(tmp_path / "clip.mp4", n=10)
    real = cv2.imwrite
    calls = {"n": 0}

    def full(path, img, *a):
        calls["n"] += 1
        return False if calls["n"] > 5 else real(path, img, *a)

    monkeypatch.setattr(cv2, "imwrite", full)
    from framegen.inference.video_io import VideoError

    with pytest.raises(VideoError, match="cannot write frame 00000005.png"):
        interpolate_file(src, tmp_path / "out", interp, Job(progress=False))
    assert not (tmp_path / "out").exists() and calls["n"] == 6  # it stopped at the first failed write


@pytest.fixture
def small_disk(tmp_path):
    """A 300 kB tmpfs where mounting is allowed (root on Linux), else None (the test fakes the full disk)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mnt)], capture_output=True).returncode == 0
    yield mnt if ok else None
    if ok:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_row_full_disk_while_writing_a_video(tmp_path, interp, small_disk, monkeypatch):
    src = make_sample_clip(tmp_path / "clip.mp4", seconds=4.0, size=(96, 128))
    from framegen.inference import encoding
    from framegen.inference.video_io import VideoError

    if small_disk is None:  # no mounting here: a writer whose disk fills after 20 frames
        real, count = encoding.SegmentEncoder.write, {"n": 0}

        def full(self, rgb):
            count["n"] += 1
            if count["n"] > 20:
                raise encoding.write_error(self.path, OSError(errno.ENOSPC, "No space left on device"))
            real(self, rgb)

        monkeypatch.setattr(encoding.SegmentEncoder, "write", full)
        out = tmp_path / "out.mp4"
    else:
        noise = np.random.default_rng(0).integers(0, 255, (96, 128, 3), np.uint8)
        src = write_video(tmp_path / "noise.mp4", [np.roll(noise, i, 1) for i in range(100)], codec="libx264")
        out = small_disk / "out.mp4"
    with pytest.raises(VideoError, match="no space left on the device"):
        interpolate_file(src, out, interp, Job(progress=False, segment_seconds=1.0))
    assert not out.exists()


def test_row_truncated_faststart_file_is_an_error_not_a_short_output(tmp_path, tool, ckpt):
    whole = make_sample_clip(tmp_path / "whole.mp4", seconds=2.0, size=(72, 128))
    fast = tmp_path / "fast.mp4"
    with av.open(str(whole)) as src, av.open(str(fast), "w", options={"movflags": "+faststart"}) as dst:
        streams = {s.index: dst.add_stream_from_template(s) for s in src.streams}
        for packet in src.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                dst.mux(packet)
    data = fast.read_bytes()
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(data[: len(data) // 2])
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={trunc}")
    line = one_error_line(err)
    assert code == 2 and "trunc.mp4" in line and "truncated or corrupt" in line
    assert not (tmp_path / "trunc_2x.mp4").exists()


def test_row_folder_batch_reports_failures_and_exits_nonzero(tmp_path, tool, ckpt):
    folder = tmp_path / "in"
    clip(folder / "a.mp4")
    (folder / "b.mp4").write_bytes(os.urandom(500))
    code, out, err = tool("interpolate", f"ckpt={ckpt}", f"input={folder}", f"output={tmp_path / 'out'}")
    assert code == 1 and "1 file(s) failed" in one_error_line(err)
    assert "failed: " + str(folder / "b.mp4") in out and (tmp_path / "out" / "a.mp4").is_file()


def test_row_non_integer_factor_is_exact(tmp_path, interp):
    src = write_video(tmp_path / "a.mp4", pan_frames(8), fps=24, codec="libx264")
    s = interpolate_file(src, tmp_path / "b.mp4", interp, Job(progress=False, factor=1.5))
    assert s["fps_out"] == 36.0 and s["frames_out"] == 12


@pytest.mark.parametrize("args,expected", [
    (["fps=60000/0"], "fps=60000/0 is not a frame rate"),
    (["fps=abc"], "fps=abc is not a frame rate"),
    (["factor=zero"], "factor=zero is not a number"),
    (["factr=2"], "unknown option factr, did you mean factor?"),
    (["+factr=2"], "unknown option factr, did you mean factor?"),
])
def test_row_bad_options_name_the_option(tmp_path, tool, ckpt, args, expected):
    src = clip(tmp_path / "a.mp4")
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", *args)
    assert code == 2 and expected in one_error_line(err)


def test_row_unwritable_outputs(tmp_path, tool, ckpt):
    src = clip(tmp_path / "a.mp4")
    (tmp_path / "afile").write_text("x")
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'afile' / 'out.mp4'}")
    assert code == 2 and "is a file, not a folder" in one_error_line(err)
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", "output=/proc/framegen_out.mp4")
    assert code == 2 and "/proc/framegen_out.mp4" in one_error_line(err)
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={ro / 'out.mp4'}")
        assert code == 2 and "permission" in one_error_line(err)


def test_row_grey_video_gives_no_alpha_warning_and_rgba_images_do(tmp_path, interp, caplog):
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in pan_frames(4)]
    src = write_frames(tmp_path / "grey.mkv", grey, codec="ffv1", pix_fmt="gray", fmt="gray")
    with caplog.at_level("WARNING"):
        interpolate_file(src, tmp_path / "g.mp4", interp, Job(progress=False))
    assert "alpha" not in caplog.text
    folder = tmp_path / "rgba"
    folder.mkdir()
    for i, f in enumerate(pan_frames(3)):
        cv2.imwrite(str(folder / f"{i:03d}.png"), np.dstack([f[..., ::-1], np.full(f.shape[:2], 9, np.uint8)]))
    with caplog.at_level("WARNING"):
        interpolate_file(folder, tmp_path / "r.mp4", interp, Job(progress=False))
    assert "000.png has an alpha channel; it is dropped" in caplog.text


def test_row_nan_weights_are_never_loaded_or_written(tmp_path, interp):
    net = build_net(**TINY_ARCH)
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    bad = export_net(tmp_path / "nan.pth", net, TINY_ARCH)
    from framegen.checkpoints import CheckpointError, load_net

    with pytest.raises(CheckpointError, match="non-finite weights"):
        load_net(bad)
    from framegen.inference.pipeline import NonFiniteOutput

    broken = Interpolator(net, device="cpu")  # handed over directly, bypassing the loader
    with pytest.raises(NonFiniteOutput):
        interpolate_file(clip(tmp_path / "a.mp4"), tmp_path / "b.mp4", broken, Job(progress=False))
    assert not (tmp_path / "b.mp4").exists()


def test_row_evaluate_unknown_benchmark(tmp_path, tool):
    code, _, err = tool("evaluate", "benchmark=foo", "method=average", "lpips=false")
    assert code == 2 and "unknown benchmark 'foo'" in one_error_line(err)


# ------------------------------------------------------------------------------------------------ training
SMALL = ["data.source.size=32", "data.source.train_samples=8", "data.source.val_samples=2", "data.batch_size=2",
         "data.val_batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1", "callbacks.progress_bar=null"]


def test_row_diverged_training_stops_with_one_line_and_exports_nothing(tmp_path, tool):
    code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=6", "model.optimizer.lr=1000",
                        f"paths.output_dir={tmp_path / 'run'}", *SMALL)
    assert code == 1 and "diverged" in one_error_line(err)
    assert not (tmp_path / "run" / "checkpoints" / "best_model.pth").exists()


def test_row_other_architecture_for_resume_and_init_from(tmp_path, tool):
    adv = {"name": "advanced", "hidden_dim": 8, "num_layers": 1}
    other = export_net(tmp_path / "adv.pth", build_net(**adv), adv)
    for key in ("ckpt_path", "init_from"):
        code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=1", f"{key}={other}", *SMALL)
        line = one_error_line(err)
        assert code == 1 and "holds a 'advanced' net" in line and "builds a 'flow' net" in line


def test_row_missing_dataset_folder(tmp_path, tool):
    code, _, err = tool("train", "data=ucf101", "data.root=/nonexistent/UCF-101", f"data.cache_dir={tmp_path / 'c'}",
                        "trainer=cpu", "trainer.max_steps=1")
    assert code == 1 and "UCF-101 folder not found: /nonexistent/UCF-101" in one_error_line(err)


def test_row_gpu_preset_without_a_gpu(tmp_path, tool):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    code, _, err = tool("train", "trainer=rtx5070", "trainer.max_steps=1", *SMALL)
    line = one_error_line(err)
    assert code == 1 and "needs a CUDA GPU" in line and "trainer=cpu" in line


def test_row_best_model_is_an_ordinary_file_and_last_ckpt_is_fresh(tmp_path):
    from framegen.train import train

    cfg = compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=5",
                         "callbacks.last_checkpoint.every_n_train_steps=2", *SMALL], tmp_path)
    train(cfg)
    best = tmp_path / "checkpoints" / "best_model.pth"
    assert best.is_file() and (best.stat().st_mode & 0o777) == (0o666 & ~_umask())
    # max_steps=5 ends between the every-2-steps saves: last.ckpt still holds the final step
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 5


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_row_scripts_print_one_line_for_a_bad_checkpoint(tmp_path):
    (tmp_path / "junk.pth").write_bytes(os.urandom(64))
    env = {**os.environ, "FRAMEGEN_ROOT": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "interpolate.py"), f"ckpt={tmp_path / 'junk.pth'}"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and one_error_line(proc.stderr).startswith("error: cannot read checkpoint")
    assert not (tmp_path / "logs").exists() or not list((tmp_path / "logs").rglob("*.log"))


def test_row_an_interrupted_frame_folder_job_resumes_to_the_same_frames(tmp_path, interp, monkeypatch):
    from framegen.inference.sinks import FrameFolderSink

    monkeypatch.setattr(FrameFolderSink, "group_frames", 8)
    src = clip(tmp_path / "clip.mp4", n=20)
    whole = tmp_path / "whole"
    interpolate_file(src, whole, interp, Job(progress=False))
    real, calls = Interpolator.__call__, {"n": 0}

    def stop_on_the_fourth_batch(self, *args):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(self, *args)

    monkeypatch.setattr(Interpolator, "__call__", stop_on_the_fourth_batch)
    out = tmp_path / "frames"
    with pytest.raises(KeyboardInterrupt):
        interpolate_file(src, out, interp, Job(progress=False))
    assert not out.exists() and len(list((tmp_path / ".frames.framegen" / "frames").glob("*.png"))) >= 8
    monkeypatch.setattr(Interpolator, "__call__", real)
    s = interpolate_file(src, out, interp, Job(progress=False))
    assert s["resumed_at"] >= 8 and s["resumed_at"] % 8 == 0
    assert tree(out) == tree(whole) and not (tmp_path / ".frames.framegen").exists()
