"""Reading a tool's command line before Hydra does: unknown options caught (with the closest known name), ``~`` and
path values with spaces, brackets or quotes passed as they are typed, and ``--help`` listing a tool's main options
from the comments of its config file. ``framegen.commands`` calls these before it hands the command line to Hydra.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path

from omegaconf import OmegaConf

from framegen import config_dir

_CONF = str(config_dir())


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
    # lazy, as in commands._hydra_main: Hydra loads inside run_tool's Ctrl-C handling
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


def print_help(tool: str, config_name: str, what: str) -> None:
    """``--help``: what ``tool`` does and its main options (those of ``conf/<config_name>.yaml``). A reader that
    stops early (``--help | head``) ends it quietly."""
    lines = [f"framegen {tool} [key=value ...]: {what}\n",
             f"main options (all of them: conf/{config_name}.yaml; Hydra's own: --hydra-help):",
             *(f"  {option:<28} {desc}" for option, desc in option_help(config_name))]
    print_text("\n".join(lines))


def print_text(text: str) -> None:
    """Print ``text`` to stdout; a reader that stops early (``| head``) ends it quietly."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit


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
