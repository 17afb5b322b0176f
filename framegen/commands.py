"""The tools: ``framegen interpolate|train|evaluate|benchmark|corpus [key=value ...]`` (installed as a console
script by ``pip install -e .``) and the scripts in ``scripts/``, which call the same functions.

Each tool is a thin ``@hydra.main`` around the library call; this module adds what every tool shares: one-line
errors with a non-zero exit, the command line read before Hydra runs (:mod:`framegen.command_line`: unknown options
with the closest known name, path values passed as they are, ``--help``), and the process's phases and end
(:mod:`framegen.process`: SIGTERM like Ctrl-C, a Ctrl-C at any moment one ``interrupted`` line and exit 130).
"""

from __future__ import annotations

import difflib
import logging
import re
import sys

from omegaconf import DictConfig, OmegaConf

from framegen import config_dir
from framegen.command_line import check_overrides, print_help, print_text, quote_home_paths, quote_path_values
from framegen.errors import FramegenError, out_of_memory
from framegen.process import (
    STARTING_LINE,
    discard_untouched_run_folder,
    end_process,
    put_back_handlers,
    quiet_logs,
    run_ends,
    run_starts,
    still_starting,
    tool_starts,
)

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


def _prepare(tool: str) -> None:
    """Before Hydra sees the command line: --help, ``~`` and special characters in paths, and unknown options as one
    line."""
    quiet_logs()
    multirun = any(a in ("-m", "--multirun") for a in sys.argv[1:])
    sys.argv[1:] = quote_path_values(quote_home_paths(sys.argv[1:]), multirun=multirun)
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print_help(tool, *TOOLS[tool])
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
    found = tool_starts()
    try:
        _prepare(tool)
        return _MAINS[tool]()
    except KeyboardInterrupt:
        if still_starting():
            discard_untouched_run_folder()
            print(STARTING_LINE, file=sys.stderr)
        else:
            print(f"interrupted: {tool} stopped before it finished", file=sys.stderr)
        sys.exit(130)
    finally:
        put_back_handlers(found)


def run_command(tool: str) -> None:
    """Run one tool as a command (``scripts/<tool>.py``, ``framegen <tool>``) and end the process."""
    try:
        run_tool(tool)
        code = 0
    except SystemExit as exc:
        if still_starting():  # --help, a mistake in the command: nothing heavy loaded, the usual exit
            raise
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    end_process(code)


def main() -> None:
    """``framegen <tool> [key=value ...]``."""
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help", "help"):
        print_text("\n".join(["framegen <tool> [key=value ...]   (framegen <tool> --help lists its main options)\n",
                               *(f"  {name:<12} {what}" for name, (_, what) in TOOLS.items()),
                               f"  {'models':<12} the interpolators framegen knows (framegen models [name])"]))
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    tool = sys.argv[1]
    if tool == "models":  # no Hydra config: the catalogue's table, or one entry
        from framegen import catalogue  # lazy: torch loads for this command only

        try:
            print_text(catalogue.describe(sys.argv[2]) if len(sys.argv) > 2 else catalogue.summary())
        except ValueError as err:
            fail(err)
        sys.exit(0)
    if tool not in TOOLS:
        near = difflib.get_close_matches(tool, list(TOOLS), n=1)
        fail(f"unknown tool {tool}" + (f", did you mean {near[0]}?" if near else f"; use one of {', '.join(TOOLS)}"))
    sys.argv = [f"framegen {tool}", *sys.argv[2:]]
    run_command(tool)
