"""``framegen app`` (issue #26): the page's work without a browser (options, zips, output names, progress, cancel,
previews, compare), and its ``/interpolate`` API through gradio_client: a 30-frame clip with audio comes back at
factor 2 with 60 frames and its audio; a bad input is one clear message and leaves no file. The page itself is
driven in a real browser by tests/test_app_browser.py."""

from __future__ import annotations

import socket
import threading
import time
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import one_error_line
from fake_videos import pan_frames

from framegen.app import AppError, check_app_options
from framegen.app.preview import (
    compare_frame,
    compare_state,
    inbetweens,
    make_preview,
    position,
    timing_table,
    viewer_frame,
)
from framegen.app.work import (
    Cancelled,
    Choices,
    Engine,
    FrameProgress,
    Jobs,
    TimedInterpolator,
    check_choices,
    output_path,
    prepare_input,
    progress_hook,
    progress_text,
    time_left,
    tool_config,
    unpack_frames,
    user_message,
)
from framegen.errors import FramegenError
from framegen.inference.sample import make_sample_clip
from framegen.inference.video_io import VideoError
from framegen.media import MediaError, read_image, write_image


def clip30(path: Path) -> Path:
    """30 frames (24 fps, 64x48) with a stereo tone: the library's own sample clip."""
    return make_sample_clip(path, seconds=1.25, fps=24, size=(48, 64))


def streams(path: Path) -> dict:
    """Frames and audio seconds of a video."""
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
        audio = None
        if c.streams.audio:
            c.seek(0)
            a = c.streams.audio[0]
            audio = sum(f.samples for f in c.decode(audio=0)) / a.rate
        return {"frames": frames, "audio_s": audio, "fps": c.streams.video[0].average_rate}


def everything(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too)."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def frames_zip(path: Path, n: int = 6, *, folder: str = "shots/") -> Path:
    """A zip of ``n`` numbered PNGs in a sub-folder, plus what a zip of frames also holds (a note, macOS's
    metadata) and a name that tries to leave the folder it is unpacked into."""
    tmp = path.parent / "pngs"
    tmp.mkdir()
    with zipfile.ZipFile(path, "w") as z:
        for i, frame in enumerate(pan_frames(n)):
            png = write_image(tmp / f"{i:03d}.png", frame)
            z.write(png, f"{folder}{i:03d}.png")
        z.writestr("readme.txt", "frames of a pan")
        z.writestr("__MACOSX/shots/._000.png", b"junk")
    return path


@pytest.fixture
def engine(tmp_path):
    return Engine(tmp_path / "results", tmp_path / "work", tool={"device": "cpu", "precision": "fp32"})


# ------------------------------------------------------------------------------------------------ choices
def test_choices_read_as_the_command_line_reads_them():
    c = Choices(factor=2.0, fps="  ", input_fps=30.0, method=None).normalized()
    assert (c.factor, c.fps, c.input_fps, c.method) == (2, None, 30, "default")
    assert Choices(fps=" 60000/1001 ").normalized().fps == "60000/1001"


def test_tool_config_is_the_video_tools_own(tmp_path):
    cfg = tool_config(Choices(method="average", factor=4), src=tmp_path / "a.mp4",
                      tool={"batch_size": 2, "overwrite": True, "input": "elsewhere"})
    assert (cfg.factor, cfg.method, cfg.batch_size) == (4, "average", 2)
    assert cfg.scenes.detect_cuts is True and cfg.encode.crf == 17  # conf/interpolate.yaml's defaults
    assert cfg.overwrite is False and cfg.resume is False and cfg.input == str(tmp_path / "a.mp4")


@pytest.mark.parametrize("choices, message", [
    (Choices(factor=0), "factor=0"),
    (Choices(factor="abc"), "is not a number"),
    (Choices(fps="abc"), "is not a frame rate"),
    (Choices(fps="0.001"), "refused"),
    (Choices(factor=100), "refused"),
    (Choices(output_format="avi"), "output format 'avi'"),
])
def test_bad_choices_are_refused_as_the_command_line_refuses_them(tmp_path, choices, message):
    c = choices.normalized()
    cfg = tool_config(c, src=tmp_path / "a.mp4")
    cfg.output_format = c.output_format
    with pytest.raises(ValueError, match=message):
        check_choices(cfg, tmp_path / "a.mp4", "video")


# ------------------------------------------------------------------------------------------------ inputs, outputs
def test_a_zip_of_frames_is_unpacked_flat_in_name_order(tmp_path):
    archive = frames_zip(tmp_path / "pan.zip", 4)
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("../../escape.png", (tmp_path / "pngs" / "000.png").read_bytes())
    folder = unpack_frames(archive, tmp_path / "scratch" / "pan")
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"{k:08d}.png" for k in range(4)]  # the note, macOS's metadata and "../../escape.png" left
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "scratch" / "escape.png").exists()


@pytest.mark.parametrize("content, message", [(b"not a zip", "cannot read"), (None, "at least 2")])
def test_a_bad_zip_is_one_message_and_leaves_nothing(tmp_path, content, message):
    archive = tmp_path / "frames.zip"
    if content is None:
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("only.png", b"x")
    else:
        archive.write_bytes(content)
    with pytest.raises(MediaError, match=message):
        prepare_input(archive, tmp_path / "scratch")
    assert everything(tmp_path / "scratch") == []


def test_no_upload_is_one_message(tmp_path):
    with pytest.raises(ValueError, match="no video"):
        prepare_input(None, tmp_path)


def test_output_names_follow_the_tool_and_never_take_a_name(tmp_path):
    src = tmp_path / "clip.mov"
    cfg = tool_config(Choices(factor=1.5).normalized(), src=src)
    assert output_path(src, cfg, "video", tmp_path, "mp4").name == "clip_1.5x.mp4"
    (tmp_path / "clip_1.5x.mp4").write_bytes(b"mine")
    (tmp_path / ".clip_1.5x-2.mp4.framegen").mkdir()  # another job's work folder
    assert output_path(src, cfg, "video", tmp_path, "mp4").name == "clip_1.5x-3.mp4"
    cfg = tool_config(Choices(fps="60", slowmo=False).normalized(), src=tmp_path / "pan")
    assert output_path(tmp_path / "pan", cfg, "frames", tmp_path, "gif").name == "pan_60fps.gif"


# ------------------------------------------------------------------------------------------------ progress, cancel
def test_progress_reports_frames_and_time_left():
    now, seen = [0.0], []
    bar = FrameProgress(lambda *a: seen.append(a), threading.Event(), total=10, every=0.0, clock=lambda: now[0])
    for _ in range(4):
        now[0] += 0.5
        bar.update(1)
    assert seen[0] == (0, 10, None) and seen[-1] == (4, 10, pytest.approx(3.0))
    assert progress_text(4, 10, 3.0) == "interpolating: 4 / 10 frames, about 3 s left"
    assert progress_text(4, None, None) == "interpolating: 4 frames"
    assert progress_text(1, 100, 600.0, what="a: dis") == "a: dis: 1 / 100 frames, about 10 min left"
    assert time_left(0, 10, 1.0) is None and time_left(5, None, 1.0) is None


def test_progress_stops_the_job_once_cancelled():
    cancelled = threading.Event()
    bar = progress_hook(lambda *a: None, cancelled)(total=5, initial=0)
    bar.update(1)
    cancelled.set()
    with pytest.raises(Cancelled, match="nothing was written"):
        bar.update(1)


def test_each_session_cancels_only_its_own_job():
    jobs = Jobs()
    assert jobs.cancel("a") is False
    with jobs.running("a") as a, jobs.running("b") as b:
        assert jobs.cancel("a") is True
        assert a.is_set() and not b.is_set()
    assert jobs.cancel("a") is False


def test_messages_are_one_line_without_traceback():
    assert user_message(VideoError("cannot read x.mp4\nmore")) == "error: cannot read x.mp4"
    assert user_message(Cancelled("cancelled: nothing was written")) == "cancelled: nothing was written"
    assert user_message(KeyError("boom")).startswith("error: unexpected KeyError")
    assert isinstance(Cancelled("x"), FramegenError)


# ------------------------------------------------------------------------------------------------ the engine
def test_a_video_is_interpolated_with_its_audio_and_a_file_there_is_kept(tmp_path, engine):
    src = clip30(tmp_path / "clip.mp4")
    engine.output_dir.mkdir()
    (engine.output_dir / "clip_2x.mp4").write_bytes(b"the user's own")
    done = engine.interpolate(src, Choices(method="average"))
    out = Path(done.summary["output"])
    assert out.name == "clip_2x-2.mp4" and (engine.output_dir / "clip_2x.mp4").read_bytes() == b"the user's own"
    s = streams(out)
    assert s["frames"] == 60 and s["fps"] == 48 and s["audio_s"] == pytest.approx(1.25, abs=0.03)


def test_a_zip_of_frames_is_interpolated_at_its_frame_rate(tmp_path, engine):
    done = engine.interpolate(frames_zip(tmp_path / "pan.zip", 6), Choices(method="average", input_fps=10,
                                                                             output_format="gif"))
    assert Path(done.summary["output"]).name == "pan_2x.gif"
    assert done.summary["frames_out"] == 12 and done.summary["fps_out"] == 20


def test_bad_input_leaves_no_file(tmp_path, engine):
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError, match="bad.mp4"):
        engine.interpolate(bad, Choices(method="average"))
    with pytest.raises(ValueError, match="factor=0"):
        engine.interpolate(clip30(tmp_path / "clip.mp4"), Choices(method="average", factor=0))
    assert everything(engine.output_dir) == [] and everything(engine.work_dir) == []


def test_a_cancelled_job_leaves_no_file(tmp_path, engine):
    src = clip30(tmp_path / "clip.mp4")
    cancelled = threading.Event()

    def report(done, total, left):
        if done >= 10:
            cancelled.set()

    with pytest.raises(Cancelled):
        engine.interpolate(src, Choices(method="average"), progress=progress_hook(report, cancelled, every=0.0))
    assert everything(engine.output_dir) == [] and everything(engine.work_dir) == []
    assert threading.active_count() < 10  # the pipeline's threads ended with the job


# ------------------------------------------------------------------------------------------------ what the page shows
@pytest.mark.parametrize("fps_in, fps_timeline, index, expected", [
    (25, 50, 1, (0, 1, Fraction(1, 2))),
    (25, 50, 2, (1, 1, Fraction(0))),
    (24, 60, 3, (1, 2, Fraction(1, 5))),
    (25, 100, 7, (1, 2, Fraction(3, 4))),
])
def test_each_output_frame_lies_between_two_input_frames(fps_in, fps_timeline, index, expected):
    p = position(index, fps_in, fps_timeline)
    assert (p.before, p.after, p.t) == expected


def test_the_last_frames_never_point_past_the_input():
    assert position(9, 25, 50, n_inputs=5).after == 4
    assert [p.index for p in inbetweens(6, 25, 50, 3)] == [1, 3]


def test_preview_clips_and_frame_viewer(tmp_path, engine):
    src = clip30(tmp_path / "clip.mp4")
    done = engine.interpolate(src, Choices(method="average"))
    view = make_preview(done.src, done.kind, done.summary, done.scratch / "preview", seconds=0.5)
    assert len(view["inputs"]) == 12 and len(view["outputs"]) == 24
    assert streams(Path(view["before"]))["frames"] == 12 and streams(Path(view["after"]))["frames"] == 24
    before, frame, after, caption = viewer_frame(view, 3)
    assert (Path(before).name, Path(frame).name, Path(after).name) == ("in_00001.png", "out_00003.png",
                                                                       "in_00002.png")
    assert caption == "output frame 3: made between input frames 1 and 2 at t = 0.5"
    assert viewer_frame(view, 4)[3] == "output frame 4: input frame 2 as it is"
    assert viewer_frame(None, 0) == (None, None, None, "")


@pytest.mark.parametrize("choices, positions", [
    (Choices(method="average", fps="60000/1001"), ["0", "1001/2500", "1001/1250", "3003/2500"]),  # exact, not 0.4
    (Choices(method="average", factor=4, slowmo=True), ["0", "1/4", "1/2", "3/4"]),
])
def test_the_viewer_places_frames_by_their_times(tmp_path, engine, choices, positions):
    done = engine.interpolate(clip30(tmp_path / "clip.mp4"), choices)
    view = make_preview(done.src, done.kind, done.summary, done.scratch / "preview", seconds=0.25)
    assert view["positions"][:4] == positions


def test_the_viewer_places_a_gifs_frames_by_their_times(tmp_path, engine):
    """A GIF keeps 30 of 60 fps (whole centiseconds) and merges repeated frames: each frame is placed by its time,
    on the grid the frames were made on."""
    done = engine.interpolate(clip30(tmp_path / "clip.mp4"), Choices(method="average", fps="60",
                                                                      output_format="gif"))
    view = make_preview(done.src, done.kind, done.summary, done.scratch / "preview", seconds=0.5)
    positions = [Fraction(p) for p in view["positions"]]
    assert len(positions) > 5 and positions == sorted(set(positions))
    assert all((p / Fraction(2, 5)).denominator == 1 for p in positions)  # made frames are 24/60 inputs apart
    assert sum(p.denominator == 1 for p in positions) < len(positions)  # and some lie between two inputs


def test_compare_two_methods_side_by_side_with_time_per_frame(tmp_path, engine):
    src = clip30(tmp_path / "clip.mp4")
    result = engine.compare(src, ("average", "repeat"), Choices(duration=0.5))
    state = compare_state(result)
    assert state["methods"] == ["average", "repeat"] and all(ms > 0 for ms in state["ms"])
    assert len(state["items"]) == 11  # 12 input frames: 11 gaps at factor 2
    _, a, b, _, caption = compare_frame(state, 0)
    assert (Path(a).parent.name, Path(b).parent.name) == ("a_average", "b_repeat")
    assert any(not np.array_equal(read_image(x), read_image(y)) for x, y in zip(state["a"], state["b"], strict=True))
    assert "between input frames 0 and 1" in caption and "| average |" in timing_table(state)


# ------------------------------------------------------------------------------------------------ the command
@pytest.mark.parametrize("args, message", [
    (["port=0"], "port=0"), (["host="], "host="), (["share=maybe"], "share=maybe"),
    (["batch_size=0"], "batch_size=0"), (["prot=1"], "did you mean port"),
])
def test_bad_app_options_are_one_line(tool, args, message):
    code, _, err = tool("app", *args)
    assert code == 2 and message in one_error_line(err)


def test_a_port_in_use_is_one_line(tool):
    pytest.importorskip("gradio", reason="the app needs its extra: pip install -e '.[app]'")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        code, _, err = tool("app", f"port={s.getsockname()[1]}")
    assert code == 2 and "cannot serve on 127.0.0.1" in one_error_line(err)


def test_app_options_are_checked(tmp_path):
    from omegaconf import OmegaConf

    (tmp_path / "file").write_text("x")
    cfg = OmegaConf.create({"port": 7860, "host": "127.0.0.1", "share": False, "open_browser": False,
                            "preview_seconds": 2, "compare_seconds": 2, "output_dir": str(tmp_path / "file")})
    with pytest.raises(AppError, match="is a file"):
        check_app_options(cfg)


# ------------------------------------------------------------------------------------------------ the API
class SlowRepeat(Engine):
    """An engine whose ``repeat`` takes a quarter second per batch (a job long enough to cancel), and which counts
    the jobs inside a net at once (``most``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lock, self.inside, self.most = threading.Lock(), 0, 0

    def interpolator(self, cfg):
        inner = super().interpolator(cfg)
        if cfg.method != "repeat":
            return inner
        engine = self

        class Slow(TimedInterpolator):
            def __call__(self, *args):
                with engine.lock:
                    engine.inside += 1
                    engine.most = max(engine.most, engine.inside)
                try:
                    time.sleep(0.25)
                    return super().__call__(*args)
                finally:
                    with engine.lock:
                        engine.inside -= 1

        return Slow(inner)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The page served in this process on a free port: (its URL, its engine)."""
    pytest.importorskip("gradio", reason="the app needs its extra: pip install -e '.[app]'")
    from framegen.app.page import build_page

    root = tmp_path_factory.mktemp("app")
    engine = SlowRepeat(root / "results", root / "work", tool={"device": "cpu", "batch_size": 1})
    page = build_page(engine, preview_seconds=0.5)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                allowed_paths=[str(root)])
    yield page.local_url, engine
    page.close()


def test_api_interpolates_30_frames_with_audio_to_60(served, tmp_path):
    from gradio_client import Client, handle_file

    url, engine = served
    src = clip30(tmp_path / "clip.mp4")
    result, summary = Client(url, verbose=False).predict(handle_file(str(src)), 2, api_name="/interpolate")
    s = streams(Path(result))
    assert s["frames"] == 60 and s["audio_s"] == pytest.approx(1.25, abs=0.03)
    assert "30 frames in" in summary and "60 frames out" in summary
    assert (engine.output_dir / "clip_2x.mp4").is_file()


def test_api_bad_input_is_one_message_and_leaves_no_file(served, tmp_path):
    from gradio_client import Client, handle_file

    url, engine = served
    before = everything(engine.output_dir)
    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    with pytest.raises(Exception) as info:
        Client(url, verbose=False).predict(handle_file(str(bad)), 2, api_name="/interpolate")
    message = str(info.value)
    assert message.startswith("error: cannot read broken.mp4") and "\n" not in message
    assert "Traceback" not in message and "/gradio/" not in message
    assert everything(engine.output_dir) == before


def test_api_cancel_stops_the_job_and_leaves_no_file(served, tmp_path):
    from gradio_client import Client, handle_file

    url, engine = served
    before = everything(engine.output_dir)
    src = clip30(tmp_path / "cancel_me.mp4")  # 29 in-between frames at a quarter second each
    job = Client(url, verbose=False).submit(handle_file(str(src)), 2, "", False, "repeat", api_name="/interpolate")
    deadline = time.monotonic() + 60
    while not any(".framegen" in p for p in everything(engine.output_dir)):  # the job is writing
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    job.cancel()
    deadline = time.monotonic() + 30
    while any(t.name.startswith("framegen-") for t in threading.enumerate()):  # the job's decoder and encoder
        assert time.monotonic() < deadline, "the job went on after its cancel"
        time.sleep(0.1)
    assert everything(engine.output_dir) == before  # ended before cancel_me_2x.mp4, its work folder gone


def test_api_jobs_wait_in_one_queue(served, tmp_path):
    from gradio_client import Client, handle_file

    url, engine = served
    clips = [make_sample_clip(tmp_path / f"q{k}.mp4", seconds=0.25, fps=24, size=(48, 64)) for k in range(2)]
    jobs = [Client(url, verbose=False).submit(handle_file(str(c)), 2, "", False, "repeat", api_name="/interpolate")
            for c in clips]
    results = [job.result(timeout=120) for job in jobs]
    assert sorted(Path(r[0]).name for r in results) == ["q0_2x.mp4", "q1_2x.mp4"]
    assert engine.most == 1  # one job at a time in the nets, whatever the number of clients


def test_without_gradio_the_app_says_how_to_get_it(tool, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio fails as where it is not installed
    code, _, err = tool("app")
    assert code == 2 and 'pip install "framegen[app]"' in one_error_line(err)
