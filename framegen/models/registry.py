"""The architecture registry: names -> factories. Each net registers itself where it is defined
(``@register("flow")`` above its class); ``model.net.name=``, :func:`build_net` and the ``arch`` a checkpoint records
all go through it. Code outside the package (a notebook, a plugin) calls ``register("<name>")(factory)`` before it
builds the net."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

Factory = TypeVar("Factory", bound=Callable[..., nn.Module])
_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str, factory: Callable[..., nn.Module] | None = None):
    """Add an architecture under ``name`` (its factory takes keyword arguments only; a name is taken once). As a
    decorator: ``@register("flow")``; or ``register("flow", factory)``."""
    def add(f: Factory) -> Factory:
        if name in _REGISTRY:
            raise ValueError(f"a net named {name!r} is already registered")
        _REGISTRY[name] = f
        return f
    return add if factory is None else add(factory)


def available() -> list[str]:
    """Names :func:`build_net` accepts."""
    return sorted(_REGISTRY)


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
