"""Run a net through another inference runtime on the CPU: OpenVINO or ONNX Runtime, from framegen's own ONNX export.

PyTorch's eager mode spends most of a forward pass moving data (concatenations, layout copies, resizing: see
docs/speed_realtime.md); a graph compiler fuses much of it. :class:`ExportedNet` has the nets' interface, so the
:class:`~framegen.inference.interpolator.Interpolator` (``runtime=openvino``) and everything built on it use it
unchanged. The graph runs in fp32: OpenVINO's own bf16 choice on AMX CPUs breaks the flows and warps, as plain
autocast does (../shared/NOTES.md), so the precision hint is set to f32.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from framegen.errors import FramegenError
from framegen.inference.export import export_onnx
from framegen.models.layers import InterpolationOutput

log = logging.getLogger(__name__)
RUNTIMES = ("torch", "openvino", "onnxruntime")
# what to install for each runtime (both are in framegen[export])
PACKAGES = {"openvino": "openvino==2026.4.1", "onnxruntime": "onnxruntime==1.32.0"}


class RuntimeUnavailable(FramegenError, ImportError):
    """The runtime's package is not installed."""


def _import(runtime: str):
    try:
        if runtime == "openvino":
            import openvino  # optional extra: only a run with runtime=openvino needs it
            return openvino
        import onnxruntime  # optional extra, as above
        return onnxruntime
    except ImportError as err:
        raise RuntimeUnavailable(f"runtime={runtime} needs the {runtime} package: pip install "
                                 f"{PACKAGES[runtime]} (or framegen[export])") from err


class ExportedNet(nn.Module):
    """``net(img0, img1, t, *, scale=1.0) -> InterpolationOutput`` through OpenVINO or ONNX Runtime.

    Args:
        net: a framegen net (any of the catalogue's learned nets); it is exported, not changed.
        runtime: ``openvino`` or ``onnxruntime``.
        threads: the runtime's threads (None: torch's ``get_num_threads()``, as the rest of framegen).

    Inputs as the net's: img0, img1 (B, 3, H, W) float in [0, 1], t (B,) or a float. The first call at a new
    (H, W, scale) exports and compiles a graph for it (seconds; kept for the rest of the run, in a temporary folder
    removed with this object). Returns the frame (B, 3, H, W); ``flows`` and ``mask`` are None (not in the graph).
    """

    def __init__(self, net: nn.Module, *, runtime: str, threads: int | None = None) -> None:
        super().__init__()
        if runtime not in RUNTIMES[1:]:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES[1:])} here, got {runtime!r}")
        self.lib = _import(runtime)
        self.net = net.eval()
        self.runtime = runtime
        self.threads = int(threads or torch.get_num_threads())
        self._dir = tempfile.TemporaryDirectory(prefix="framegen-graphs-")
        self._graphs: dict[tuple[int, int, float], object] = {}
        self._core = None  # OpenVINO's, shared by the graphs and outlived by none of them

    def _compile(self, height: int, width: int, scale: float):
        path = Path(self._dir.name) / f"net_{height}x{width}_s{scale:g}.onnx"
        log.info("%s: compiling the net for %dx%d frames (once per size)", self.runtime, width, height)
        export_onnx(self.net, path, height=height, width=width, scale=scale)
        if self.runtime == "openvino":
            if self._core is None:
                self._core = self.lib.Core()
            compiled = self._core.compile_model(str(path), "CPU", {"INFERENCE_NUM_THREADS": self.threads,
                                                                   "INFERENCE_PRECISION_HINT": "f32",
                                                                   "PERFORMANCE_HINT": "LATENCY"})
            return compiled  # called with the inputs by name, it returns the outputs in order
        options = self.lib.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        session = self.lib.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        return lambda feed: session.run(["frame"], feed)[0]

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        if img0.shape != img1.shape or img0.ndim != 4 or img0.shape[1] != 3:
            raise ValueError(f"img0 and img1 must both be (B, 3, H, W), got {tuple(img0.shape)} and {tuple(img1.shape)}")
        b, _, h, w = img0.shape
        key = (h, w, float(scale))
        if key not in self._graphs:
            self._graphs[key] = self._compile(h, w, float(scale))
        tt = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(b)
        feed = {"img0": _array(img0), "img1": _array(img1), "t": np.ascontiguousarray(tt.cpu().numpy())}
        out = self._graphs[key](feed)
        frame = torch.from_numpy(np.array(out[0] if self.runtime == "openvino" else out))
        return InterpolationOutput(frame, None, None)


def _array(x: Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.detach().float().cpu().contiguous().numpy())
