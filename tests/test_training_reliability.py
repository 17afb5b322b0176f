"""The training rows of docs/reliability.md (issues #20 and #24): runs that train nothing are refused, small folders
train, a full disk or a read-only run folder is one `error:` line, a stopped run saves a resumable last.ckpt and says
how to resume, progress counts against max_steps, and a run's console shows its own lines once; the third round:
numeric options typed wrong are one line before a run folder, and a Ctrl-C before the first step, during the final
validation or while the process ends says what was saved and exits 130."""

from __future__ import annotations

import csv
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from conftest import ROOT, compose_train, one_error_line
from fake_videos import pan_frames, write_video

SMALL = ["data.source.size=32", "data.source.train_samples=8", "data.source.val_samples=2", "data.batch_size=2",
         "data.val_batch_size=2", "model.net.hidden_dim=16", "model.net.num_layers=1", "callbacks.progress_bar=null"]
HERE = Path(__file__).resolve().parent




def _env(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "FRAMEGEN_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1",
            "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
            "COLUMNS": "200"}


def _steps_logged(metrics_csv: Path) -> list[int]:
    with open(metrics_csv) as f:
        return sorted({int(r["step"]) for r in csv.DictReader(f) if r.get("train/loss")})


# ------------------------------------------------------------------------------------------ #20 item 9
@pytest.mark.parametrize("steps", ["0", "-5"])
def test_row_max_steps_that_train_nothing_are_refused(tmp_path, tool, steps):
    run = tmp_path / "run"
    code, out, err = tool("train", "trainer=cpu", f"trainer.max_steps={steps}", f"paths.output_dir={run}", *SMALL)
    line = one_error_line(err)
    assert code == 1 and f"trainer.max_steps={steps}" in line
    assert not (run / "checkpoints").exists() and "last.ckpt" not in out
    assert not (tmp_path / "hydra").exists()  # no empty run folder left behind


def test_the_summary_names_last_ckpt_only_when_it_exists(tmp_path, capsys):
    from framegen.train import train

    train(compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=2", "callbacks.last_checkpoint=null",
                         *SMALL], tmp_path / "a"))
    out = capsys.readouterr().out
    assert "ckpt_path=" not in out and "last.ckpt: none" in out
    assert "ResumableCSVLogger" not in out and f"metrics: {tmp_path / 'a' / 'csv' / 'metrics.csv'}" in out


# ------------------------------------------------------------------------------------------ #20 item 11
def test_row_one_usable_video_among_unusable_ones_trains(tmp_path, caplog):
    from framegen.train import train

    videos = tmp_path / "videos"
    write_video(videos / "clip.mp4", pan_frames(14, (48, 64), speed=3, seed=1), codec="libx264")
    (videos / "empty.mp4").write_bytes(b"")
    rng = np.random.default_rng(0)
    still = pan_frames(1, (48, 64))[0]
    write_video(videos / "still.mp4", [np.clip(still + rng.integers(-1, 2, still.shape), 0, 255).astype(np.uint8)
                                       for _ in range(14)], codec="libx264")
    # the automatic split puts clip in val and still in train, and the quality check then drops still: before the
    # fix this failed "no training samples"
    cfg = compose_train(["data=video_folder", f"data.root={videos}", f"data.cache_dir={tmp_path / 'cache'}",
                         "data.source.frame_size=[32,48]", "data.source.k=2", "data.source.progress=false",
                         "trainer=cpu", "trainer.max_steps=2", "model.net.hidden_dim=16", "model.net.num_layers=1",
                         "callbacks.progress_bar=null"], tmp_path / "run")
    with caplog.at_level("WARNING"):
        metrics = train(cfg)
    assert "val/psnr" in metrics and (tmp_path / "run" / "checkpoints" / "best_model.pth").is_file()
    assert "training on all 1 usable video" in caplog.text and "validating on the training clips" in caplog.text


# ------------------------------------------------------------------------------------------ #20 item 13
@pytest.mark.parametrize("full_from", [2, 1])
def test_row_full_disk_while_writing_last_ckpt(tmp_path, tool, monkeypatch, full_from):
    real = L.Trainer.save_checkpoint

    def full(self, filepath, *args, **kwargs):
        if ".last.tmp-" in str(filepath) and self.global_step >= full_from:
            Path(filepath).parent.mkdir(parents=True, exist_ok=True)
            Path(filepath).write_bytes(b"half a checkpoint")  # what a full disk leaves
            raise OSError(errno.ENOSPC, "No space left on device", str(filepath))
        return real(self, filepath, *args, **kwargs)

    monkeypatch.setattr(L.Trainer, "save_checkpoint", full)
    run = tmp_path / "run"
    code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=6", "callbacks.last_checkpoint.every_n_train_steps=1",
                        f"paths.output_dir={run}", *SMALL)
    line = one_error_line(err)
    last = run / "checkpoints" / "last.ckpt"
    assert code == 1 and "no space left on the device" in line and "last.ckpt" in line
    assert not list((run / "checkpoints").glob(".last.tmp-*"))
    if full_from == 2:  # the last complete save is kept, still resumes, and the line names it (was a bare ckpt_path=)
        assert torch.load(last, weights_only=False)["global_step"] == 1
        assert line.endswith(f"resume with ckpt_path={last}"), line
    else:  # the first save failed: nothing to resume from
        assert not last.exists() and "ckpt_path=" not in line and "start the run again" in line, line


def _read_only(folder: Path):
    """Make ``folder`` read-only: a read-only tmpfs where mounting is allowed, else chmod (useless as root)."""
    folder.mkdir(parents=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,ro", "tmpfs", str(folder)],
                      check=False, capture_output=True).returncode == 0:
        return lambda: subprocess.run(["umount", str(folder)], check=False, capture_output=True)
    if os.geteuid() == 0:
        pytest.skip("root without mount: a folder cannot be made read-only here")
    folder.chmod(0o555)
    return lambda: folder.chmod(0o755)


def test_row_read_only_run_folder(tmp_path, tool):
    run = tmp_path / "run"
    undo = _read_only(run)
    try:
        code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=2", f"paths.output_dir={run}", *SMALL)
    finally:
        undo()
    line = one_error_line(err)
    assert code == 1 and f"cannot write the run folder {run}" in line and "paths.output_dir" in line


# ------------------------------------------------------------------------------------------ #24 item 1
class InterruptAt(L.Callback):
    """Sends this process SIGINT (a Ctrl-C) once ``step`` optimizer steps are done (mid-step, after the backward)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


class SlowAfter(L.Callback):
    """Writes ``marker`` after ``step`` optimizer steps, then slows each step so a signal lands mid-run."""

    def __init__(self, step: int, marker: str) -> None:
        self.step, self.marker = step, marker

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            Path(self.marker).touch()
            time.sleep(0.2)


def test_row_ctrl_c_saves_a_resumable_last_ckpt_and_says_how_to_resume(tmp_path, tool):
    from framegen.train import train

    run = tmp_path / "run"
    common = ["trainer=cpu", "logger=csv", "trainer.log_every_n_steps=1", "data.source.train_samples=16", *SMALL]
    code, out, err = tool("train", *common, "trainer.max_steps=100", f"paths.output_dir={run}",
                          "+callbacks.ctrl_c._target_=test_training_reliability.InterruptAt", "+callbacks.ctrl_c.step=3")
    last = run / "checkpoints" / "last.ckpt"
    assert code == 130 and "Traceback" not in err, err[-2000:]
    assert "interrupted" in err and f"ckpt_path={last}" in out
    # saved at the step boundary after the Ctrl-C, atomically
    assert torch.load(last, weights_only=False)["global_step"] == 4
    assert not list(last.parent.glob(".last.tmp-*"))
    train(compose_train([*common, "trainer.max_steps=8", f"ckpt_path={last}"], tmp_path / "other"))
    assert _steps_logged(run / "csv" / "metrics.csv") == list(range(8))
    assert torch.load(last, weights_only=False)["global_step"] == 8


def test_row_sigterm_saves_a_resumable_last_ckpt(tmp_path):
    marker, run = tmp_path / "started", tmp_path / "run"
    args = ["trainer=cpu", "trainer.max_steps=100", "logger=csv", f"paths.output_dir={run}", *SMALL,
            "+callbacks.slow._target_=test_training_reliability.SlowAfter", "+callbacks.slow.step=3",
            f"+callbacks.slow.marker={marker}", f"hydra.run.dir={tmp_path / 'hydra'}"]
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "train.py"), *args], cwd=tmp_path,
                            env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), proc.communicate(timeout=60)
        proc.send_signal(signal.SIGTERM)  # only the process this test started
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    last = run / "checkpoints" / "last.ckpt"
    assert proc.returncode == 130 and "Traceback" not in err, err[-3000:]
    step = torch.load(last, weights_only=False)["global_step"]
    assert 3 <= step < 100 and f"ckpt_path={last}" in out and f"stopped at step {step}" in err
    assert not list(last.parent.glob(".last.tmp-*"))


# ------------------------------------------------------------------------------------------ #24 items 3, 4
def test_progress_counts_steps_against_max_steps(tmp_path, monkeypatch):
    from framegen.callbacks import StepProgressBar
    from framegen.train import train

    seen = {}

    def record(self, trainer, pl_module):
        task = self.progress.tasks[self.train_progress_bar_id]
        seen.update(total=task.total, completed=task.completed, description=task.description,
                    speed=str(self.configure_columns(trainer)[-1].render(task)))

    monkeypatch.setattr(StepProgressBar, "on_train_end", record, raising=False)
    # an epoch is 4 batches: 6 steps run into the second epoch, on one bar
    train(compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=6", *SMALL[:-1]], tmp_path))
    assert seen["total"] == 6 and seen["completed"] == 6
    assert "steps" in seen["description"].lower() and "steps/s" in seen["speed"]


def test_row_console_shows_each_line_once_and_no_noise(tmp_path):
    args = ["trainer=cpu", "trainer.max_steps=3", "logger=csv", f"paths.output_dir={tmp_path / 'run'}", *SMALL,
            f"hydra.run.dir={tmp_path / 'hydra'}"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args], cwd=tmp_path, check=False,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    for noise in ("LeafSpec", "in eval mode", "could not find the monitored key", "was at None", "weights_only",
                  "ResumableCSVLogger", "litlogger", "Loading `train_dataloader`"):
        assert noise not in text, noise
    messages = [ln.split("] - ", 1)[-1].removeprefix("INFO: ") for ln in text.splitlines() if ln.strip()]
    doubled = {m for m in messages if messages.count(m) > 1 and not m.startswith(("┃", "│", "━", "┏", "┡", "└"))}
    assert not doubled, doubled
    assert "GPU available" in text  # Lightning's own useful lines stay, once


# ------------------------------------------------------------------------------------------ #24 item 5
def test_row_fast_dev_run_says_checkpointing_is_off(tmp_path, capsys):
    from framegen.train import train

    train(compose_train(["debug=fdr", "trainer=cpu", "logger=csv", *SMALL], tmp_path))
    out = capsys.readouterr().out
    assert "checkpointing is off (fast_dev_run)" in out and not (tmp_path / "checkpoints").exists()
    assert "checkpoints: " + str(tmp_path / "checkpoints") not in out


def test_row_gpu_preset_without_a_visible_device(tmp_path, tool, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")
    code, _, err = tool("train", "trainer=rtx5070", "trainer.max_steps=1", *SMALL)
    line = one_error_line(err)
    assert code == 1 and "no CUDA device is visible" in line and "torch.cuda.is_available()" in line
    assert "install a CUDA build" not in line and "trainer=cpu" in line
    assert not (tmp_path / "hydra").exists()  # no empty run folder left behind
    monkeypatch.setattr(torch.version, "cuda", None)
    code, _, err = tool("train", "trainer=rtx5070", "trainer.max_steps=1", *SMALL)
    assert code == 1 and "CPU-only build" in one_error_line(err)


# ------------------------------------------------------------------------------------------ third round (#20 follow-ups)
@pytest.mark.parametrize("option", ["trainer.max_steps=abc", "trainer.max_steps=nan", "trainer.max_epochs=1.5",
                                    "data.num_workers=-1", "data.batch_size=0", "model.optimizer.lr=abc",
                                    "model.optimizer.lr=0", "model.optimizer.weight_decay=-1", "val_every_n_steps=0"])
def test_row_nonsensical_numeric_options_are_one_line_before_a_run_folder(tmp_path, tool, option):
    run = tmp_path / "run"
    code, _, err = tool("train", "trainer=cpu", "trainer.max_steps=2", f"paths.output_dir={run}", *SMALL, option)
    line = one_error_line(err)
    assert code == 1 and line.startswith(f"error: {option}: give "), line
    assert not run.exists() and not (tmp_path / "hydra").exists()  # no run folder made, none left behind


def test_numeric_options_are_written_back_as_plain_numbers(tmp_path):
    from framegen.train import _check_options

    cfg = compose_train([*SMALL, "trainer=cpu", "trainer.max_steps=1e3", "data.batch_size=4.0",
                         "data.num_workers=auto", "model.optimizer.lr=1", "val_every_n_steps=null"], tmp_path)
    _check_options(cfg)
    assert cfg.trainer.max_steps == 1000 and type(cfg.trainer.max_steps) is int
    assert cfg.data.batch_size == 4 and type(cfg.data.batch_size) is int and cfg.data.num_workers == "auto"
    assert cfg.model.optimizer.lr == 1.0 and type(cfg.model.optimizer.lr) is float


class InterruptOnFitStart(L.Callback):
    """Sends this process SIGINT (a Ctrl-C) when fitting starts: the run folder exists, no step is done."""

    def on_fit_start(self, trainer, pl_module) -> None:
        os.kill(os.getpid(), signal.SIGINT)


class InterruptFinalValidation(L.Callback):
    """Sends this process SIGINT when the run's final validation (after fitting) starts."""

    def on_validation_start(self, trainer, pl_module) -> None:
        if trainer.state.fn == "validate":
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("when", ["building", "fit_start"])
def test_row_ctrl_c_before_the_first_step_says_nothing_was_saved(tmp_path, tool, monkeypatch, when):
    extra = []
    if when == "building":  # a Ctrl-C while the data, the net and the trainer are built
        def interrupted(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr("framegen.train._build", interrupted)
    else:
        extra = ["+callbacks.ctrl_c._target_=test_training_reliability.InterruptOnFitStart"]
    code, out, err = tool("train", "trainer=cpu", "trainer.max_steps=50", "logger=csv", *SMALL, *extra)
    lines = [ln for ln in err.splitlines() if ln.startswith("interrupted")]
    assert code == 130 and "Traceback" not in err and len(lines) == 1, err[-2000:]
    assert "nothing was saved" in lines[0] and "<run folder>" not in err and "ckpt_path=" not in out + err
    assert not (tmp_path / "hydra").exists()  # the run folder (Hydra's, the default) is not left behind empty


def test_row_ctrl_c_during_the_final_validation_exits_130_and_resumes(tmp_path, tool):
    from framegen.train import train

    run, common = tmp_path / "run", ["trainer=cpu", "logger=csv", "trainer.max_steps=2", *SMALL]
    code, out, err = tool("train", *common, f"paths.output_dir={run}",
                          "+callbacks.ctrl_c._target_=test_training_reliability.InterruptFinalValidation")
    last, best = run / "checkpoints" / "last.ckpt", run / "checkpoints" / "best_model.pth"
    assert code == 130 and "Traceback" not in err, err[-2000:]  # was exit 1 (Lightning's sys.exit) or -2
    assert "interrupted: stopped at step 2, after training" in err and f"ckpt_path={last}" in out
    assert last.is_file() and not best.exists()
    train(compose_train([*common, f"ckpt_path={last}"], tmp_path / "other"))  # the printed command finishes it
    assert best.is_file()


class InterruptAtExit(L.Callback):
    """At the end of training, registers an exit hook that sends this process SIGINT while it ends."""

    def on_train_end(self, trainer, pl_module) -> None:
        import atexit

        atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(2)))


def test_row_ctrl_c_while_the_process_ends_exits_130(tmp_path):
    run = tmp_path / "run"
    args = ["trainer=cpu", "trainer.max_steps=2", "logger=csv", f"paths.output_dir={run}", *SMALL,
            "+callbacks.late._target_=test_training_reliability.InterruptAtExit", f"hydra.run.dir={tmp_path / 'hydra'}"]
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "train.py"), *args], cwd=tmp_path, check=False,
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr[-3000:]  # was 0 or -2
    assert proc.stderr.strip().splitlines()[-1].startswith("interrupted while finishing: the work was done")
    assert (run / "checkpoints" / "best_model.pth").is_file() and "FakeTensor" not in proc.stdout + proc.stderr
