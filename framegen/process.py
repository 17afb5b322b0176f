"""The process's life, from its start to its exit: what a Ctrl-C (SIGINT) or SIGTERM means at each moment, the Hydra
run folder of a run that saved nothing, and the end of the process.

A tool goes through three phases, and a Ctrl-C or SIGTERM (handled like Ctrl-C) means something else in each:
  starting  Python imports Hydra, torch, Lightning (seconds). A KeyboardInterrupt raised inside an import can leave
            a half-imported module behind (numpy's __getattr__ then recurses without end, a RecursionError
            traceback), and there is nothing to save yet: the process ends at once with one line (and the run folder
            Hydra made for it, still empty, is removed).
  running   the tool's own handling: KeyboardInterrupt, which each tool turns into its line (training saves
            last.ckpt first). One that arrives inside an import waits until the import is done.
  done      the work is complete; the process ends at once with one line, exit 130 (the interpreter's own teardown
            puts the default handler back and a Ctrl-C there killed the process: exit -2).
So a Ctrl-C at any moment (while Python imports, while the tool runs, while the process ends) is one ``interrupted``
line and exit 130. ``framegen.commands`` marks the phases (:func:`tool_starts`, :func:`run_starts`,
:func:`run_ends`) and ends the process with :func:`end_process`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

# ------------------------------------------------------------------------------------------ signals
STARTING_LINE = "interrupted while starting: nothing was written"
_FINISHING_LINE = "interrupted while finishing: the work was done and its files are complete"
_SIGNALS = ("SIGINT", "SIGTERM")
# process-wide, as the signal handlers that read it are: the phase, a signal waiting for an import, the exit code
_state = {"phase": "starting", "deferred": False, "redelivered": False, "exit_code": 0}


def _write_line(line: str) -> None:
    _flush_std_streams()
    os.write(2, (line + "\n").encode())


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or reentered stream: nothing more to write there
            stream.flush()


def _exit_now(line: str) -> None:
    """End the process at once with ``line`` and exit 130 (no clean-up of Python's: nothing is half-written)."""
    _write_line(line)
    os._exit(130)


def _inside_import(frame) -> bool:
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _redeliver(signum: int) -> None:
    _state["redelivered"] = True
    os.kill(os.getpid(), signum)


def _on_signal(signum, frame) -> None:
    phase = _state["phase"]
    if phase == "starting":
        with contextlib.suppress(Exception):  # the line and the exit come first
            discard_untouched_run_folder()
        _exit_now(STARTING_LINE)
    if phase == "done":
        if _state["exit_code"]:  # ending after an error: its line said it all
            _flush_std_streams()
            os._exit(_state["exit_code"])
        _exit_now(_FINISHING_LINE)
    redelivered, _state["redelivered"] = _state["redelivered"], False
    if _state["deferred"] and not redelivered:
        return  # one signal already waits for an import to end
    if _inside_import(frame):  # held until the import is done: a KeyboardInterrupt there breaks the module
        _state["deferred"] = True
        timer = threading.Timer(0.05, _redeliver, (signum,))
        timer.daemon = True
        timer.start()
        return
    _state["deferred"] = False
    raise KeyboardInterrupt


def _install_signal_handlers() -> dict:
    """Route SIGINT and SIGTERM through :func:`_on_signal`; returns the handlers found (to put back)."""
    found = {}
    for name in _SIGNALS:
        signum = getattr(signal, name)
        try:
            found[signum] = signal.signal(signum, _on_signal)
        except ValueError:  # not the main thread (e.g. inside a notebook helper)
            pass
    return found


def tool_starts() -> dict:
    """A tool starts in this process: the phase is ``starting`` again and SIGINT and SIGTERM go through
    :func:`_on_signal`; returns the handlers found (to put back with :func:`put_back_handlers`)."""
    _state.update(phase="starting", deferred=False, redelivered=False, exit_code=0)
    return _install_signal_handlers()


def still_starting() -> bool:
    """The tool has not reached :func:`run_starts` yet (its libraries still load, or its command was refused)."""
    return _state["phase"] == "starting"


def put_back_handlers(found: dict) -> None:
    """Put back the signal handlers :func:`tool_starts` found."""
    for signum, handler in found.items():
        if handler is not None:
            signal.signal(signum, handler)


def run_starts() -> None:
    """From here on a Ctrl-C (or SIGTERM) is the tool's to handle: a KeyboardInterrupt (each tool calls this once
    its libraries are imported)."""
    _state.update(phase="running", deferred=False)


def run_ends() -> None:
    """The tool's work is complete: a Ctrl-C from here on ends the process at once, exit 130."""
    _state["phase"] = "done"


# ------------------------------------------------------------------------------------------ the run folder
def _process_start() -> float | None:
    """When this process started (Linux: its /proc entry's ctime), or None where that is unknown."""
    try:
        return os.stat(f"/proc/{os.getpid()}").st_ctime
    except OSError:
        return None


def _hydra_run_folder() -> Path | None:
    """This invocation's Hydra run folder, None before Hydra set it (or outside Hydra). Imports nothing: it also
    runs in the signal handler while Hydra may still be importing."""
    hydra_config = getattr(sys.modules.get("hydra.core.hydra_config"), "HydraConfig", None)
    if hydra_config is None:
        return None
    try:
        return Path(hydra_config.get().runtime.output_dir)
    except Exception:  # noqa: BLE001 - not under @hydra.main, or Hydra not that far yet
        return None


def _nothing_saved_in(folder: Path) -> bool:
    """The folder holds nothing a run saved: Hydra's config copy and log, loggers' ``hparams.yaml``, empty folders."""
    for path in folder.rglob("*"):
        if path.is_symlink():
            return False
        if path.is_dir():
            continue
        parts = path.relative_to(folder).parts
        if not (parts[0] == ".hydra" and path.suffix == ".yaml" or len(parts) == 1 and path.suffix == ".log"
                or path.name == "hparams.yaml"):
            return False
    return True


def discard_untouched_run_folder() -> None:
    """Remove this invocation's Hydra run folder when this process made it and it holds nothing a run saved (a run
    refused or interrupted before its first save), so no empty run folder is left behind."""
    folder = _hydra_run_folder()
    if folder is None or not folder.is_dir():
        return
    config, start = folder / ".hydra" / "config.yaml", _process_start()
    made = config if config.is_file() else folder
    try:
        if start is None or made.stat().st_mtime < start - 1.0 or not _nothing_saved_in(folder):
            return  # a folder an earlier invocation wrote, one with a run's files (or no way to tell): kept
    except OSError:
        return
    _close_file_handlers_under(folder)
    shutil.rmtree(folder, ignore_errors=True)


def _close_file_handlers_under(folder: Path) -> None:
    """Detach and close the logging file handlers that write into ``folder`` (Hydra's log of this run), so nothing
    logged later tries to reopen a file in a folder that is gone."""
    for logger in [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                          if isinstance(lg, logging.Logger))]:
        for handler in list(logger.handlers):
            name = getattr(handler, "baseFilename", None)
            if name and Path(name).resolve().is_relative_to(folder.resolve()):
                logger.removeHandler(handler)
                handler.close()


# ------------------------------------------------------------------------------------------ the end
def quiet_logs() -> None:
    """Loggers whose INFO lines mean nothing to a user: torch's FakeTensor cache statistics, which it logs when the
    process ends after an interrupted start-up (torch's own logging set-up, which holds them back, never ran)."""
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.WARNING)


def end_process(code: int) -> None:
    """End the process as Python would (its threads, atexit hooks and logging finish), but without the interpreter's
    teardown of the modules: torch's takes a second or more, and there the default Ctrl-C handler is back, so a
    Ctrl-C killed the process (exit -2). A Ctrl-C meanwhile ends it with one line, exit 130 (after an error: at
    once, with the error's code)."""
    run_ends()
    _state["exit_code"] = code
    _install_signal_handlers()  # Lightning leaves SIGINT ignored after an interrupted validation
    shutdown_threads = getattr(threading, "_shutdown", None)  # what the interpreter calls first when it exits
    try:
        if shutdown_threads is not None:
            shutdown_threads()
        atexit._run_exitfuncs()  # the exit hooks (logging, multiprocessing, wandb) run as on exit
    finally:
        _flush_std_streams()
        os._exit(code)
