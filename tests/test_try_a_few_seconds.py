"""Issue #24 item 7, try a few seconds first: ``start=`` and ``duration=`` make the video tool interpolate exactly
that span of a long clip (frames = the span's frames x factor, the audio cut to the span), and ``mode=demo`` makes
GIFs whose gain can be seen (every frame kept, played at a rate GIF viewers honour) and an MP4 at the real rate."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import ROOT
from PIL import Image

from framegen.inference.files import Job, interpolate_file
from framegen.inference.modes import run_demo_mode
from framegen.inference.schedule import parse_time


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def clip_with_audio(path: Path, seconds: float = 4.0) -> Path:
    """A 25 fps clip (a frame counter moves across it) with a 440 Hz tone."""
    ffmpeg("-f", "lavfi", "-i", f"testsrc=size=64x48:rate=25:duration={seconds}", "-f", "lavfi", "-i",
           f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-c:v", "libx264", "-pix_fmt", "yuv420p",
           "-g", "25", "-c:a", "aac", "-shortest", str(path))
    return path


def streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        video = [f for f in c.decode(video=0)]
        c.seek(0)
        audio = sum(f.samples for f in c.decode(audio=0)) / 48000 if c.streams.audio else None
        return {"frames": len(video), "fps": c.streams.video[0].average_rate, "audio_s": audio,
                "first": video[0].to_ndarray(format="rgb24")}


def frame_at(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i == index:
                return f.to_ndarray(format="rgb24")
    raise IndexError(index)


@pytest.mark.parametrize("text, seconds", [("5", 5), (2.5, 2.5), ("1:30", 90), ("01:02:03.5", 3723.5), ("0", 0)])
def test_parse_time(text, seconds):
    assert float(parse_time(text, option="start")) == seconds


@pytest.mark.parametrize("bad", ["abc", "-1", "1:75", "nan", True])
def test_parse_time_refuses_nonsense(bad):
    with pytest.raises(ValueError, match="start="):
        parse_time(bad, option="start")


def test_start_and_duration_give_exactly_that_span(tmp_path, interp):
    src = clip_with_audio(tmp_path / "long.mp4", 4.0)
    out = tmp_path / "try.mp4"
    result = interpolate_file(src, out, interp, Job(factor=2, progress=False, start=1.2, duration=2))
    got = streams(out)
    # 2 s at 25 fps = 50 input frames -> 100 frames at 50 fps; the tone cut to the same 2 s
    assert got["frames"] == 100 and got["fps"] == 50 and result["frames_in"] == 50
    assert got["audio_s"] == pytest.approx(2.0, abs=0.05)
    # the output starts with the input's frame at 1.2 s (frame 30), not at 0 s
    first = got["first"].astype(float)
    assert np.abs(first - frame_at(src, 30)).mean() < np.abs(first - frame_at(src, 0)).mean() / 3
    # the span past the end is cut at the end: 4 s - 3 s = 1 s -> 25 frames -> 75 at 3x
    tail = interpolate_file(src, tmp_path / "tail.mp4", interp, Job(factor=3, progress=False, start="0:03",
                                                                        duration=10))
    assert streams(tmp_path / "tail.mp4")["frames"] == 75 and tail["frames_in"] == 25


def test_a_span_of_numbered_images(tmp_path, interp):
    from fake_videos import pan_frames

    from framegen.media import write_image

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(pan_frames(20, (32, 64))):
        write_image(folder / f"{i:04d}.png", f)
    interpolate_file(folder, tmp_path / "span.mp4", interp, Job(factor=2, input_fps=10, progress=False, start=0.5,
                                                                   duration=1))
    assert streams(tmp_path / "span.mp4")["frames"] == 20
    # a span between two images holds none of them: one clear error, nothing written
    from framegen.inference.video_io import VideoError

    with pytest.raises(VideoError, match="no image of frames is shown in start=0.41 duration=0.001"):
        interpolate_file(folder, tmp_path / "none.mp4", interp, Job(factor=2, input_fps=10, progress=False,
                                                                       start=0.41, duration=0.001))
    assert not (tmp_path / "none.mp4").exists()


def test_start_after_the_end_is_one_line(tmp_path):
    src = clip_with_audio(tmp_path / "short.mp4", 1.0)
    proc = subprocess.run(["python", str(ROOT / "scripts" / "interpolate.py"), f"input={src}", "start=5",
                           f"hydra.run.dir={tmp_path / 'h'}"], capture_output=True, text=True, timeout=120,
                          check=False)
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "start=5" in errors[0] and "1.00 s" in errors[0], proc.stderr
    assert not (tmp_path / "short_2x.mp4").exists()
    proc = subprocess.run(["python", str(ROOT / "scripts" / "interpolate.py"), f"input={src}", "duration=0",
                           f"hydra.run.dir={tmp_path / 'h'}"], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2 and "error: duration=0" in proc.stderr and "Traceback" not in proc.stderr


def test_demo_shows_every_frame_at_a_rate_gifs_play_and_an_mp4_beside_it(tmp_path, interp):
    src = clip_with_audio(tmp_path / "long.mp4", 3.0)
    out = run_demo_mode(src, tmp_path / "demo", interp, demo_frames=6, factor=4, start=1.0)
    dense = Image.open(out["interpolated"])
    durations = []
    for i in range(dense.n_frames):
        dense.seek(i)
        durations.append(dense.info["duration"])
    # 6 frames -> 5 gaps x 4 + 1 = 21 frames, none thinned out, each shown 40 ms (25 fps, in slow motion)
    assert dense.n_frames == 21 and set(durations) == {40}
    assert Image.open(out["original"]).n_frames == 6
    mp4 = streams(Path(out["comparison_mp4"]))
    assert mp4["frames"] == 21 and mp4["fps"] == 100  # the real rate: 25 fps x 4
    # the demo's segment starts at start=1.0 (frame 25)
    first = np.asarray(Image.open(out["original"]).convert("RGB")).astype(float)
    src0, src25 = frame_at(src, 0), frame_at(src, 25)
    assert np.abs(first - src25).mean() < np.abs(first - src0).mean()
