"""framegen: a PyTorch Lightning + Hydra framework and tool for video frame interpolation."""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

__version__ = "0.1.0"


def project_root() -> Path:
    """The checkout framegen is installed from (``pip install -e .``): the folder that holds ``conf/``."""
    return Path(__file__).resolve().parent.parent


def config_dir() -> Path:
    """The Hydra configs (``conf/`` of the checkout)."""
    return project_root() / "conf"


def _register_resolvers() -> None:
    """``${framegen.root:}`` in the configs: the checkout, so runs land in its logs/ wherever they are started."""
    if not OmegaConf.has_resolver("framegen.root"):
        OmegaConf.register_new_resolver("framegen.root", lambda: str(project_root()))


_register_resolvers()
