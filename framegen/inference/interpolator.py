"""Run a net on batches of frame pairs: device, precision, flow scale for large frames, tiling with overlap."""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framegen.catalogue import get_model
from framegen.image_tensor import to_image, to_tensor
from framegen.inference.runtimes import RUNTIMES, ExportedNet
from framegen.models.layers import memory_format, place_precision

log = logging.getLogger(__name__)
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
CHOICES = ("auto", *PRECISIONS)


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """True when this CPU has native bf16 arithmetic (AMX tiles or AVX-512 BF16), where bf16 convolutions run several
    times faster than fp32 ones; without them bf16 is emulated and slower. ``cpuinfo``: /proc/cpuinfo's text (read
    when None; no such file counts as no)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return "amx_bf16" in flags or "avx512_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> bf16 on CUDA with bf16 support and on CPUs with AMX / AVX-512 BF16, else fp32 (one log line)."""
    if precision != "auto":
        return precision
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    if device.type == "cpu" and cpu_has_bf16():
        return "bf16"
    log.info("precision=auto: fp32 (this %s has no native bf16 arithmetic)", device.type)
    return "fp32"


def pick_device(device: str = "auto") -> torch.device:
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(device)


def _tile_weight(h: int, w: int, overlap: int) -> Tensor:
    """(1, 1, h, w) weights that ramp linearly over ``overlap`` pixels at every border."""
    def ramp(n: int) -> Tensor:
        r = torch.ones(n)
        k = min(overlap, n // 2)
        if k > 0:
            r[:k] = torch.linspace(1.0 / (k + 1), 1.0, k)
            r[-k:] = torch.linspace(1.0, 1.0 / (k + 1), k)
        return r
    return (ramp(h)[:, None] * ramp(w)[None, :])[None, None]


def keep_static(frame: Tensor, x0: Tensor, x1: Tensor, t: Tensor, *, threshold: float, radius: int = 2) -> Tensor:
    """Temporal smoothing for still regions: where the two inputs agree, the frame becomes their linear blend at t.

    frame, x0, x1 (B, 3, H, W) in [0, 1]; t (B,). A pixel whose largest channel difference between x0 and x1, taken
    over its (2 radius + 1)^2 neighbourhood (so a moving edge nearby counts as motion), is 0 keeps the blend exactly;
    the weight falls linearly to 0 (the net's frame) at ``threshold``. A net warps still regions by its small flow
    errors, which flickers from frame to frame on real footage; the blend of two equal pixels cannot.
    """
    if threshold <= 0:
        raise ValueError(f"static threshold must be > 0 (a difference in [0, 1]), got {threshold}")
    diff = (x0 - x1).abs().amax(dim=1, keepdim=True)
    if radius > 0:
        diff = F.max_pool2d(diff, 2 * radius + 1, stride=1, padding=radius)
    weight = (1.0 - diff / threshold).clamp(0.0, 1.0)
    tt = t.view(-1, 1, 1, 1).to(frame.dtype)
    linear = x0 + tt * (x1 - x0)
    return torch.lerp(frame, linear, weight)  # weight 1 gives the blend exactly


def _check_runtime(runtime: str, device: torch.device, precision: str, compile: bool, net: nn.Module) -> None:
    """ValueError for settings a runtime other than PyTorch cannot honour."""
    if device.type != "cpu":
        raise ValueError(f"runtime={runtime} runs on the CPU (device is {device.type}); use runtime=torch there")
    if precision not in ("auto", "fp32"):
        raise ValueError(f"runtime={runtime} runs the net in fp32 (its own bf16 breaks the flows); use precision=fp32 "
                         "or auto, or runtime=torch for placed bf16")
    if compile:
        raise ValueError(f"runtime={runtime} compiles the net itself: leave compile=false")
    if not any(True for _ in net.parameters()):
        raise ValueError(f"runtime={runtime} runs learned nets; {type(net).__name__} has no weights to export")


class Interpolator:
    """Interpolate frames with a framegen net.

    Args:
        net: a net with the one interface ``net(img0, img1, t, *, scale)``.
        device: 'auto' (cuda, then mps, then cpu), or a torch device string.
        precision: 'fp32'; 'bf16' or 'fp16' (CUDA only): the net's convolution blocks in that dtype, flows, sampling
            grids, warping and the blend in fp32 (:func:`framegen.models.layers.place_precision`; the net is copied
            first); 'auto': bf16 where the hardware computes it natively (AMX / AVX-512 BF16 CPUs, recent GPUs),
            else fp32.
        scale: estimate motion at this fraction of the resolution (0.5 for 4K, as RIFE's --scale): the net's own
            ``scale`` argument.
        tile: split frames larger than ``tile`` pixels into overlapping tiles (``tile_overlap``) blended linearly,
            so any size fits a memory budget; None processes whole frames.
        batch_size: pairs per forward pass.
        compile: ``torch.compile`` the net.
        tta: test-time augmentation: also run the horizontally mirrored pair and average (2x the cost).
        static_threshold: temporal smoothing (:func:`keep_static`): where the two input frames differ by less than
            this (in [0, 1], e.g. 0.02) around a pixel, the output leans to their linear blend; None = off.
        channels_last: run the net and its inputs in channels-last memory layout; None = on the CPU only, where
            oneDNN's convolutions are about 20 % faster so (docs/benchmarks.md). The net is converted in place.
        runtime: ``torch`` (eager PyTorch), or on the CPU ``openvino`` / ``onnxruntime``: the net exported to ONNX
            once per frame size and run by that runtime in fp32 (:class:`framegen.inference.runtimes.ExportedNet`;
            precision ``auto`` means fp32 there).
    """

    def __init__(self, net: nn.Module, *, device: str = "auto", precision: str = "fp32", scale: float = 1.0,
                 tile: int | None = None, tile_overlap: int = 64, batch_size: int = 4, compile: bool = False,
                 tta: bool = False, channels_last: bool | None = None, static_threshold: float | None = None,
                 runtime: str = "torch") -> None:
        if precision not in CHOICES:
            raise ValueError(f"precision must be one of {', '.join(CHOICES)}, got {precision!r}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        self.device = pick_device(device)
        if runtime != "torch":
            _check_runtime(runtime, self.device, precision, compile, net)
            precision = "fp32"
        precision = resolve_precision(precision, self.device)
        if precision == "fp16" and self.device.type != "cuda":
            raise ValueError(f"fp16 needs a CUDA device (this is {self.device.type}); use precision=bf16 or fp32")
        if scale <= 0 or scale > 1:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        if static_threshold is not None and not 0 < static_threshold <= 1:
            raise ValueError(f"static_threshold must be in (0, 1] (a difference of [0, 1] pixels) or null, got {static_threshold}")
        if tile is not None and tile <= 2 * tile_overlap:
            raise ValueError(f"tile ({tile}) must be larger than twice tile_overlap ({tile_overlap})")
        self.memory_format = memory_format(self.device, channels_last)
        if precision != "fp32":  # the caller's net keeps its fp32 weights
            net = place_precision(copy.deepcopy(net), PRECISIONS[precision])
        self.net = net.to(self.device).eval().to(memory_format=self.memory_format)
        self.run_net = torch.compile(self.net) if compile else self.net
        if runtime != "torch":
            self.memory_format = torch.contiguous_format  # the runtime takes plain arrays
            self.run_net = ExportedNet(self.net, runtime=runtime)
        self.runtime = runtime
        self.precision, self.scale = precision, scale
        self.tile, self.tile_overlap, self.batch_size = tile, tile_overlap, max(1, int(batch_size))
        self.tta = tta
        self.static_threshold = static_threshold

    @classmethod
    def from_checkpoint(cls, ckpt: str | None = None, **kwargs) -> Interpolator:
        """Load a checkpoint (``best_model.pth``, ``.ckpt``, a catalogue name such as ``rife``; None = the shipped
        default model)."""
        return cls.for_method("model", ckpt, **kwargs)

    @classmethod
    def for_method(cls, method: str = "model", ckpt: str | None = None, **kwargs) -> Interpolator:
        """The interpolator of a catalogue name (``default``, ``advanced``, ``rife``, ``dis``, ``average``,
        ``repeat``: ``framegen models`` lists them), or ``model`` with ``ckpt`` (None: the shipped default)."""
        return cls(get_model(method, ckpt), **kwargs)

    def identity(self) -> str:
        """A digest of the net's weights and the settings that change its frames (for resumable jobs)."""
        h = hashlib.sha1(type(self.net).__name__.encode())
        for key, value in self.net.state_dict().items():
            h.update(key.encode())
            h.update(value.detach().float().cpu().numpy().tobytes())
        settings = (self.precision, self.scale, self.tile, self.tile_overlap, self.tta)
        if self.static_threshold is not None:  # a job of an earlier framegen without these keeps its identity
            settings += (self.static_threshold,)
        if self.runtime != "torch":
            settings += (self.runtime,)
        h.update(repr(settings).encode())
        return h.hexdigest()

    def _forward(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        x0, x1 = x0.contiguous(memory_format=self.memory_format), x1.contiguous(memory_format=self.memory_format)
        return self.run_net(x0, x1, t, scale=self.scale).frame

    def _tiled(self, x0: Tensor, x1: Tensor, t: Tensor) -> Tensor:
        b, c, h, w = x0.shape
        size, ov = self.tile, self.tile_overlap
        if h <= size and w <= size:
            return self._forward(x0, x1, t)
        step = size - ov
        ys = list(range(0, max(h - size, 0) + 1, step))
        xs = list(range(0, max(w - size, 0) + 1, step))
        if ys[-1] + size < h:
            ys.append(h - size)
        if xs[-1] + size < w:
            xs.append(w - size)
        out = torch.zeros(b, c, h, w, device=x0.device)
        norm = torch.zeros(1, 1, h, w, device=x0.device)
        for y in ys:
            for x in xs:
                th, tw = min(size, h - y), min(size, w - x)
                sl = (..., slice(y, y + th), slice(x, x + tw))
                pred = self._forward(x0[sl], x1[sl], t).float()
                wgt = _tile_weight(th, tw, ov).to(x0.device)
                out[sl] += pred * wgt
                norm[sl] += wgt
        return out / norm

    @torch.inference_mode()
    def __call__(self, img0: Tensor, img1: Tensor, t: Tensor | float) -> Tensor:
        """img0, img1 (B, 3, H, W) float in [0, 1] (any device); t float or (B,). Returns (B, 3, H, W) on the CPU."""
        b = img0.shape[0]
        t = torch.as_tensor(t, dtype=torch.float32).reshape(-1).expand(b) if torch.as_tensor(t).numel() == 1 else \
            torch.as_tensor(t, dtype=torch.float32).reshape(b)
        outs = []
        for s in range(0, b, self.batch_size):
            x0 = img0[s:s + self.batch_size].to(self.device, torch.float32)
            x1 = img1[s:s + self.batch_size].to(self.device, torch.float32)
            tt = t[s:s + self.batch_size].to(self.device)
            run = self._tiled if self.tile else self._forward
            y = run(x0, x1, tt)
            if self.tta:
                y = (y.float() + run(x0.flip(-1), x1.flip(-1), tt).float().flip(-1)) / 2
            if self.static_threshold is not None:
                y = keep_static(y.float(), x0, x1, tt, threshold=self.static_threshold)
            outs.append(y.float().clamp(0, 1).cpu())
        return torch.cat(outs)

    # ------------------------------------------------------------- for people
    def interpolate(self, img0, img1, t: float = 0.5):
        """One frame at time t between two images: numpy (H, W, 3) uint8/uint16/float or torch (3, H, W)/(B, 3, H, W).

        Returns the same kind (and dtype) as the inputs.
        """
        return self.between(img0, img1, times=[t])[0]

    def between(self, img0, img1, n: int | None = None, *, times: list[float] | None = None) -> list:
        """``n`` evenly spaced in-between frames (t = i / (n + 1)), or the frames at ``times``."""
        if times is None:
            if n is None or n < 1:
                raise ValueError("give n >= 1 or times")
            times = [i / (n + 1) for i in range(1, n + 1)]
        x0, back = _to_batch(img0)
        x1, _ = _to_batch(img1)
        if x0.shape != x1.shape:
            raise ValueError(f"the two images differ in shape: {tuple(x0.shape)} vs {tuple(x1.shape)}")
        k = len(times)
        out = self(x0.repeat(k, 1, 1, 1), x1.repeat(k, 1, 1, 1), torch.tensor(times).repeat_interleave(x0.shape[0]))
        return [back(o) for o in out.split(x0.shape[0])]


def _to_batch(img):
    """numpy (H, W, 3[, 4]) or (H, W) / torch (3, H, W) or (B, 3, H, W) -> ((B, 3, H, W) float, inverse)."""
    if isinstance(img, np.ndarray):
        dtype = img.dtype
        arr = img
        if arr.ndim == 2:
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ValueError(f"images must be (H, W), (H, W, 3) or (H, W, 4), got {img.shape}")
        return to_tensor(arr[..., :3]), (lambda y: to_image(y[0], dtype))
    if isinstance(img, Tensor):
        squeeze = img.ndim == 3
        x = img[None] if squeeze else img
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"tensors must be (3, H, W) or (B, 3, H, W), got {tuple(img.shape)}")
        return x.float(), (lambda y: (y[0] if squeeze else y).to(img.dtype))
    raise TypeError(f"images must be numpy arrays or torch tensors, got {type(img).__name__}")
