"""Export a net for deployment: ONNX (opset >= 16, for grid_sample), TorchScript, and torch.export programs.

The exported graph takes (img0, img1, t) with images (B, 3, H, W) in [0, 1] at the size given at export time and
t of shape (B,), and returns the frame (B, 3, H, W). Flows and mask are left out of the graph.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn


class FrameOnly(nn.Module):
    """The one interface reduced to tensors in, frame out (what runtimes want), at a fixed flow ``scale``."""

    def __init__(self, net: nn.Module, scale: float = 1.0) -> None:
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor) -> Tensor:
        return self.net(img0, img1, t, scale=self.scale).frame


def _example(height: int, width: int, batch: int = 1) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    return (torch.rand(batch, 3, height, width, generator=g), torch.rand(batch, 3, height, width, generator=g),
            torch.full((batch,), 0.5))


def export_onnx(net: nn.Module, path: str | os.PathLike, *, height: int, width: int, opset: int = 17,
                scale: float = 1.0) -> Path:
    """Write an ONNX model for inputs of ``height`` x ``width`` (batch dimension dynamic), flows estimated at
    ``scale`` of that size."""
    if opset < 16:
        raise ValueError(f"grid_sample needs ONNX opset >= 16, got {opset}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = FrameOnly(net, scale).eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, _example(height, width), str(path), opset_version=opset, dynamo=False,
                          input_names=["img0", "img1", "t"], output_names=["frame"],
                          dynamic_axes={"img0": {0: "batch"}, "img1": {0: "batch"}, "t": {0: "batch"},
                                        "frame": {0: "batch"}})
    return path


def export_torchscript(net: nn.Module, path: str | os.PathLike, *, height: int, width: int) -> Path:
    """A traced TorchScript module for ``height`` x ``width`` inputs (``torch.jit.load`` to run it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(FrameOnly(net).eval(), _example(height, width), check_trace=False)
    traced.save(str(path))
    return path


def export_program(net: nn.Module, path: str | os.PathLike, *, height: int, width: int) -> Path:
    """A ``torch.export`` program (``.pt2``) for ``height`` x ``width`` inputs (``torch.export.load`` to run it)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        program = torch.export.export(FrameOnly(net).eval(), _example(height, width))
    torch.export.save(program, str(path))
    return path
