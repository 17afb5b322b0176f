"""Rows of docs/reliability.md about the video tool's outputs and its resume (issue #20): nothing of the user's is
replaced (test/demo modes, files that appear during a run, colliding batch names), one job per output, and a resumed
output is never corrupt or mixed (checked segments, a content fingerprint). Each test names its row."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import one_error_line
from fake_videos import pan_frames, write_video
from test_reliability import tree

from framegen.inference.files import Job, interpolate_file
from framegen.inference.interpolator import Interpolator
from framegen.inference.video_io import VideoError


def clip(path: Path, n: int = 6, size=(48, 64), **kw) -> Path:
    return write_video(path, pan_frames(n, size, **kw), codec="libx264")


def decode(path: Path) -> list[tuple]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(f.pts * s.time_base, f.to_ndarray(format="rgb24")) for f in c.decode(s)]


def same_frames(a: Path, b: Path) -> bool:
    fa, fb = decode(a), decode(b)
    return len(fa) == len(fb) and all(ta == tb and np.array_equal(x, y) for (ta, x), (tb, y) in zip(fa, fb))


def close_frames(a: Path, b: Path, *, min_psnr: float = 30.0) -> bool:
    """Same frame count and timestamps, and every frame within ``min_psnr`` dB of the other's: what a damaged segment
    breaks (whole blocks of garbage) and what two encodes of the same frames keep. Two runs of one job in one pytest
    process have been seen to differ in their first segment by a few grey levels (max 34 at 48x64, once, in the full
    suite only; not reproduced alone): a determinism question left open, not a damaged segment."""
    fa, fb = decode(a), decode(b)
    if len(fa) != len(fb) or any(ta != tb for (ta, _), (tb, _) in zip(fa, fb)):
        return False
    for (_, x), (_, y) in zip(fa, fb):
        mse = float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2))
        if mse > 0 and 10 * np.log10(255.0**2 / mse) < min_psnr:
            return False
    return True


def frame_differences(a: Path, b: Path) -> str:
    """What differs between two videos' frames (for an assertion's message)."""
    fa, fb = decode(a), decode(b)
    if len(fa) != len(fb):
        return f"{len(fa)} frames against {len(fb)}"
    rows = [f"frame {i}: time {ta} / {tb}, max |diff| {np.abs(x.astype(int) - y.astype(int)).max()}"
            for i, ((ta, x), (tb, y)) in enumerate(zip(fa, fb)) if ta != tb or not np.array_equal(x, y)]
    return "; ".join(rows) or "none"


# 10 frames at 25 fps, doubled: 20 output frames in 4 segments of 5
SEGMENTED = Job(progress=False, segment_seconds=0.1)


def interrupted_at_the_join(monkeypatch, src: Path, out: Path, interp, job: Job = SEGMENTED) -> Path:
    """Run a job that is stopped after its last segment was closed (as a kill during the join would leave it):
    every segment waits in the work folder. Returns the work folder."""
    from framegen.inference import sinks

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(sinks, "join_segments", killed)
        with pytest.raises(KeyboardInterrupt):
            interpolate_file(src, out, interp, job)
    assert not out.exists()
    return out.with_name(f".{out.name}.framegen")


def someone_writes_during_the_run(monkeypatch, action):
    """Another program acts (``action()``) while the job runs: at its first inference batch."""
    real, done = Interpolator.__call__, []

    def call(self, *args):
        if not done:
            done.append(1)
            action()
        return real(self, *args)

    monkeypatch.setattr(Interpolator, "__call__", call)


# ------------------------------------------------------------------------------------------------ 1. test/demo modes
@pytest.mark.parametrize("mode,names", [
    ("test", ["original_video.mp4", "enhanced_video.mp4", "frame_comparison/pair_0000.png"]),
    ("demo", ["original.gif"]),
])
def test_row_test_and_demo_modes_never_replace_the_users_files(tmp_path, tool, ckpt, mode, names):
    src = clip(tmp_path / "short.mp4", n=5)
    mine = tmp_path / "d"
    for name in names:
        (mine / name).parent.mkdir(parents=True, exist_ok=True)
        (mine / name).write_text("mine")
    before = tree(mine)
    args = [f"ckpt={ckpt}", f"input={src}", f"mode={mode}", "progress=false", "test.comparison_frames=2",
            "demo.demo_frames=3"]
    code, _, err = tool("interpolate", *args, f"output={mine}")
    assert code == 2 and f"output exists: {mine / names[0]}" in one_error_line(err)
    code, _, err = tool("interpolate", *args, f"output={mine}", "overwrite=true")
    assert code == 2 and "framegen did not write it" in one_error_line(err)
    assert tree(mine) == before
    # framegen's own outputs: refused without overwrite, replaced with it
    new = tmp_path / "new"
    code, _, err = tool("interpolate", *args, f"output={new}")
    assert code == 0, err
    first = tree(new)
    assert all(name in first for name in names)
    code, _, err = tool("interpolate", *args, f"output={new}")
    assert code == 2 and "output exists" in one_error_line(err) and tree(new) == first
    code, _, err = tool("interpolate", *args, f"output={new}", "overwrite=true", "factor=3",
                        "demo.interpolation_factor=2")
    assert code == 0, err
    again = tree(new)
    assert again.keys() == first.keys() and again != first


# ------------------------------------------------------------------------------------------------ 2. commit
@pytest.mark.parametrize("name,kept", [("out.mp4", "out.framegen-1.mp4"), ("out.gif", "out.framegen-1.gif"),
                                       ("frames", "frames.framegen-1")])
def test_row_a_file_that_appears_at_the_output_during_the_run_is_never_replaced(tmp_path, interp, monkeypatch,
                                                                                  name, kept):
    src = clip(tmp_path / "in" / "clip.mp4", n=8)
    dst = tmp_path / name

    def appear():
        if name == "frames":
            dst.mkdir()
            (dst / "mine.txt").write_text("mine")
        else:
            dst.write_text("mine")

    someone_writes_during_the_run(monkeypatch, appear)
    with pytest.raises(VideoError, match="appeared during the run and was not replaced") as err:
        interpolate_file(src, dst, interp, Job(progress=False))
    assert str(tmp_path / kept) in str(err.value)
    if name == "frames":
        assert tree(dst) == {"mine.txt": b"mine"} and len(list((tmp_path / kept).glob("*.png"))) == 16
    else:
        assert dst.read_text() == "mine"
    if name == "out.mp4":
        assert len(decode(tmp_path / kept)) == 16
    assert not (tmp_path / f".{name}.framegen").exists()


def test_row_overwrite_replaces_only_the_file_it_checked(tmp_path, tool, ckpt, monkeypatch):
    src = clip(tmp_path / "clip.mp4", n=8)
    dst = tmp_path / "out.mp4"
    dst.write_text("an old output")

    def swap():  # the user puts another file there while the job runs
        (tmp_path / "new.tmp").write_text("the user's new file")
        os.replace(tmp_path / "new.tmp", dst)

    someone_writes_during_the_run(monkeypatch, swap)
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={dst}", "overwrite=true",
                        "progress=false")
    line = one_error_line(err)
    assert code == 2 and "changed during the run and was not replaced" in line and "out.framegen-1.mp4" in line
    assert dst.read_text() == "the user's new file" and len(decode(tmp_path / "out.framegen-1.mp4")) == 16
    monkeypatch.undo()
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={dst}", "overwrite=true",
                        "progress=false")
    assert code == 0 and len(decode(dst)) == 16  # the file it checked is replaced


# ------------------------------------------------------------------------------------------------ 3. batch names
def test_row_folder_batch_with_clip_avi_and_clip_avi_mp4_gives_both_an_output(tmp_path, tool, ckpt):
    folder, out = tmp_path / "in", tmp_path / "out"
    write_video(folder / "clip.avi", pan_frames(4))
    clip(folder / "clip.avi.mp4", n=5, seed=3)
    args = [f"ckpt={ckpt}", f"input={folder}", f"output={out}", "progress=false"]
    code, stdout, err = tool("interpolate", *args)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir() if p.name[0] != ".") == ["clip.avi-2.mp4", "clip.avi.mp4"]
    assert len(decode(out / "clip.avi.mp4")) == 10 and len(decode(out / "clip.avi-2.mp4")) == 8
    code, stdout, _ = tool("interpolate", *args)
    assert code == 0 and "0 done, 2 skipped" in stdout
    code, stdout, _ = tool("interpolate", *args, "overwrite=true")
    assert code == 0 and "2 done, 0 skipped" in stdout
    assert sorted(p.name for p in out.iterdir() if p.name[0] != ".") == ["clip.avi-2.mp4", "clip.avi.mp4"]


def test_row_an_input_added_under_a_name_an_output_took_is_not_skipped_silently(tmp_path, tool, ckpt):
    """clip.avi's output is clip.avi-2.mp4; an input clip.avi-2.mp4 added later must not be 'skipped (already
    there)' on the strength of clip.avi's output: it fails with a line saying whose output that is."""
    folder, out = tmp_path / "in", tmp_path / "out"
    write_video(folder / "clip.avi", pan_frames(4))
    clip(folder / "clip.avi.mp4", n=5, seed=3)
    args = [f"ckpt={ckpt}", f"input={folder}", f"output={out}", "progress=false"]
    assert tool("interpolate", *args)[0] == 0
    clip(folder / "clip.avi-2.mp4", n=6, seed=5)
    before = (out / "clip.avi-2.mp4").read_bytes()
    code, stdout, err = tool("interpolate", *args)
    assert code != 0 and "holds the output of clip.avi from an earlier run" in stdout + err
    assert (out / "clip.avi-2.mp4").read_bytes() == before  # nothing replaced without overwrite
    code, stdout, err = tool("interpolate", *args, "overwrite=true")
    assert code == 0, err
    assert len(decode(out / "clip.avi-2.mp4")) == 12  # now the added input's own output


# ------------------------------------------------------------------------------------------------ 4. one job per output
def test_row_a_second_job_on_the_same_output_is_refused_naming_the_first(tmp_path, tool, ckpt, interp, monkeypatch):
    src = clip(tmp_path / "clip.mp4", n=10)
    out = tmp_path / "out.mp4"
    started, release, first = threading.Event(), threading.Event(), {}
    real = Interpolator.__call__

    def held(self, *args):
        if threading.current_thread().name == "first-job":
            started.set()
            release.wait(60)
        return real(self, *args)

    monkeypatch.setattr(Interpolator, "__call__", held)

    def first_job():
        try:
            first["result"] = interpolate_file(src, out, interp, SEGMENTED)
        except BaseException as err:  # noqa: BLE001 - checked below
            first["error"] = err

    thread = threading.Thread(target=first_job, name="first-job")
    thread.start()
    try:
        assert started.wait(60)
        code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={out}", "factor=4",
                            "progress=false")
    finally:
        release.set()
        thread.join(120)
    line = one_error_line(err)
    assert code == 2 and "is being written by another framegen job" in line and f"pid {os.getpid()}" in line
    assert "error" not in first, first.get("error")
    assert first["result"]["frames_out"] == 20 and len(decode(out)) == 20


def test_row_a_stale_lock_of_a_killed_job_is_taken_over(tmp_path, interp, monkeypatch, caplog):
    from framegen.inference.outputs import OutputLock

    src = clip(tmp_path / "clip.mp4", n=10)
    out = tmp_path / "out.mp4"
    work = interrupted_at_the_join(monkeypatch, src, out, interp)
    # a job killed with -9 leaves its lock behind: a process that takes the lock and dies holding it
    pid = os.fork()
    if pid == 0:
        try:
            OutputLock.acquire(out, job="killed")
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    holder = json.loads((work / "lock.json").read_text())
    assert holder["pid"] != os.getpid()
    with caplog.at_level("INFO"):
        s = interpolate_file(src, out, interp, SEGMENTED)
    assert f"pid {holder['pid']}" in caplog.text and "no longer running" in caplog.text
    assert s["resumed_at"] == 20 and len(decode(out)) == 20 and not work.exists()


# ------------------------------------------------------------------------------------------------ 5. checked segments
def test_row_damaged_resume_segments_are_redone_and_good_ones_kept(tmp_path, interp, monkeypatch, caplog):
    src = clip(tmp_path / "clip.mp4", n=10)
    whole = tmp_path / "whole.mp4"
    interpolate_file(src, whole, interp, SEGMENTED)
    out = tmp_path / "out.mp4"
    work = interrupted_at_the_join(monkeypatch, src, out, interp)
    segments = sorted(work.glob("segment_*.mp4"))
    assert [p.name for p in segments] == [f"segment_{k:05d}.mp4" for k in range(4)]
    data = bytearray(segments[1].read_bytes())  # bytes overwritten in the middle, same size
    mid = len(data) // 2
    data[mid - 100: mid + 100] = bytes(200)
    segments[1].write_bytes(bytes(data))
    segments[2].write_bytes(segments[2].read_bytes()[:-100])  # truncated
    with caplog.at_level("WARNING"):
        s = interpolate_file(src, out, interp, SEGMENTED)
    assert "segment_00001.mp4" in caplog.text and "segment_00002.mp4" in caplog.text and "damaged" in caplog.text
    assert s["resumed_at"] == 10  # segments 0 and 3 kept
    assert close_frames(out, whole), frame_differences(out, whole)


# ------------------------------------------------------------------------------------------------ 6. fingerprint
def _pad_to_the_same_size(a: Path, b: Path) -> None:
    """Append an mp4 'free' box to each so both files have one size (players skip it)."""
    size = max(a.stat().st_size, b.stat().st_size) + 16
    for p in (a, b):
        pad = size - p.stat().st_size
        with open(p, "ab") as f:
            f.write(pad.to_bytes(4, "big") + b"free" + bytes(pad - 8))


def test_row_an_input_replaced_by_one_of_the_same_size_and_time_is_not_resumed(tmp_path, interp, monkeypatch):
    src = clip(tmp_path / "clip.mp4", n=6)
    other = clip(tmp_path / "other.mp4", n=6, photo="coffee")
    _pad_to_the_same_size(src, other)
    st = src.stat()
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    whole = tmp_path / "whole.mp4"
    interpolate_file(shutil.copy2(other, tmp_path / "copy.mp4"), whole, interp, SEGMENTED)
    out = tmp_path / "out.mp4"
    interrupted_at_the_join(monkeypatch, src, out, interp)
    os.replace(other, src)  # same name, size and modification time; other content
    assert (src.stat().st_size, src.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)
    s = interpolate_file(src, out, interp, SEGMENTED)
    # not resumed, and every frame is the new clip's: a mix would put the old photo's frames in (far below 30 dB).
    # Exact equality is not asked here: two uninterrupted runs in one long pytest process have been seen to differ
    # by a few grey levels (close_frames' note; a determinism question left open)
    assert s["resumed_at"] == 0 and close_frames(out, whole), frame_differences(out, whole)


# ------------------------------------------------------------------------------------------------ 14. stale partials
def test_row_stale_partial_cleanup_matches_names_literally(tmp_path, interp):
    src = clip(tmp_path / "in" / "clip.mp4")
    own = tmp_path / ".g[1].partial-999999999.mp4"  # left by a killed run of g[1].mp4 (no such process now)
    others = [tmp_path / ".g1.partial-999999999.mp4", tmp_path / ".g[1].partial-999999999.mkv"]
    for p in [own, *others]:
        p.write_bytes(b"half a video")
    interpolate_file(src, tmp_path / "g[1].mp4", interp, Job(progress=False))
    assert not own.exists() and all(p.read_bytes() == b"half a video" for p in others)
