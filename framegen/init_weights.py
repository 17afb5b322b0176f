"""Starting a net from another checkpoint's weights (``init_from=`` of training): the same architecture, a flow net
grown by coarser scales, RIFE 4.25's published weights, or the light net inside the advanced one."""

from __future__ import annotations

import logging
from pathlib import Path

from torch import nn

from framegen.checkpoints import CheckpointError, checked_state, load_weights, read_checkpoint
from framegen.errors import TrainingError
from framegen.models import normalize_arch
from framegen.models.advanced_net import DEFAULT_FLOW
from framegen.models.flow_net import load_coarse_blocks, load_rife_weights, load_with_added_scales

log = logging.getLogger(__name__)


def checkpoint_arch(path: Path) -> tuple[dict, int | None]:
    """(the net a checkpoint holds, its global step) with one-line errors."""
    try:
        arch, _, info = read_checkpoint(path)
    except CheckpointError as err:
        raise TrainingError(str(err)) from None
    return arch, info.get("global_step")


def describe_arch(arch: dict) -> str:
    return f"a {arch.get('name')!r} net ({', '.join(f'{k}={v}' for k, v in arch.items() if k != 'name')})"


def init_from(net: nn.Module, arch: dict, path: Path) -> None:
    """Load the weights of the checkpoint at ``path`` into ``net`` (built from ``arch``): the same net, a flow net
    with fewer scales (its blocks move to their scales), RIFE 4.25's published weights into a flow net of RIFE blocks,
    or a light net into an advanced net's flow part. Anything else is a :class:`TrainingError` naming both."""
    found, _ = checkpoint_arch(path)
    have, want = normalize_arch(found), normalize_arch(arch)
    how = ("same" if _same_weights(have, want) else "scales" if _grows_scales(have, want) else
           "coarse" if _coarse_part(have, want) else "rife" if _rife_into_flow(have, want)
           else "flow" if _flow_into_advanced(have, want) else None)
    if how is None:
        raise TrainingError(f"init_from {path} holds {describe_arch(found)}, but the config builds "
                            f"{describe_arch(arch)} (choose the matching model=...)")
    state = read_checkpoint(path)[1]
    try:
        if how == "scales":  # a flow net with more (coarser) blocks: the old blocks move to their scales
            added = load_with_added_scales(net, checked_state(state, source=path), scales=have["scales"])
            log.info("initialised the net from %s; blocks %s (scales %s) are new", path, added,
                     [want["scales"][i] for i in added])
            return
        if how == "coarse":  # a flow net without the finer blocks: the others keep their weights
            dropped = load_coarse_blocks(net, checked_state(state, source=path), scales=have["scales"])
            log.info("initialised the net from %s without its blocks at scales %s", path, dropped)
            return
        if how == "rife":  # RIFE 4.25's weights into a flow net of RIFE blocks: the refinement net starts at zero
            load_rife_weights(net, checked_state(state, source=path))
            log.info("initialised the flow net's blocks and encoder from RIFE 4.25's weights in %s", path)
            return
        if how == "flow":  # a light net's weights as the advanced net's flow part: the rest starts from its init
            load_weights(net.flow, state, source=path)
            log.info("initialised the advanced net's flow part from %s (the context, attention and decoder are new)",
                     path)
            return
        load_weights(net, state, source=path)
    except (CheckpointError, ValueError) as err:
        raise TrainingError(str(err)) from None
    log.info("initialised the net from %s", path)


# settings that change how a net trains or starts, not the weights it holds: a run's weights continue under others
TRAINING_ONLY = ("train_flow", "out_gain")


def _same_weights(have: dict, want: dict) -> bool:
    """True when both describe the same weights (they may differ in :data:`TRAINING_ONLY` settings)."""
    def strip(arch: dict) -> dict:
        return {k: v for k, v in arch.items() if k not in TRAINING_ONLY}
    return strip(have) == strip(want)


def _grows_scales(have: dict, want: dict) -> bool:
    """True when ``want`` is the flow net ``have`` with extra scales (the same widths where they meet)."""
    if have["name"] != "flow" or want["name"] != "flow":
        return False
    rest = {k: v for k, v in have.items() if k != "scales"} == {k: v for k, v in want.items() if k != "scales"}
    return rest and set(have["scales"]) < set(want["scales"]) and min(have["scales"]) == min(want["scales"])


def _coarse_part(have: dict, want: dict) -> bool:
    """True when ``want`` is the flow net ``have`` without its finest blocks (the same widths where they meet; it may
    read its features at another ``feature_scale``)."""
    if have["name"] != "flow" or want["name"] != "flow" or len(want["scales"]) >= len(have["scales"]):
        return False
    n = len(want["scales"])
    free = ("scales", "widths", "feature_scale")
    rest = {k: v for k, v in have.items() if k not in free} == {k: v for k, v in want.items() if k not in free}
    return rest and have["scales"][:n] == want["scales"] and have["widths"][:n] == want["widths"]


def _rife_into_flow(have: dict, want: dict) -> bool:
    """True when ``have`` is RIFE 4.25 and ``want`` a flow net of RIFE blocks with its widths, scales and layers."""
    if have["name"] != "rife425" or want["name"] != "flow" or want.get("block") != "rife":
        return False
    return all(have[k] == want.get(k) for k in ("widths", "scales", "num_layers", "feature_channels"))


def _flow_into_advanced(have: dict, want: dict) -> bool:
    """True when ``have`` is the flow net that ``want``, an advanced net, estimates its flows with."""
    if have["name"] != "flow" or want["name"] != "advanced":
        return False
    return normalize_arch({"name": "flow", **(want.get("flow") or DEFAULT_FLOW)}) == have
