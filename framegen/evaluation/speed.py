"""Speed of a net: parameters, FLOPs and milliseconds per interpolated frame (median after warm-up)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from framegen.models import count_parameters


@dataclass
class SpeedResult:
    name: str
    height: int
    width: int
    params: int
    gflops: float
    ms_median: float
    ms_min: float
    repeats: int
    # CUDA: peak allocated by torch; CPU: the process's peak resident memory during the runs (weights and runtime
    # included), from Linux's resettable high-water mark
    peak_mem_mb: float | None


def _reset_peak_rss() -> bool:
    """Reset this process's resident-memory high-water mark (Linux: /proc/self/clear_refs); False elsewhere."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def count_flops(net: nn.Module, height: int, width: int, *, device: str = "cpu") -> float:
    """FLOPs of one forward pass (batch 1) at height x width, as counted by torch.utils.flop_counter."""
    x = torch.rand(1, 3, height, width, device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x, x, 0.5)
    return float(counter.get_total_flops())


def time_callable(fn, name: str, height: int, width: int, *, repeats: int = 5, warmup: int = 2,
                  params: int = 0, gflops: float = float("nan")) -> SpeedResult:
    """Median wall time of ``fn(img0, img1)`` on random (H, W, 3) uint8 frames (CPU methods such as DIS)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(2))
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        fn(a, b)
        if i >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return SpeedResult(name, height, width, params, gflops, statistics.median(times), min(times), repeats, None)


def time_net(net: nn.Module, name: str, height: int, width: int, *, repeats: int = 5, warmup: int = 2,
             device: str = "cpu", dtype: torch.dtype = torch.float32) -> SpeedResult:
    """Median wall time of ``net(img0, img1, 0.5)`` at batch 1, excluding ``warmup`` runs."""
    net = net.to(device).eval()
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(1, 3, height, width, generator=g).to(device)
    x1 = torch.rand(1, 3, height, width, generator=g).to(device)
    cuda = device.startswith("cuda")
    times = []
    tracked = not cuda and _reset_peak_rss()
    autocast = torch.autocast(device_type="cuda", dtype=dtype) if cuda and dtype != torch.float32 else None
    with torch.inference_mode():
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        for i in range(warmup + repeats):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            if autocast is not None:
                with autocast:
                    net(x0, x1, 0.5)
            else:
                net(x0, x1, 0.5)
            if cuda:
                torch.cuda.synchronize()
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else (_peak_rss_mb() if tracked else None)
    plain = getattr(net, "_orig_mod", net)  # count FLOPs on the eager module, not the compiled wrapper
    flops = count_flops(plain, height, width, device=device)
    return SpeedResult(name, height, width, count_parameters(plain), flops / 1e9, statistics.median(times), min(times),
                       repeats, peak)
