"""The interpolation nets and the registry that maps names to factories.

Every net has the one interface ``net(img0, img1, t) -> InterpolationOutput(frame, flows, mask)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from framegen.models.advanced_net import AdvancedFrameInterpolationNet
from framegen.models.classical import AverageNet, DISFlowNet, RepeatNet
from framegen.models.flow_net import FrameInterpolationNet
from framegen.models.layers import InterpolationOutput, backward_warp
from framegen.models.rife import RIFE425

_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "flow": FrameInterpolationNet,
    "advanced": AdvancedFrameInterpolationNet,
    "rife425": RIFE425,
    # classical optical flow, no weights (a baseline and the video tool's method=dis)
    "dis": DISFlowNet,
    # no motion at all: baselines, and the video tool's method=average / method=repeat
    "average": AverageNet,
    "repeat": RepeatNet,
}


def available() -> list[str]:
    """Names :func:`build_net` accepts."""
    return sorted(_REGISTRY)


def register(name: str, factory: Callable[..., nn.Module]) -> None:
    """Add an architecture under ``name`` (the factory takes keyword arguments only)."""
    if name in _REGISTRY:
        raise ValueError(f"a net named {name!r} is already registered")
    _REGISTRY[name] = factory


def build_net(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered net by name, e.g. ``build_net("flow", hidden_dim=64)``."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown net {name!r}; available: {', '.join(available())}") from None
    return factory(**kwargs)


def normalize_arch(arch: dict[str, Any]) -> dict[str, Any]:
    """``{"name", **kwargs}`` with the factory's defaults filled in and sequences as lists, so two descriptions of the
    same architecture compare equal."""
    kwargs = {k: v for k, v in arch.items() if k != "name"}
    factory = _REGISTRY.get(arch.get("name"))
    if factory is not None:
        for name, p in inspect.signature(factory).parameters.items():
            if p.default is not inspect.Parameter.empty:
                kwargs.setdefault(name, p.default)
    return {"name": arch.get("name"), **{k: list(v) if isinstance(v, tuple) else v for k, v in sorted(kwargs.items())}}


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


__all__ = [
    "RIFE425",
    "AdvancedFrameInterpolationNet",
    "DISFlowNet",
    "FrameInterpolationNet",
    "InterpolationOutput",
    "available",
    "backward_warp",
    "build_net",
    "count_parameters",
    "normalize_arch",
    "register",
]
