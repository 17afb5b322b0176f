"""The command line: ``framegen interpolate|train|evaluate|benchmark|corpus [key=value ...]`` (installed as a console
script by ``pip install -e .``) and the scripts in ``scripts/``, which call the same functions.

Each tool is a thin ``@hydra.main`` around the library call; this module adds what every tool shares: one-line
errors with a non-zero exit, SIGTERM handled like Ctrl-C, unknown options caught before Hydra runs (with the closest
known name), and ``--help`` listing each tool's main options from the comments of its config file.
"""

from __future__ import annotations

import difflib
import logging
import re
import signal
import sys
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


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def exit_on_signals() -> None:
    """SIGTERM (a `kill`, a scheduler stopping the job) is handled like Ctrl-C: the same clean-up runs."""
    try:
        signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread (e.g. inside a notebook helper)
        pass


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


def _prepare(tool: str) -> None:
    """Before Hydra sees the command line: --help, ``~`` in paths, and unknown options as one line."""
    sys.argv[1:] = quote_home_paths(sys.argv[1:])
    args = sys.argv[1:]
    if any(a in ("-h", "--help") for a in args):
        print_help(tool)
        sys.exit(0)
    problem = check_overrides(TOOLS[tool][0], [a for a in args if not a.startswith("-")])
    if problem:
        fail(problem)
    exit_on_signals()


# ------------------------------------------------------------------------------------------ the tools
def _hydra_main(config_name: str):
    """``hydra.main`` for a tool, with Hydra imported when the tool runs (inside run_tool's Ctrl-C handling)."""
    def wrap(task):
        def call():
            import hydra  # lazy: inside run_tool's Ctrl-C handling, and `framegen --help` answers without it

            return hydra.main(version_base="1.3", config_path=_CONF, config_name=config_name)(task)()

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

    try:
        return optimized_metric(cfg, train(cfg))
    except KeyboardInterrupt as err:  # train() saved last.ckpt and printed the resume command, when it could
        print(f"interrupted: {err}" if str(err) else "interrupted: resume with "
              "ckpt_path=<run folder>/checkpoints/last.ckpt", file=sys.stderr)
        sys.exit(130)
    except Exception as err:  # a DataLoader worker's error comes back wrapped, whatever its type
        message = worker_error(err) or config_error(err)
        if message is None and not isinstance(err, (FramegenError, FileNotFoundError)):
            raise
        fail(message or err, code=1)  # a training run that cannot go on ends with 1, whatever stopped it
    return None


@_hydra_main("evaluate")
def _evaluate(cfg: DictConfig) -> None:
    from framegen.evaluation.evaluate import evaluate, markdown_table  # lazy: torch loads for this tool only

    try:
        summary = evaluate(cfg)
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)
    print(markdown_table(summary))
    print(f"written to {cfg.output_dir}")


@_hydra_main("benchmark")
def _benchmark(cfg: DictConfig) -> None:
    from framegen.evaluation.benchmark_runner import run_benchmark  # lazy: torch loads for this tool only

    try:
        print(run_benchmark(cfg))
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)


@_hydra_main("prepare_corpus")
def _corpus(cfg: DictConfig) -> None:
    from framegen.data.corpus import items_from_config, prepare  # lazy: this tool's library only

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

    try:
        print(data_speed_report(cfg, sys.argv[1:]))
    except (FramegenError, FileNotFoundError, ValueError) as err:
        fail(err)


@_hydra_main("app")
def _app(cfg: DictConfig) -> None:
    from framegen.app import serve  # lazy: this tool's library only

    try:
        serve(cfg)
    except FramegenError as err:
        fail(err)
    except KeyboardInterrupt:
        print("framegen app stopped", file=sys.stderr)


_MAINS = {"interpolate": _interpolate, "train": _train, "evaluate": _evaluate, "benchmark": _benchmark,
          "corpus": _corpus, "data-speed": _data_speed, "app": _app}


def run_tool(tool: str):
    """Run one tool on ``sys.argv[1:]`` (what ``scripts/<tool>.py`` calls). Ctrl-C while Hydra and torch are still
    being imported (the first second or two) ends it with one line, as later."""
    try:
        _prepare(tool)
        return _MAINS[tool]()
    except KeyboardInterrupt:
        print("interrupted while starting: nothing was written", file=sys.stderr)
        sys.exit(130)


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
    run_tool(tool)
