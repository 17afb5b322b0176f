"""Issue #20, inputs, metadata and options: the rows of docs/reliability.md's "Inputs, metadata and options" section.
Sane output rates, rotation and chapters carried over (one warning per thing that is not), stream-copied trims,
backwards timestamps, bad checkpoint paths, nonsensical options, data-loader workers, out of memory and an early
Ctrl-C: each gives a correct output or one `error:` line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from conftest import ROOT, one_error_line
from fake_videos import pan_frames, write_video

from framegen.inference.files import Job, interpolate_file
from framegen.inference.interpolator import Interpolator


def clip(path: Path, n: int = 6, size=(48, 64)) -> Path:
    return write_video(path, pan_frames(n, size), codec="libx264")


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args],
                   check=True, capture_output=True, timeout=60)


def lavfi(path: Path, seconds: float, *extra: str, src: str = "testsrc") -> Path:
    ffmpeg("-f", "lavfi", "-i", f"{src}=size=64x48:rate=25", "-t", str(seconds), "-c:v", "libx264",
           "-pix_fmt", "yuv420p", *extra, str(path))
    return path


def decoded(path: Path) -> list:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]


# ------------------------------------------------------------------------------------------------ item 7: rates
@pytest.mark.parametrize("arg", ["fps=0.001", "fps=1e9", "factor=0.001", "factor=1e9", "factor=100"])
def test_row_output_rates_outside_the_sane_range_are_refused(tmp_path, tool, ckpt, arg):
    src = clip(tmp_path / "a.mp4")
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}", arg)
    line = one_error_line(err)
    option = arg.split("=")[0]
    assert code == 2 and f"{option}=" in line and "1-1000 fps" in line and "allow_any_rate=true" in line, line
    assert not (tmp_path / "b.mp4").exists()


def test_row_an_unusual_rate_runs_when_asked_for(tmp_path, tool, ckpt):
    src = clip(tmp_path / "a.mp4", n=12)  # 0.48 s at 25 fps
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}",
                        "fps=0.5", "allow_any_rate=true", "progress=false")
    assert code == 0, err
    assert len(decoded(tmp_path / "b.mp4")) == 1  # 0.48 s at 0.5 fps: one frame


# --------------------------------------------------------------------------------------- item 8: metadata
def _rotated(path: Path, degrees: int, n: int = 6) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(degrees)
        for f in pan_frames(n):
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_row_rotation_is_kept(tmp_path, interp, suffix, caplog):
    src = _rotated(tmp_path / f"portrait{suffix}", 90)
    assert decoded(src)[0].rotation == 90
    with caplog.at_level("WARNING"):
        interpolate_file(src, tmp_path / f"out{suffix}", interp, Job(progress=False))
    frames = decoded(tmp_path / f"out{suffix}")
    assert len(frames) == 12 and frames[0].rotation == 90
    assert not [w for w in warnings_of(caplog) if "rotat" in w]


def test_row_rotation_dropped_for_frames_and_animations_is_warned(tmp_path, interp, caplog):
    src = _rotated(tmp_path / "portrait.mp4", 270)
    with caplog.at_level("WARNING"):
        interpolate_file(src, tmp_path / "frames", interp, Job(progress=False))
    assert sum("rotation" in w for w in warnings_of(caplog)) == 1


def test_row_chapters_are_kept(tmp_path, interp, caplog):
    src = lavfi(tmp_path / "plain.mp4", 2)
    meta = tmp_path / "chapters.txt"
    meta.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=one\n"
                    "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=two\n")
    src = tmp_path / "chap.mp4"
    ffmpeg("-i", str(tmp_path / "plain.mp4"), "-i", str(meta), "-map_metadata", "1", "-map_chapters", "1",
           "-c", "copy", str(src))
    with caplog.at_level("WARNING"):
        interpolate_file(src, tmp_path / "out.mp4", interp, Job(progress=False))
    assert not warnings_of(caplog)  # the chapters' text track is not "a data stream not carried over"
    with av.open(str(tmp_path / "out.mp4")) as c:
        chapters = c.chapters()
    assert [ch["metadata"].get("title") for ch in chapters] == ["one", "two"]
    assert [round(float(ch["start"] * ch["time_base"]), 2) for ch in chapters] == [0.0, 1.0]


def test_row_what_is_not_carried_over_is_warned_once_each(tmp_path, interp, caplog):
    base = lavfi(tmp_path / "base.mp4", 0.4)
    second = lavfi(tmp_path / "second.mp4", 0.4, src="testsrc2")
    cover = tmp_path / "cover.png"
    ffmpeg("-f", "lavfi", "-i", "color=red:size=32x32", "-frames:v", "1", str(cover))
    two = tmp_path / "two_video.mkv"
    ffmpeg("-i", str(base), "-i", str(second), "-map", "0:v", "-map", "1:v", "-c", "copy", str(two))
    tc = tmp_path / "timecode.mov"
    ffmpeg("-i", str(base), "-c", "copy", "-timecode", "01:00:00:00", str(tc))
    art = tmp_path / "cover_art.mp4"
    ffmpeg("-i", str(base), "-i", str(cover), "-map", "0", "-map", "1", "-c", "copy", "-disposition:v:1",
           "attached_pic", str(art))
    inter = tmp_path / "interlaced.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=25", "-t", "0.4", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-flags", "+ildct+ilme", "-x264opts", "tff=1", str(inter))
    for src, expected in ((two, "second video stream"), (tc, "timecode"), (art, "cover art"), (inter, "interlaced")):
        caplog.clear()
        with caplog.at_level("WARNING"):
            interpolate_file(src, tmp_path / f"{src.stem}_out.mp4", interp, Job(progress=False))
        hits = [w for w in warnings_of(caplog) if expected in w]
        assert len(hits) == 1 and src.name in hits[0], (src.name, warnings_of(caplog))
    caplog.clear()
    with caplog.at_level("WARNING"):
        interpolate_file(base, tmp_path / "base_out.mp4", interp, Job(progress=False))
    assert warnings_of(caplog) == []


# ------------------------------------------------------------------------------------ item 10: edit lists
def test_row_a_stream_copied_trim_is_not_corrupt(tmp_path, tool, ckpt):
    long = lavfi(tmp_path / "long.mp4", 2, "-g", "25")  # key frames at 0 and 1 s: the trim starts mid-GOP
    trim = tmp_path / "trim.mp4"
    ffmpeg("-ss", "0.5", "-i", str(long), "-c", "copy", str(trim))
    shown = len(decoded(trim))
    with av.open(str(trim)) as c:
        assert c.streams.video[0].frames > shown  # the edit list hides the frames before 0.5 s
    code, out, err = tool("interpolate", f"ckpt={ckpt}", f"input={trim}", f"output={tmp_path / 'out.mp4'}",
                          "progress=false")
    assert code == 0, err
    assert f"{shown} frames in" in out and len(decoded(tmp_path / "out.mp4")) == 2 * shown


# ------------------------------------------------------------------------------------ item 12: wrong errors
def test_row_backwards_timestamps_are_named(tmp_path, tool, ckpt):
    a, b = lavfi(tmp_path / "a.ts", 1), lavfi(tmp_path / "b.ts", 0.4, src="testsrc2")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() + b.read_bytes())  # `cat a.ts b.ts`: the clock restarts mid-file
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={joined}", f"output={tmp_path / 'out.mp4'}")
    line = one_error_line(err)
    assert code == 2 and "timestamps go backwards" in line and "truncated" not in line, line
    assert not (tmp_path / "out.mp4").exists()


@pytest.mark.parametrize("case,expected", [
    ("folder", "is a folder, not a checkpoint file"),
    ("run_folder", "is a folder, not a checkpoint file (its checkpoint: "),
    ("empty", "is an empty file, not a checkpoint"),
    ("text", "is not a checkpoint (a text file"),
    ("random", "is not a checkpoint"),
    ("truncated", "is truncated or damaged"),
    ("cut_at_5000_bytes", "is truncated or damaged"),
    ("missing_without_suffix", "checkpoint not found"),
])
def test_row_a_checkpoint_that_is_not_one_gives_one_line(tmp_path, tool, ckpt, case, expected):
    src = clip(tmp_path / "a.mp4")
    bad = tmp_path / "bad.pth"
    if case == "folder":
        bad.mkdir()
    elif case == "run_folder":
        bad.mkdir()
        (bad / "checkpoints").mkdir()
        (bad / "checkpoints" / "best_model.pth").write_bytes(ckpt.read_bytes())
    elif case == "empty":
        bad.write_bytes(b"")
    elif case == "text":
        bad.write_text("epoch: 3\nloss: 0.1\n")
    elif case == "random":
        bad.write_bytes(bytes(range(256)) * 8)
    elif case == "cut_at_5000_bytes":  # torch's reader fails with OSError on this cut, not with its archive error
        bad.write_bytes(ckpt.read_bytes()[:5000])
    elif case == "missing_without_suffix":  # a path, not a catalogue name: not "unknown interpolator"
        bad = tmp_path / "runs" / "nothing_here"
    else:
        data = ckpt.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    code, _, err = tool("interpolate", f"ckpt={bad}", f"input={src}", f"output={tmp_path / 'b.mp4'}")
    line = one_error_line(err)
    assert code == 2 and expected in line and "EOFError" not in line and "KeyError" not in line, line
    assert not (tmp_path / "b.mp4").exists()


@pytest.mark.parametrize("arg,option", [
    ("segment_seconds=nan", "segment_seconds"), ("segment_seconds=0", "segment_seconds"),
    ("segment_seconds=-3", "segment_seconds"), ("scale=nan", "scale"), ("scale=abc", "scale"),
    ("tile=-5", "tile"), ("tile=abc", "tile"), ("tile_overlap=-1", "tile_overlap"), ("batch_size=0", "batch_size"),
    ("batch_size=2.5", "batch_size"), ("encode.crf=99", "encode.crf"), ("scenes.cut_threshold=nan", "scenes.cut_threshold"),
    ("overwrite=maybe", "overwrite"), ("input_fps=inf", "input_fps"), ("test.comparison_frames=-1", "test.comparison_frames"),
    ("static_threshold=2", "static_threshold"), ("static_threshold=0", "static_threshold"), ("runtime=tensorrt", "runtime"),
    ("factor=inf", "factor"), ("factor=-inf", "factor"), ("factor=1e400", "factor"), ("fps=1e400", "fps"),
])
def test_row_nonsensical_options_give_one_line(tmp_path, tool, ckpt, arg, option):
    src = clip(tmp_path / "a.mp4")
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}", arg)
    line = one_error_line(err)
    assert code == 2 and line.startswith(f"error: {option}="), line
    assert not (tmp_path / "b.mp4").exists()


SMALL = ["data.source.size=32", "data.source.train_samples=8", "data.source.val_samples=2", "data.batch_size=2",
         "data.val_batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1", "callbacks.progress_bar=null",
         "logger=csv"]


def test_row_a_data_loader_worker_error_is_one_line(tmp_path, tool, monkeypatch):
    from framegen.data.synthetic import SyntheticMotion

    def broken(self, index):
        raise ValueError(f"sample {index}: cannot decode the frame")

    monkeypatch.setattr(SyntheticMotion, "__getitem__", broken)  # the forked worker inherits it
    code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=1", "data.num_workers=1",
                        f"paths.output_dir={tmp_path / 'run'}", *SMALL)
    line = one_error_line(err)
    assert code == 1 and "data-loading worker" in line and "cannot decode the frame" in line, line


def test_row_a_trainer_option_lightning_refuses_is_one_line(tmp_path, tool):
    code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=1", "trainer.precision=fp33",
                        f"paths.output_dir={tmp_path / 'run'}", *SMALL)
    line = one_error_line(err)
    assert code == 1 and "Precision 'fp33' is invalid" in line, line


def test_row_a_dead_data_loader_worker_is_one_line():
    from framegen.commands import worker_error

    err = RuntimeError("DataLoader worker (pid(s) 4242) exited unexpectedly")
    assert "num_workers=0" in worker_error(err) and "4242" in worker_error(err)
    wrapped = ValueError("Caught ValueError in DataLoader worker process 0.\nOriginal Traceback (most recent call "
                         "last):\n  File \"x.py\", line 1, in f\nValueError: bad frame\n")
    assert worker_error(wrapped) == "a data-loading worker failed: ValueError: bad frame (data.num_workers=0 " \
                                   "shows where)"
    assert worker_error(ValueError("something else")) is None


# ---------------------------------------------------------------------------- item 13: memory and Ctrl-C
@pytest.mark.parametrize("err", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 12.00 GiB (GPU 0; 8.00 GiB total capacity)"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: you tried to "
                 "allocate 21233664000 bytes."),
    MemoryError(),
])
def test_row_out_of_memory_on_huge_frames_suggests_tile_and_scale(tmp_path, tool, ckpt, monkeypatch, err):
    # a 7680x4320 pair cannot be allocated in a test: the net raises what torch raises then
    def oom(self, *args):
        raise err

    monkeypatch.setattr(Interpolator, "__call__", oom)
    src = clip(tmp_path / "a.mp4")
    code, _, stderr = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}")
    line = one_error_line(stderr)
    assert code == 2 and "out of memory" in line and "tile=" in line and "scale=" in line, line
    assert not (tmp_path / "b.mp4").exists()


class _InterruptImport:
    """A meta-path finder that raises KeyboardInterrupt when ``name`` is imported (Ctrl-C during the imports)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name:
            raise KeyboardInterrupt


@pytest.mark.parametrize("tool_name,module", [("interpolate", "framegen.inference.video_tool"),
                                              ("train", "framegen.train"), ("evaluate", "framegen.evaluation.evaluate")])
def test_row_ctrl_c_during_the_imports_gives_no_traceback(tmp_path, tool, monkeypatch, tool_name, module):
    monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_InterruptImport(module), *sys.meta_path])
    code, _, err = tool(tool_name)
    assert code == 130 and "Traceback" not in err and err.strip().startswith("interrupted"), err


def test_row_ctrl_c_in_the_first_second_of_the_script(tmp_path):
    src = clip(tmp_path / "a.mp4", n=50)
    env = {**os.environ, "FRAMEGEN_ROOT": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache"),
           "OMP_NUM_THREADS": "1"}
    # the script as scripts/interpolate.py runs it, with a marker once `import framegen.commands` is done: the
    # signal then lands while Hydra and torch are imported (not during the interpreter's own start, which no
    # Python code can catch); a fixed sleep was flaky on a loaded machine
    marker = tmp_path / "imported"
    code = (f"import sys, pathlib; from framegen.commands import run_tool; pathlib.Path({str(marker)!r}).touch(); "
            f"sys.argv = ['interpolate.py', 'input={src}', 'output={tmp_path / 'b.mp4'}', 'progress=false']; "
            f"run_tool('interpolate')")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted" in err, err
    assert not (tmp_path / "b.mp4").exists()


def test_row_an_interpolated_rotated_clip_keeps_its_pixels(tmp_path, interp):
    # the frames are processed as stored (not turned), so the output's pixels equal the input's where copied
    src = _rotated(tmp_path / "portrait.mp4", 90, n=4)
    interpolate_file(src, tmp_path / "out.mp4", interp, Job(progress=False))
    a, b = decoded(src)[0].to_ndarray(format="rgb24"), decoded(tmp_path / "out.mp4")[0].to_ndarray(format="rgb24")
    assert a.shape == b.shape and np.abs(a.astype(int) - b.astype(int)).mean() < 4
