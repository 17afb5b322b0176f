"""The command line: ``framegen interpolate|train|evaluate|benchmark|corpus [key=value ...]`` (installed as a console
script by ``pip install -e .``) and the scripts in ``scripts/``, which call the same functions.

Each tool is a thin ``@hydra.main`` around the library call; this module adds what every tool shares: one-line
errors with a non-zero exit, SIGTERM handled like Ctrl-C, a Ctrl-C at any moment (while Python imports, while the
tool runs, while the process ends) as one ``interrupted`` line and exit 130, unknown options caught before Hydra runs
(with the closest known name), path values with spaces, brackets or quotes passed as they are, and ``--help``
listing each tool's main options from the comments of its config file.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import logging
import os
import re
import shutil
import signal
import sys
import threading
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from framegen import config_dir
from framegen.errors import FramegenError, out_of_memory

log = logging.getLogger(__name__)

TOOLS = {
    "interpolate": ("interpolate", "raise a video's frame rate (a file, a folder of videos, or numbered images)"),
    "train": ("train", "train a model (Lightning + Hydra): model=, data=, trainer=, experiment=, ..."),
    "evaluate": ("evaluate", "score methods on VFI test sets, your own triplets, or a video"),
    "benchmark": ("benchmark", "speed of nets and peers per frame, whole videos, real-time latency, curves"),
    "corpus": ("prepare_corpus", "fetch the real-footage corpus from Debian packages (data/corpus, manifest)"),
    "data-speed": ("benchmark_data", "speed of the data pipeline on videos: decoding, cache build, DataLoader"),
    "app": ("app", "a local web page: drop a video, watch it progress, compare, download (framegen[app])"),
}
_CONF = str(config_dir())


# ------------------------------------------------------------------------------------------ shared behaviour
def fail(err: BaseException | str, code: int = 2) -> None:
    """Print ``error: <one line>`` on stderr and exit with ``code``."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    print(f"error: {text}", file=sys.stderr)
    sys.exit(code)


# ------------------------------------------------------------------------------------------ signals
# A tool goes through three phases, and a Ctrl-C (SIGINT) or SIGTERM means something else in each:
#   starting  Python imports Hydra, torch, Lightning (seconds). A KeyboardInterrupt raised inside an import can leave
#             a half-imported module behind (numpy's __getattr__ then recurses without end, a RecursionError
#             traceback), and there is nothing to save yet: the process ends at once with one line (and the run folder
#             Hydra made for it, still empty, is removed).
#   running   the tool's own handling: KeyboardInterrupt, which each tool turns into its line (training saves
#             last.ckpt first). One that arrives inside an import waits until the import is done.
#   done      the work is complete; the process ends at once with one line, exit 130 (the interpreter's own teardown
#             puts the default handler back and a Ctrl-C there killed the process: exit -2).
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


def run_starts() -> None:
    """From here on a Ctrl-C (or SIGTERM) is the tool's to handle: a KeyboardInterrupt (each tool calls this once
    its libraries are imported)."""
    _state.update(phase="running", deferred=False)


def run_ends() -> None:
    """The tool's work is complete: a Ctrl-C from here on ends the process at once, exit 130."""
    _state["phase"] = "done"


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


def quiet_logs() -> None:
    """Loggers whose INFO lines mean nothing to a user: torch's FakeTensor cache statistics, which it logs when the
    process ends after an interrupted start-up (torch's own logging set-up, which holds them back, never ran)."""
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.WARNING)


def _flatten(cfg, prefix: str = "") -> set[str]:
    keys = set()
    if OmegaConf.is_dict(cfg):
        for k in cfg.keys():
            path = f"{prefix}{k}"
            keys.add(path)
            node = cfg._get_node(k)
            if OmegaConf.is_dict(node):
                keys |= _flatten(node, path + ".")
    return keys


def known_keys(config_name: str, overrides: list[str] | None = None) -> set[str]:
    """Every dotted key of a tool's composed config (with the given group choices applied)."""
    # lazy, as in _hydra_main: Hydra loads inside run_tool's Ctrl-C handling
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=_CONF, version_base="1.3"):
            cfg = compose(config_name, overrides=overrides or [])
    finally:
        GlobalHydra.instance().clear()
    return _flatten(cfg)


_OVERRIDE = re.compile(r"^(?P<prefix>\+\+|\+|~)?(?P<key>[A-Za-z_][\w.@/-]*)=")


def check_overrides(config_name: str, args: list[str]) -> str | None:
    """A one-line complaint about the first unknown option in ``args`` (``factr=2``, ``+factr=2``), or None.

    Group choices (``model=advanced``) and nested additions (``+trainer.profiler=simple``) are left to Hydra.
    """
    config_groups = {d.name for d in Path(_CONF).iterdir() if d.is_dir()}
    parsed = [(m.group("prefix") or "", m.group("key")) for a in args if (m := _OVERRIDE.match(a))]
    parsed = [(p, k) for p, k in parsed if k not in config_groups]
    if not parsed:
        return None
    groups = [a for a in args if (m := _OVERRIDE.match(a)) and m.group("key") in config_groups]
    try:
        keys = known_keys(config_name, groups)
    except Exception:  # noqa: BLE001 - a bad group choice: Hydra's own message says it best
        return None
    tops = {k.split(".")[0] for k in keys}
    for prefix, key in parsed:
        if key.startswith("hydra") or "/" in key or "@" in key:
            continue
        top = key.split(".")[0]
        if top not in tops or (not prefix and key not in keys):
            pool = sorted(tops) if top not in tops else sorted(k for k in keys if k.startswith(top + "."))
            near = difflib.get_close_matches(key if top in tops else top, pool, n=1, cutoff=0.6)
            hint = f", did you mean {near[0]}?" if near else " (run with --help for the options)"
            return f"unknown option {key}{hint}"
    return None


def option_help(config_name: str) -> list[tuple[str, str]]:
    """(option, one-line description) for the top-level keys of a config file, from the comments above them."""
    path = Path(_CONF) / f"{config_name}.yaml"
    out, comment = [], []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            text = line.lstrip("# ").strip()
            if text and not text.startswith(("@package", "python ", "framegen ")):
                comment.append(text)
            continue
        m = re.match(r"^([A-Za-z_]\w*):(.*)$", line)
        if m and m.group(1) not in ("defaults", "hydra", "task_name", "paths"):
            default = m.group(2).strip()
            desc = " ".join(comment) or "(see the config file)"
            out.append((f"{m.group(1)}={default}" if default else f"{m.group(1)}.*", desc))
        if not line.startswith(" "):
            comment = []
    return out


def print_help(tool: str) -> None:
    config_name, what = TOOLS[tool]
    print(f"framegen {tool} [key=value ...]: {what}\n")
    print(f"main options (all of them: conf/{config_name}.yaml; Hydra's own: --hydra-help):")
    for option, desc in option_help(config_name):
        print(f"  {option:<28} {desc}")


def quote_home_paths(args: list[str]) -> list[str]:
    """``key=~/videos`` as the shell passes it (bash expands ``~`` only at the start of a word) is quoted for Hydra's
    parser, which cannot read a bare ``~``; framegen expands it when it uses the path."""
    out = []
    for a in args:
        m = _OVERRIDE.match(a)
        value = a[m.end():] if m else ""
        out.append(f"{a[:m.end()]}'{value}'" if m and value.startswith("~") and "'" not in value else a)
    return out


# options whose values are file or folder paths (conf/*.yaml): their values are passed on as they are typed
_PATH_NAMES = {"input", "output", "ckpt", "ckpt_path", "init_from", "video", "method", "benchmark", "root", "dir",
               "dirpath", "manifest", "quality", "speed", "e2e", "plot", "teacher"}
_PLAIN = re.compile(r"[\w./:@%+-]*", re.ASCII)


def is_path_option(key: str) -> bool:
    """``input``, ``data.root``, ``paths.log_dir``, ``hydra.run.dir``, ``init_from``, ...: an option that names a
    file or a folder (a checkpoint as ``method=`` too)."""
    name = key.lstrip("+~").rsplit(".", 1)[-1]
    return (key.lstrip("+~").startswith(("paths.", "outputs.")) or name in _PATH_NAMES
            or name.endswith(("_dir", "_path", "_root", "_file")))


def hydra_quote(value: str) -> str:
    """``value`` in Hydra's quoted form, read back as exactly ``value``: ``'clip (1).mp4'``, ``'c\\'est ça.mp4'``
    (a quote is escaped with a backslash; backslashes before a quote or at the end are doubled)."""
    return "'" + re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value) + "'"


def quote_path_values(args: list[str], *, multirun: bool = False) -> list[str]:
    """``input=clip (1).mp4``, ``output=c'est ça [v2].mp4``: a path option's value that Hydra's override grammar
    would refuse (parentheses, quotes, brackets, braces, commas, ``=``, non-ASCII letters, ``#``, ``;``) or change
    (leading spaces) is rewritten into Hydra's quoted form, so file names pass as they are typed. A value Hydra reads
    as itself, an already quoted one, a list or dict on purpose (``video=[a.mp4,b.mp4]``), ``null`` and, with
    ``-m``, a sweep (``input=a.mp4,b.mp4``) are left as they are."""
    out = []
    for a in args:
        m = _OVERRIDE.match(a)
        value = a[m.end():] if m else ""
        if m and is_path_option(m.group("key")) and not _PLAIN.fullmatch(value) and not _reads_as_itself(a, value,
                                                                                                       multirun):
            quoted = hydra_quote(value)
            if _parsed_value(a[:m.end()] + quoted) == value:
                a = a[:m.end()] + quoted
        out.append(a)
    return out


_UNPARSED = object()


def _parsed_value(override: str):
    """What Hydra's override parser makes of ``key=value`` (a ChoiceSweep for ``a,b``), or _UNPARSED."""
    # lazy: Hydra's parser (antlr) loads only when a path holds characters it may refuse
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return OverridesParser.create().parse_override(override).value()
    except Exception:  # noqa: BLE001 - Hydra's grammar refuses it: the caller quotes it
        return _UNPARSED


def _reads_as_itself(override: str, value: str, multirun: bool) -> bool:
    parsed = _parsed_value(override)
    if parsed is _UNPARSED:
        return False
    if isinstance(parsed, str):
        return parsed == value or value[:1] in ("'", '"')  # read as typed, or quoted by the user
    if type(parsed).__name__.endswith("Sweep"):  # input=a,b.mp4: a file name with a comma, unless sweeping (-m)
        return multirun
    return True  # a list, a dict, a number, null: meant as such


def _prepare(tool: str) -> None:
    """Before Hydra sees the command line: --help, ``~`` and special characters in paths, and unknown options as one
    line."""
    quiet_logs()
    multirun = any(a in ("-m", "--multirun") for a in sys.argv[1:])
    sys.argv[1:] = quote_path_values(quote_home_paths(sys.argv[1:]), multirun=multirun)
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print_help(tool)
        sys.exit(0)
    problem = check_overrides(TOOLS[tool][0], [a for a in args if not a.startswith("-")])
    if problem:
        fail(problem)


# ------------------------------------------------------------------------------------------ the tools
def _hydra_main(config_name: str):
    """``hydra.main`` for a tool, with Hydra imported when the tool runs (inside run_tool's Ctrl-C handling)."""
    def wrap(task):
        def job(cfg: DictConfig):
            result = task(cfg)
            run_ends()  # the work is complete: a Ctrl-C now ends the process at once (exit 130)
            return result

        job.__name__, job.__qualname__ = task.__name__, task.__qualname__

        def call():
            import hydra  # lazy: inside run_tool's Ctrl-C handling, and `framegen --help` answers without it

            return hydra.main(version_base="1.3", config_path=_CONF, config_name=config_name)(job)()

        call.__wrapped__ = task
        return call

    return wrap




def config_error(err: BaseException) -> str | None:
    """One line for an object a config could not build (Hydra's InstantiationException: ``trainer.max_steps=-5``
    makes Lightning's Trainer refuse), None for any other error."""
    if type(err).__name__ != "InstantiationException":
        return None
    text = str(err).strip()
    m = re.match(r"Error in call to target '([^']+)':\s*(\w+)\((['\"])(.*)\3\)", text, re.DOTALL)
    if m:
        key = re.search(r"full_key: ([\w.]+)", text)
        where = f"{key.group(1)} ({m.group(1).rsplit('.', 1)[-1]})" if key else m.group(1).rsplit(".", 1)[-1]
        return f"{where}: {m.group(4).splitlines()[0]}"
    return " ".join(ln.strip() for ln in text.splitlines()[:2] if ln.strip())


def worker_error(err: BaseException) -> str | None:
    """One line for a failed DataLoader worker (the error it raised, or its death), None for any other error."""
    text = str(err).strip()
    if "in DataLoader worker process" in text:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        cause = lines[-1] if len(lines) > 1 else type(err).__name__
        return f"a data-loading worker failed: {cause} (data.num_workers=0 shows where)"
    if "DataLoader worker" in text and any(k in text for k in ("exited unexpectedly", "killed by signal")):
        return (f"a data-loading worker died ({text.splitlines()[0]}): out of memory, or /dev/shm too small? "
                f"try fewer workers or data.num_workers=0")
    return None


@_hydra_main("interpolate")
def _interpolate(cfg: DictConfig) -> None:
    # each tool's library loads only when that tool runs (torch, Lightning: seconds); this one is torch-free:
    # run() checks the paths and options before it loads torch
    from framegen.inference.video_tool import interrupted_message, run

    run_starts()  # torch loads inside run(), after the checks: a Ctrl-C there waits for the import to end
    try:
        result = run(cfg)
    except (FramegenError, FileNotFoundError, ValueError, OSError) as err:
        fail(err)
    except KeyboardInterrupt:
        print(interrupted_message(cfg), file=sys.stderr)
        sys.exit(130)
    except (MemoryError, RuntimeError) as err:  # torch.OutOfMemoryError is a RuntimeError
        message = out_of_memory(err, cfg)
        if message is None:
            raise
        fail(message)
    if result.get("failed"):
        fail(f"{len(result['failed'])} file(s) failed (listed above); the others are done", code=1)


@_hydra_main("train")
def _train(cfg: DictConfig) -> float | None:
    from framegen.train import optimized_metric, train  # lazy: torch and Lightning load for this tool only

    run_starts()
    try:
        return optimized_metric(cfg, train(cfg))
    except KeyboardInterrupt as err:  # train() saved last.ckpt and printed the resume command, when it could
        discard_untouched_run_folder()  # stopped before its first save: no empty run folder is left behind
        print(f"interrupted: {err}" if str(err) else "interrupted: nothing was saved", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # a DataLoader worker's error comes back wrapped, whatever its type
        discard_untouched_run_folder()  # a run refused before it saved anything leaves no empty run folder
        message = worker_error(err) or config_error(err)
        if message is None and not isinstance(err, (FramegenError, FileNotFoundError)):
            raise
        fail(message or err, code=1)  # a training run that cannot go on ends with 1, whatever stopped it
    return None


@_hydra_main("evaluate")
def _evaluate(cfg: DictConfig) -> None:
    from framegen.evaluation.evaluate import evaluate, markdown_table  # lazy: torch loads for this tool only

    run_starts()

    try:
        summary = evaluate(cfg)
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)
    print(markdown_table(summary))
    print(f"written to {cfg.output_dir}")


@_hydra_main("benchmark")
def _benchmark(cfg: DictConfig) -> None:
    from framegen.evaluation.benchmark_runner import run_benchmark  # lazy: torch loads for this tool only

    run_starts()

    try:
        print(run_benchmark(cfg))
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)


@_hydra_main("prepare_corpus")
def _corpus(cfg: DictConfig) -> None:
    from framegen.data.corpus import items_from_config, prepare  # lazy: this tool's library only

    run_starts()

    logging.getLogger("framegen").setLevel(logging.INFO)
    items = items_from_config(OmegaConf.to_container(cfg.entries, resolve=True))
    try:
        rows = prepare(items, cfg.out_dir, download_dir=cfg.download_dir, manifest=cfg.manifest)
    except FramegenError as err:
        fail(err)
    for kind, split in (("video", "train"), ("video", "val"), ("photo", "train")):
        sel = [r for r in rows if r.kind == kind and r.split == split]
        print(f"{kind}s ({split}): {len(sel)} files, {sum(r.frames for r in sel)} frames")
    print(f"corpus in {cfg.out_dir}; manifest {cfg.manifest}")


@_hydra_main("benchmark_data")
def _data_speed(cfg: DictConfig) -> None:
    from framegen.evaluation.data_speed import data_speed_report  # lazy: torch loads for this tool only

    run_starts()

    try:
        print(data_speed_report(cfg, sys.argv[1:]))
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)


@_hydra_main("app")
def _app(cfg: DictConfig) -> None:
    from framegen.app import serve  # lazy: this tool's library only

    run_starts()

    try:
        serve(cfg)
    except FramegenError as err:
        fail(err)
    except KeyboardInterrupt:
        print("framegen app stopped", file=sys.stderr)


_MAINS = {"interpolate": _interpolate, "train": _train, "evaluate": _evaluate, "benchmark": _benchmark,
          "corpus": _corpus, "data-speed": _data_speed, "app": _app}


def run_tool(tool: str):
    """Run one tool on ``sys.argv[1:]``, in this process (tests; :func:`run_command` is what ``scripts/<tool>.py``
    and ``framegen <tool>`` run). Ctrl-C while Hydra and torch are still being imported (the first seconds) ends the
    process at once with one line, exit 130; the signal handlers found are put back at the end."""
    _state.update(phase="starting", deferred=False, redelivered=False, exit_code=0)
    found = _install_signal_handlers()
    try:
        _prepare(tool)
        return _MAINS[tool]()
    except KeyboardInterrupt:
        if _state["phase"] == "starting":
            discard_untouched_run_folder()
            print(STARTING_LINE, file=sys.stderr)
        else:
            print(f"interrupted: {tool} stopped before it finished", file=sys.stderr)
        sys.exit(130)
    finally:
        for signum, handler in found.items():
            if handler is not None:
                signal.signal(signum, handler)


def run_command(tool: str) -> None:
    """Run one tool as a command (``scripts/<tool>.py``, ``framegen <tool>``) and end the process."""
    try:
        run_tool(tool)
        code = 0
    except SystemExit as exc:
        if _state["phase"] == "starting":  # --help, a mistake in the command: nothing heavy loaded, the usual exit
            raise
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    end_process(code)


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


def main() -> None:
    """``framegen <tool> [key=value ...]``."""
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help", "help"):
        print("framegen <tool> [key=value ...]   (framegen <tool> --help lists its main options)\n")
        for name, (_, what) in TOOLS.items():
            print(f"  {name:<12} {what}")
        print(f"  {'models':<12} the interpolators framegen knows (framegen models [name])")
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    tool = sys.argv[1]
    if tool == "models":  # no Hydra config: the catalogue's table, or one entry
        from framegen import catalogue  # lazy: torch loads for this command only

        try:
            print(catalogue.describe(sys.argv[2]) if len(sys.argv) > 2 else catalogue.summary())
        except ValueError as err:
            fail(err)
        sys.exit(0)
    if tool not in TOOLS:
        near = difflib.get_close_matches(tool, list(TOOLS), n=1)
        fail(f"unknown tool {tool}" + (f", did you mean {near[0]}?" if near else f"; use one of {', '.join(TOOLS)}"))
    sys.argv = [f"framegen {tool}", *sys.argv[2:]]
    run_command(tool)
