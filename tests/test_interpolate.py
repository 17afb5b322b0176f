"""The video tool end to end: timing, audio, cuts, sizes, odd inputs, errors, safety, folders, modes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import ROOT
from fake_videos import pan_frames, write_frames, write_video

from framegen.inference.files import Job, interpolate_file, interpolate_folder
from framegen.inference.interpolator import Interpolator
from framegen.inference.modes import run_demo_mode, run_test_mode
from framegen.inference.pipeline import SceneSettings, run_pipeline
from framegen.inference.sample import make_sample_clip
from framegen.inference.schedule import output_count, parse_rate
from framegen.inference.sinks import Sink
from framegen.inference.video_io import VideoError
from framegen.models import build_net


def job(**kw):
    return Job(progress=False, **kw)


def read_back(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        times = [Fraction(f.pts) * s.time_base for f in c.decode(s)]
        return times, s.codec_context.width, s.codec_context.height, s.codec_context.pix_fmt, [x.type for x in c.streams]


def write_rate_video(path, n, rate, size=(48, 64)):
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = size[1], size[0], "yuv420p"
        for f in pan_frames(n, size, speed=2):
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("rate,factor,fps", [(25, 2, None), (25, 4, None), (25, None, 60),
                                             (Fraction(24000, 1001), None, 60)])
def test_exact_frame_counts_and_timestamps(tmp_path, interp, rate, factor, fps):
    n = 20
    src = write_rate_video(tmp_path / "in.mp4", n, rate)
    out = tmp_path / "out.mp4"
    s = interpolate_file(src, out, interp, job(factor=factor, fps=fps))
    out_fps = Fraction(rate) * factor if factor else parse_rate(fps)
    times, *_ = read_back(out)
    assert len(times) == output_count(n, Fraction(rate), out_fps) == s["frames_out"]
    assert times == [Fraction(m) / out_fps for m in range(len(times))]
    if factor:
        assert len(times) == n * factor


def test_audio_is_kept_with_its_duration(tmp_path, interp):
    src = make_sample_clip(tmp_path / "sample.mp4", seconds=1.0, size=(72, 128))
    out = tmp_path / "out.mp4"
    interpolate_file(src, out, interp, job(factor=2))
    with av.open(str(src)) as a, av.open(str(out)) as b:
        assert [s.type for s in b.streams] == ["video", "audio"]
        da = float(a.streams.audio[0].duration * a.streams.audio[0].time_base)
        db = float(b.streams.audio[0].duration * b.streams.audio[0].time_base)
        assert db == pytest.approx(da, abs=1e-3)
        vb = b.streams.video[0]
        assert float(vb.frames / vb.average_rate) == pytest.approx(1.0, abs=1e-6)


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_hard_cut_gives_no_blended_frame(tmp_path, interp):
    a = pan_frames(10, (64, 96), photo="astronaut", seed=1)
    b = pan_frames(10, (64, 96), photo="coffee", seed=2)
    src = write_video(tmp_path / "cut.mp4", a + b, codec="libx264")
    out = tmp_path / "out.mp4"
    s = interpolate_file(src, out, interp, job(factor=2))
    assert s["cuts"] == 1
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]
    mid = frames[19]  # t = 0.5 between frame 9 (astronaut) and frame 10 (coffee)
    blend = (a[9].astype(np.float64) + b[0]) / 2
    assert _psnr(mid, b[0]) > 30 and _psnr(mid, b[0]) > _psnr(mid, blend) + 8


def test_odd_size_853x480_is_kept(tmp_path, interp):
    src = write_frames(tmp_path / "odd.mkv", pan_frames(3, (480, 853), speed=3), codec="ffv1", pix_fmt="yuv444p")
    out = tmp_path / "odd_2x.mp4"
    interpolate_file(src, out, interp, job(factor=2))
    _, w, h, pix, _ = read_back(out)
    assert (w, h) == (853, 480) and pix == "yuv444p"


def _write_images(folder, frames, mode):
    folder.mkdir(parents=True)
    for i, f in enumerate(frames):
        if mode == "gray":
            img = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)
        else:
            img = np.concatenate([cv2.cvtColor(f, cv2.COLOR_RGB2BGR), np.full(f.shape[:2] + (1,), 200, np.uint8)], 2)
        cv2.imwrite(str(folder / f"{i:04d}.png"), img)


@pytest.mark.parametrize("mode", ["gray", "rgba"])
def test_grayscale_and_rgba_image_sequences(tmp_path, interp, mode):
    _write_images(tmp_path / "frames", pan_frames(5, (40, 56)), mode)
    s = interpolate_file(tmp_path / "frames", tmp_path / "out_frames", interp, job(factor=2))
    out = sorted((tmp_path / "out_frames").glob("*.png"))
    assert len(out) == 10 == s["frames_out"]
    assert cv2.imread(str(out[1]), cv2.IMREAD_UNCHANGED).shape == (40, 56, 3)
    video = interpolate_file(tmp_path / "frames", tmp_path / "out.mp4", interp, job(factor=2, input_fps=10))
    assert video["fps_out"] == 20.0


def test_rgba_video_drops_alpha_with_a_warning(tmp_path, interp, caplog):
    rgba = [np.concatenate([f, np.full((40, 56, 1), 128, np.uint8)], 2) for f in pan_frames(4, (40, 56))]
    src = write_frames(tmp_path / "alpha.mov", rgba, codec="png", pix_fmt="rgba", fmt="rgba", fps=10)
    with caplog.at_level("WARNING"):
        s = interpolate_file(src, tmp_path / "out.mp4", interp, job(factor=2))
    assert s["frames_out"] == 8 and "alpha" in caplog.text


def test_ten_bit_input_is_kept_or_down_converted(tmp_path, interp, caplog):
    src = write_frames(tmp_path / "ten.mp4", [f.astype(np.uint16) * 257 for f in pan_frames(4, (48, 64))],
                       codec="libx264", pix_fmt="yuv420p10le", fmt="rgb48le")
    interpolate_file(src, tmp_path / "keep.mp4", interp, job(factor=2))
    assert read_back(tmp_path / "keep.mp4")[3] == "yuv420p10le"
    from framegen.inference.files import EncodeSettings

    with caplog.at_level("WARNING"):
        interpolate_file(src, tmp_path / "eight.mp4", interp, job(factor=2, encode=EncodeSettings(high_bit="8bit")))
    assert read_back(tmp_path / "eight.mp4")[3] == "yuv420p" and "10-bit" in caplog.text


def test_bad_inputs_give_clear_errors_and_no_output(tmp_path, interp):
    good = write_video(tmp_path / "good.mp4", pan_frames(12), codec="libx264").read_bytes()
    (tmp_path / "trunc.mp4").write_bytes(good[: len(good) // 3])
    (tmp_path / "notes.mp4").write_text("this is not a video")
    for name in ("trunc.mp4", "notes.mp4"):
        out = tmp_path / f"out_{name}"
        with pytest.raises(VideoError, match=r"cannot read|decoding .* failed|no video"):
            interpolate_file(tmp_path / name, out, interp, job(factor=2))
        assert not out.exists() and not list(tmp_path.glob(f".out_{Path(name).stem}*"))


def test_same_path_and_existing_output_are_refused(tmp_path, interp):
    src = write_video(tmp_path / "a.mp4", pan_frames(6), codec="libx264")
    with pytest.raises(VideoError, match="over the input"):
        interpolate_file(src, src, interp, job(factor=2))
    out = tmp_path / "b.mp4"
    out.write_bytes(b"keep me")
    with pytest.raises(VideoError, match="overwrite=true"):
        interpolate_file(src, out, interp, job(factor=2))
    assert out.read_bytes() == b"keep me"


def test_folder_batch_finishes_despite_one_bad_file(tmp_path, interp):
    folder = tmp_path / "in"
    write_video(folder / "a.mp4", pan_frames(6, seed=1), codec="libx264")
    write_video(folder / "c.mp4", pan_frames(6, seed=2), codec="libx264")
    (folder / "b.mp4").write_bytes(b"\x00" * 100)
    result = interpolate_folder(folder, tmp_path / "out", interp, job(factor=2))
    assert sorted(Path(s["output"]).name for s in result["done"]) == ["a.mp4", "c.mp4"]
    assert list(result["failed"]) == [str(folder / "b.mp4")]
    again = interpolate_folder(folder, tmp_path / "out", interp, job(factor=2))
    assert len(again["skipped"]) == 2 and not again["done"]


def test_variable_frame_rate_follows_timestamps():
    times = [Fraction(0), Fraction(1, 10), Fraction(3, 10), Fraction(4, 10)]  # a gap of two frame durations
    frames = [(t, np.full((8, 8, 3), int(250 * t), np.uint8)) for t in times]

    class Recorder:
        batch_size = 8
        seen: list = []

        def __call__(self, a, b, t):
            self.seen.extend(t.tolist())
            return (1 - t.view(-1, 1, 1, 1)) * a + t.view(-1, 1, 1, 1) * b

    class Frames(Sink):
        frames: list = []

        def write(self, f):
            self.frames.append(f)

        def commit(self):
            return Path("frames")

        def abort(self, *, keep=True):
            pass

    rec, sink = Recorder(), Frames()
    stats = run_pipeline(iter(frames), sink, rec, out_fps=Fraction(20), frame_duration=Fraction(1, 10),
                         scenes=SceneSettings(detect_cuts=False), progress=False)
    assert stats["frames_out"] == 10  # 0.5 s at 20 fps
    assert rec.seen == pytest.approx([0.5, 0.25, 0.5, 0.75, 0.5])  # t inside the long gap follows the clock
    expected = [0, 12.5, 25, 37.5, 50, 62.5, 75, 87.5, 100, 100]
    assert np.allclose([int(f[0, 0, 0]) for f in sink.frames], expected, atol=1)


def test_python_api(interp):
    a, b = pan_frames(2, (32, 48))
    mid = interp.interpolate(a, b, 0.5)
    assert mid.shape == a.shape and mid.dtype == np.uint8
    frames = interp.between(torch.from_numpy(a).permute(2, 0, 1).float() / 255,
                            torch.from_numpy(b).permute(2, 0, 1).float() / 255, 3)
    assert len(frames) == 3 and frames[0].shape == (3, 32, 48)


def test_modes_write_their_files(tmp_path, interp):
    src = make_sample_clip(tmp_path / "s.mp4", seconds=0.5, size=(48, 64))
    result = run_test_mode(src, tmp_path / "test", interp, job(factor=2), comparison_frames=3, montage=True)
    for name in ("original_video.mp4", "enhanced_video.mp4", "montage.mp4"):
        assert (tmp_path / "test" / name).is_file()
    assert len(list((tmp_path / "test" / "frame_comparison").glob("*.png"))) == 3
    assert result["enhanced_stats"]["frames_out"] == 2 * result["enhanced_stats"]["frames_in"]
    assert read_back(tmp_path / "test" / "montage.mp4")[1] == 2 * 64 + 4
    demo = run_demo_mode(src, tmp_path / "demo", interp, demo_frames=4, factor=4)
    from PIL import Image

    with Image.open(demo["interpolated"]) as gif:
        # 3 pairs x 4 + the last frame = 13 frames at 4 x 24 fps: GIF players clamp frames under 20 ms, so the GIF
        # keeps every frame and plays them at demo.display_fps (25: 40 ms each), 3.84x slower (#24 item 7);
        # comparison.mp4 has them at the real rate
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert gif.n_frames == 13 and set(durations) == {40}
    assert read_back(Path(demo["comparison_mp4"]))[1] == 2 * 64 + 4


def _cli(args, cwd, **kw):
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "FRAMEGEN_ROOT": str(cwd)}
    return subprocess.Popen([sys.executable, str(ROOT / "scripts" / "interpolate.py"), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_errors_are_one_line_with_nonzero_exit(tmp_path, ckpt):
    (tmp_path / "bad.mp4").write_text("nope")
    p = _cli([f"ckpt={ckpt}", f"input={tmp_path / 'bad.mp4'}"], tmp_path)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2
    assert err.strip().startswith("error: cannot read") and "Traceback" not in err
    assert not (tmp_path / "bad_2x.mp4").exists()


def _decode(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(f.pts * s.time_base, f.to_ndarray(format="rgb24")) for f in c.decode(s)]


@pytest.mark.slow
def test_a_killed_run_resumes_to_the_same_frames(tmp_path, ckpt):
    src = make_sample_clip(tmp_path / "long.mp4", seconds=8.0, size=(96, 128))
    out, whole = tmp_path / "long_2x.mp4", tmp_path / "whole.mp4"
    args = [f"ckpt={ckpt}", f"input={src}", "batch_size=2", "progress=false", "segment_seconds=2"]
    p = _cli([*args, f"output={out}"], tmp_path)
    work = tmp_path / ".long_2x.mp4.framegen"
    deadline = time.time() + 120
    while time.time() < deadline and not (work / "segments.json").is_file():
        time.sleep(0.1)
    assert (work / "segments.json").is_file(), "the run never finished a segment"
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    assert not out.exists()  # kill -9: no output, the finished segments wait in the work folder
    kept = len(json.loads((work / "segments.json").read_text()))
    assert kept >= 1
    p = _cli([*args, f"output={out}"], tmp_path)
    stdout, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert f"resumed after {kept * 96} finished frames" in stdout
    assert not work.exists() and not list(tmp_path.glob(".long_2x*"))
    p = _cli([*args, f"output={whole}"], tmp_path)
    assert p.wait(timeout=300) == 0
    a, b = _decode(out), _decode(whole)
    assert len(a) == len(b) == 2 * 8 * 24
    assert all(ta == tb and np.array_equal(fa, fb) for (ta, fa), (tb, fb) in zip(a, b))
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]


def test_sigterm_cleans_up_like_ctrl_c_and_a_rerun_removes_stale_partials(tmp_path, ckpt):
    src = make_sample_clip(tmp_path / "clip.mp4", seconds=6.0, size=(96, 128))
    out = tmp_path / "clip_2x.mp4"
    args = [f"ckpt={ckpt}", f"input={src}", f"output={out}", "batch_size=1", "progress=false", "segment_seconds=1"]
    p = _cli(args, tmp_path)
    work = tmp_path / ".clip_2x.mp4.framegen"
    deadline = time.time() + 120
    while time.time() < deadline and not (work / "segments.json").is_file():
        time.sleep(0.1)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130 and err.strip().splitlines()[-1].startswith("interrupted:")
    assert not out.exists() and not list(tmp_path.glob(".clip_2x.partial-*"))
    assert not list(work.glob("*.partial.*"))  # the unfinished segment is gone, the finished ones stay
    stale = tmp_path / ".clip_2x.partial-999999999.mp4"  # left by a kill -9 during a join (no such process now)
    stale.write_bytes(b"half a video")
    p = _cli(args, tmp_path)
    assert p.wait(timeout=300) == 0
    assert out.is_file() and not stale.exists() and not work.exists()


def test_realtime_returns_the_frames_due_in_order(interp, tmp_path):
    from framegen.inference import RealtimeInterpolator

    frames = pan_frames(4, (32, 48), speed=2)
    rt = RealtimeInterpolator(interp, factor=3)
    outs = [rt.process_frame(f) for f in frames]
    assert [len(o) for o in outs] == [1, 3, 3, 3]
    assert all(o[-1] is f for o, f in zip(outs, frames))  # each call ends with the real frame just given
    assert len(rt.latencies) == 4 and all(s >= 0 for s in rt.latencies)
    cap = cv2.VideoCapture(str(write_video(tmp_path / "rt.mp4", frames, codec="libx264")))
    from framegen.inference import capture_frames

    assert len(list(RealtimeInterpolator(interp, factor=2).stream(capture_frames(cap)))) == 7


def test_process_video_api(tmp_path, ckpt):
    from framegen.inference import process_video

    src = write_video(tmp_path / "a.mp4", pan_frames(5), codec="libx264")
    s = process_video(src, tmp_path / "b.mp4", fps=20, ckpt=str(ckpt), progress=False, device="cpu")
    assert s["fps_out"] == 20.0


@pytest.mark.parametrize("name", ["flow", "flow_rife", "advanced"])
def test_onnx_torchscript_and_export_parity(tmp_path, name):
    ort = pytest.importorskip("onnxruntime", reason="ONNX parity needs onnxruntime (the 'export' extra)")
    from framegen.inference.export import FrameOnly, export_onnx, export_program, export_torchscript

    torch.manual_seed(0)
    if name == "flow_rife":
        net = build_net("flow", block="rife", widths=[24, 16, 16], scales=[4, 2, 1], num_layers=1, refine_width=8)
    elif name == "flow":
        net = build_net(name, hidden_dim=16, num_layers=1)
    else:
        net = build_net(name, hidden_dim=8, num_layers=1)
    with torch.no_grad():  # leave the zero-initialised output layers, so the residual paths matter too
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    x0, x1 = torch.rand(2, 3, 64, 96), torch.rand(2, 3, 64, 96)
    t = torch.tensor([0.25, 0.5])
    with torch.no_grad():
        ref = FrameOnly(net.eval())(x0, x1, t).numpy()
    sess = ort.InferenceSession(str(export_onnx(net, tmp_path / "m.onnx", height=64, width=96)),
                                providers=["CPUExecutionProvider"])
    out = sess.run(None, {"img0": x0.numpy(), "img1": x1.numpy(), "t": t.numpy()})[0]
    assert np.abs(out - ref).max() < 1e-4
    ts = torch.jit.load(str(export_torchscript(net, tmp_path / "m.ts", height=64, width=96)))
    assert np.abs(ts(x0, x1, t).detach().numpy() - ref).max() < 1e-5
    prog = torch.export.load(str(export_program(net, tmp_path / "m.pt2", height=64, width=96)))
    assert np.abs(prog.module()(x0[:1], x1[:1], t[:1]).detach().numpy() - ref[:1]).max() < 1e-5


def test_tiling_flow_scale_and_bf16_keep_sizes(ckpt):
    net_interp = {
        "tiled": Interpolator.from_checkpoint(str(ckpt), device="cpu", tile=48, tile_overlap=8),
        "scaled": Interpolator.from_checkpoint(str(ckpt), device="cpu", scale=0.5),
        "bf16": Interpolator.from_checkpoint(str(ckpt), device="cpu", precision="bf16"),
        "fp32": Interpolator.from_checkpoint(str(ckpt), device="cpu"),
    }
    a, b = pan_frames(2, (70, 101), speed=2)
    outs = {k: v.interpolate(a, b, 0.5) for k, v in net_interp.items()}
    assert all(o.shape == (70, 101, 3) for o in outs.values())
    assert np.abs(outs["bf16"].astype(int) - outs["fp32"]).mean() < 3  # bf16 stays close to fp32
    with pytest.raises(ValueError, match="fp16 needs a CUDA device"):
        Interpolator.from_checkpoint(str(ckpt), device="cpu", precision="fp16")


def test_remove_duplicates_spreads_motion_over_real_changes(tmp_path, interp):
    from framegen.inference.pipeline import SceneSettings

    base = pan_frames(4, (40, 56), speed=3)
    frames = [base[0], base[0], base[1], base[1], base[2], base[3]]  # animation-style held frames
    src = write_video(tmp_path / "held.mkv", frames, codec="ffv1")
    kept = interpolate_file(src, tmp_path / "kept.mp4", interp, job(factor=2))
    assert kept["duplicates"] == 2 and kept["interpolated"] == 3
    removed = interpolate_file(src, tmp_path / "removed.mp4", interp,
                               job(factor=2, scenes=SceneSettings(remove_duplicates=True)))
    assert removed["duplicates_removed"] == 2 and removed["frames_out"] == 12 and removed["interpolated"] > 3


def test_tta_averages_the_mirrored_pair(ckpt):
    plain = Interpolator.from_checkpoint(str(ckpt), device="cpu")
    tta = Interpolator.from_checkpoint(str(ckpt), device="cpu", tta=True)
    a, b = (torch.rand(1, 3, 32, 48) for _ in range(2))
    mirrored = plain(a.flip(-1), b.flip(-1), 0.5).flip(-1)
    assert torch.allclose(tta(a, b, 0.5), (plain(a, b, 0.5) + mirrored) / 2, atol=1e-6)


def test_main_job_without_arguments_runs_twice(tmp_path, ckpt):
    for _ in range(2):
        p = _cli([f"ckpt={ckpt}", "progress=false"], tmp_path)
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-2000:]
    assert (tmp_path / "outputs" / "sample_2x.mp4").is_file() and "96 frames out" in out


def test_subtitles_are_copied(tmp_path, interp):
    import subprocess as sp

    import imageio_ffmpeg

    video = make_sample_clip(tmp_path / "v.mp4", seconds=1.0, size=(48, 64))
    (tmp_path / "s.srt").write_text("1\n00:00:00,100 --> 00:00:00,900\nhello\n")
    src = tmp_path / "with_subs.mkv"
    sp.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(video), "-i", str(tmp_path / "s.srt"),
            "-map", "0", "-map", "1", "-c", "copy", "-c:s", "srt", str(src)], check=True)
    out = tmp_path / "out.mkv"
    interpolate_file(src, out, interp, job(factor=2))
    with av.open(str(out)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "subtitle", "video"]
        sub = c.streams.subtitles[0]
        packets = [p for p in c.demux(sub) if p.pts is not None]
        assert len(packets) == 1 and float(packets[0].pts * sub.time_base) == pytest.approx(0.1, abs=0.01)


def test_interpolator_runs_channels_last_on_the_cpu_with_the_same_frames():
    from framegen.models import build_net

    torch.manual_seed(0)
    net = build_net("flow", hidden_dim=16, num_layers=1, scales=(16, 8, 4, 2, 1)).eval()
    x0, x1 = torch.rand(2, 3, 40, 72), torch.rand(2, 3, 40, 72)
    with torch.no_grad():
        ref = net(x0, x1, 0.5).frame
    fast = Interpolator(net, device="cpu")
    assert net.blocks[0].stem[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(fast(x0, x1, 0.5), ref, atol=1e-5)
    Interpolator(net, device="cpu", channels_last=False)
    assert net.blocks[0].stem[0][0].weight.is_contiguous()
