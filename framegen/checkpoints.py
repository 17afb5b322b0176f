"""One loader for trained nets: plain exports (``best_model.pth``) and Lightning checkpoints (``.ckpt``).

An export is a dict ``{"format": "framegen.net/1", "arch": {"name": ..., **kwargs}, "state_dict": ...,
"metrics": {...}}``; the architecture travels inside the file, so inference needs no config.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framegen.models import build_net

FORMAT = "framegen.net/1"
# the shipped default model, inside the package so an installed framegen finds it
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "default.pth"


class CheckpointError(ValueError):
    """The file is missing, unreadable or not a framegen checkpoint."""


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """torch.save to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
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


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """Return (arch, net state dict, info) from an export or a Lightning checkpoint of framegen."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"cannot read checkpoint {path}: {type(err).__name__}: {err}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path} is not a framegen checkpoint (a {type(obj).__name__}, not a dict)")
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


def resolve_checkpoint(ckpt: str | os.PathLike | None) -> Path:
    """``ckpt`` itself, or the shipped default model when it is None."""
    if ckpt is not None:
        return Path(ckpt)
    if not DEFAULT_WEIGHTS.is_file():
        raise CheckpointError(
            f"no checkpoint given and no shipped default model at {DEFAULT_WEIGHTS} yet; "
            f"pass ckpt=<best_model.pth or .ckpt> (train one with scripts/train.py)"
        )
    return DEFAULT_WEIGHTS


def load_net(path: str | os.PathLike, *, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Build the net described in the checkpoint and load its weights (strictly). Returns (net in eval mode, info)."""
    arch, state, info = read_checkpoint(path)
    kwargs = dict(arch)
    name = kwargs.pop("name")
    net = build_net(name, **kwargs)
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{path}: weights do not match the {name!r} architecture it names: {err}") from None
    info = {**info, "arch": arch}
    return net.to(map_location).eval(), info


def ship_weights(src: str | os.PathLike, dst: str | os.PathLike = DEFAULT_WEIGHTS, **info: Any) -> Path:
    """Release step of a model: any framegen checkpoint of ``src`` re-written as fp16 weights at ``dst``, with its
    metrics, step and epoch kept and ``info`` (recipe, hardware, note...) added. Returns ``dst``."""
    net, meta = load_net(src)
    kept = {k: meta[k] for k in ("global_step", "epoch") if meta.get(k) is not None}
    return export_net(dst, net, meta["arch"], metrics=meta.get("metrics"), half=True, **kept, **info)

