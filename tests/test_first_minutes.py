"""Issue #24, the first minutes of a new user (items 2 and 9): a wrong input, an existing output or a bad option is
one `error:` line before torch is imported (the real command in a subprocess); a missing camera is one warning; the
worst-triplet galleries' labels fit inside their tiles."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT
from fake_videos import pan_frames, write_video

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def run_importtime(args: list[str], cwd: Path, *, console_script: bool = False) -> tuple[int, str, list[str]]:
    """Run the video tool as a user would, under ``python -X importtime``: (exit code, its own stderr lines, the
    modules it imported)."""
    if console_script:  # `framegen interpolate ...`: the console script's entry point
        cmd = [sys.executable, "-X", "importtime", "-c",
               "import sys; from framegen.commands import main; sys.argv[0] = 'framegen'; main()", "interpolate"]
    else:
        cmd = [sys.executable, "-X", "importtime", str(ROOT / "scripts" / "interpolate.py")]
    proc = subprocess.run([*cmd, *args, f"hydra.run.dir={cwd / 'hydra'}"], cwd=cwd, env=ENV, capture_output=True,
                          text=True, timeout=60, check=False)
    lines = proc.stderr.splitlines()
    modules = [m.group(1) for ln in lines if (m := re.match(r"import time:.*\|\s*(\S+)\s*$", ln))]
    own = [ln for ln in lines if not ln.startswith("import time:")]
    return proc.returncode, "\n".join(own), modules


def assert_early_error(code: int, err: str, modules: list[str], expected: str) -> None:
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and errors == [expected] and "Traceback" not in err, err[-2000:]
    heavy = [m for m in modules if m.split(".")[0] in ("torch", "lightning", "torchvision")]
    assert not heavy, f"imported before the error: {heavy[:5]}"


@pytest.mark.parametrize("console_script", [False, True])
def test_missing_input_fails_before_torch_is_imported(tmp_path, console_script):
    code, err, modules = run_importtime(["input=nope.mp4"], tmp_path, console_script=console_script)
    assert_early_error(code, err, modules, "error: input not found: nope.mp4")
    assert "framegen.inference.video_tool" in modules  # the checks of the tool itself ran, not a copy of them


def test_existing_output_and_bad_options_fail_before_torch(tmp_path):
    src = write_video(tmp_path / "clip.mp4", pan_frames(4, (32, 48)), codec="libx264")
    (tmp_path / "taken.mp4").write_bytes(b"the user's file")
    code, err, modules = run_importtime([f"input={src}", "output=taken.mp4"], tmp_path)
    assert_early_error(code, err, modules, "error: output exists: taken.mp4 (pass overwrite=true to replace it)")
    code, err, modules = run_importtime([f"input={src}", "factor=abc"], tmp_path)
    assert code == 2 and "factor" in err and not [m for m in modules if m.startswith("torch")], err[-2000:]
    code, err, modules = run_importtime([f"input={src}", "fps=100000"], tmp_path)
    assert code == 2 and "fps=100000" in err and not [m for m in modules if m.startswith("torch")], err[-2000:]
    code, err, modules = run_importtime([f"input={src}", "mode=fast"], tmp_path)
    assert_early_error(code, err, modules, "error: mode must be video, test or demo, got 'fast'")
    (tmp_path / "out_dir_file").write_text("x")
    code, err, modules = run_importtime([f"input={tmp_path}", "output=out_dir_file"], tmp_path)
    assert code == 2 and "is a file" in err and not [m for m in modules if m.startswith("torch")], err[-2000:]


# ------------------------------------------------------------------------------------------ item 9
def test_a_capture_without_a_camera_warns_once(tmp_path, caplog):
    import cv2

    from framegen.inference import capture_frames

    with caplog.at_level(logging.WARNING, logger="framegen"):
        frames = list(capture_frames(cv2.VideoCapture(str(tmp_path / "no_camera_here.mp4"))))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert frames == [] and len(warnings) == 1 and "no frames" in warnings[0], warnings
    caplog.clear()
    src = write_video(tmp_path / "clip.mp4", pan_frames(3, (32, 64)), codec="libx264")
    with caplog.at_level(logging.WARNING, logger="framegen"):
        frames = list(capture_frames(cv2.VideoCapture(str(src))))
    assert len(frames) == 3 and frames[0].shape == (32, 64, 3) and not caplog.records


@pytest.mark.parametrize("width", [40, 90, 300])
def test_gallery_labels_fit_inside_the_image(width):
    """The worst-triplet galleries (evaluate.py gallery=N): a row's caption and the column titles end inside the
    image, whatever the frames' width, with a margin of white on their right."""
    import torch

    from framegen.viz import gallery, to_uint8

    grey = torch.full((3, 160, width), 0.5)
    caption = "data/corpus/videos/val/tree.avi:000012: PSNR 21.37 dB"
    img = to_uint8(gallery([[grey] * 5, [grey] * 5], columns=["frame 0", "frame 1", "prediction", "ground truth",
                                                               "error"], captions=[caption, "x: PSNR 30.00 dB"]))
    ink = np.argwhere(img.max(axis=2) < 60)  # the labels' black outline (frames are grey, padding white)
    assert len(ink) > 0
    assert ink[:, 1].max() < img.shape[1] - 2, f"a label reaches the right edge ({img.shape[1]} px wide)"
    # the caption is drawn whole: its ink spans at least the width OpenCV gives the text
    import cv2

    (text_w, _), _ = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, 0.4, 1)
    rows = ink[ink[:, 0] > 22 + 100]  # below the title band, in the first row's lower part
    assert rows[:, 1].max() - rows[:, 1].min() >= text_w - 2
