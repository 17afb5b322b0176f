"""Issue #24, the first minutes of a new user (items 2 and 9): a wrong input, an existing output or a bad option is
one `error:` line before torch is imported (the real command in a subprocess); a missing camera is one warning; the
worst-triplet galleries' labels fit inside their tiles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
    assert "framegen.inference.cli" in modules  # the checks of the tool itself ran, not a copy of them


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
