"""The command line itself (issue #20 follow-ups, third round): file names with spaces, brackets, quotes or commas
pass as they are typed (a browser's ``clip (1).mp4``), and a Ctrl-C at any moment of a tool's start-up is one
``interrupted`` line and exit 130 (the real scripts, in child processes)."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT
from fake_videos import pan_frames, write_video

from framegen.command_line import _parsed_value, hydra_quote, is_path_option, quote_path_values
from framegen.process import _inside_import

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


# ------------------------------------------------------------------------------------------ paths as typed
@pytest.mark.parametrize("value", ["clip (1).mp4", "c'est ça [v2].mp4", "a,b.mp4", "a=b.mp4", "x{1}.mp4",
                                   'say "hi".mp4', "back\\slash'.mp4", "(ends in)\\", "日本 #1;&!.mp4", " lead.mp4"])
def test_a_path_hydra_refuses_is_quoted_and_reads_back_as_typed(value):
    (rewritten,) = quote_path_values([f"input={value}"])
    assert rewritten != f"input={value}" and _parsed_value(rewritten) == value
    assert quote_path_values([f"+data.root={value}"]) == [f"+data.root={hydra_quote(value)}"]


@pytest.mark.parametrize("arg", ["nets=[default]", "video=[a.mp4,b.mp4]", "input='already (quoted).mp4'",
                                 'input="already (quoted).mp4"', "ckpt=null", "input=my clip.mp4", "input=plain.mp4",
                                 "output=${paths.root_dir}/x.mp4", "factor=abc", "fps=60000/1001", "mode=demo",
                                 "method=[average,dis]", "scenes.cut_threshold=20"])
def test_values_hydra_reads_as_meant_are_left_as_they_are(arg):
    assert quote_path_values([arg]) == [arg]


def test_a_sweep_is_kept_with_multirun_and_a_file_name_without():
    assert quote_path_values(["input=a.mp4,b.mp4"], multirun=True) == ["input=a.mp4,b.mp4"]
    assert quote_path_values(["input=a.mp4,b.mp4"]) == ["input='a.mp4,b.mp4'"]


def test_path_options_are_the_ones_that_name_files():
    for key in ("input", "output", "ckpt", "ckpt_path", "init_from", "video", "method", "data.root", "data.cache_dir",
                "paths.log_dir", "hydra.run.dir", "out_dir", "manifest", "+data.source.root", "benchmark_root"):
        assert is_path_option(key), key
    for key in ("factor", "fps", "nets", "mode", "data.batch_size", "model.optimizer.lr", "encode.crf"):
        assert not is_path_option(key), key


def _interpolate(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "interpolate.py"), *args, "progress=false",
                           f"hydra.run.dir={cwd / 'hydra'}"], cwd=cwd, env={**ENV, "FRAMEGEN_ROOT": str(cwd)},
                          capture_output=True, text=True, timeout=180, check=False)


def test_browser_download_names_interpolate_end_to_end(tmp_path, ckpt):
    # unquoted, as a shell passes "input=/path/clip (1).mp4": was Hydra's "mismatched input ' ('", exit 1
    first = write_video(tmp_path / "clip (1).mp4", pan_frames(6, (48, 64)), codec="libx264")
    proc = _interpolate([f"ckpt={ckpt}", f"input={first}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "clip (1)_2x.mp4").is_file()
    second = write_video(tmp_path / "c'est ça [v2].mp4", pan_frames(6, (48, 64)), codec="libx264")
    out = tmp_path / "out {final}, v=2.mp4"
    proc = _interpolate([f"ckpt={ckpt}", f"input={second}", f"output={out}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert out.is_file() and second.is_file() and "12 frames out" in proc.stdout


# ------------------------------------------------------------------------------------------ Ctrl-C while starting
def test_inside_import_tells_an_import_from_plain_code(tmp_path, monkeypatch):
    (tmp_path / "probe_import_frame.py").write_text("import sys\nFRAME = sys._getframe()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("probe_import_frame")
    try:
        assert _inside_import(module.FRAME) and not _inside_import(sys._getframe())
    finally:
        sys.modules.pop("probe_import_frame", None)


def test_torch_fake_tensor_statistics_are_quiet():
    from framegen.process import quiet_logs

    quiet_logs()
    assert not logging.getLogger("torch._subclasses.fake_tensor").isEnabledFor(logging.INFO)


def test_row_ctrl_c_at_any_moment_of_start_up_is_one_line(tmp_path, ckpt):
    clip = write_video(tmp_path / "clip.mp4", pan_frames(6, (48, 64)), codec="libx264")
    train = ["trainer=cpu", "trainer.max_steps=1000", "trainer.log_every_n_steps=1", "callbacks.progress_bar=null",
             "data.source.size=32", "data.batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1"]
    cases = [("train", 0.3, train), ("train", 0.9, train), ("train", 2.0, train), ("train", 3.5, train),
             ("interpolate", 0.5, [f"input={clip}", f"ckpt={ckpt}", "progress=false"]),
             ("interpolate", 1.0, [f"input={clip}", f"ckpt={ckpt}", "progress=false"]),
             ("evaluate", 0.8, [f"video={clip}", "method=average"]),
             ("benchmark", 0.8, ["nets=[average]", "sizes=[[32,32]]", "repeats=1"])]
    interrupted = 0
    for i, (script, delay, args) in enumerate(cases):
        run = tmp_path / f"run{i}"
        proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / f"{script}.py"), *args,
                                 f"hydra.run.dir={run}"], cwd=tmp_path, env={**ENV, "FRAMEGEN_ROOT": str(tmp_path)},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        if proc.poll() is not None:  # a fast machine finished (or refused) it already: nothing to interrupt
            proc.communicate()
            continue
        proc.send_signal(signal.SIGINT)  # only the process this test started
        out, err = proc.communicate(timeout=120)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert proc.returncode == 130, (script, delay, err[-3000:])
        assert len(lines) == 1 and lines[0].startswith("interrupted"), (script, delay, err[-3000:])
        assert "FakeTensor" not in out  # torch's cache statistics at exit (#20 follow-up)
        if script == "train":  # no empty run folder is left behind: one that stays holds a step's last.ckpt
            assert not run.exists() or (run / "checkpoints" / "last.ckpt").is_file(), (delay, list(run.rglob("*")))
        interrupted += 1
    assert interrupted >= 4
