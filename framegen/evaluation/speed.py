"""Speed of a net: parameters, FLOPs and milliseconds per interpolated frame (median after warm-up).

Methods compared in one table are timed *interleaved*: after every method's warm-up, each round runs every method
once (the order rotates from round to round), so slow drifts of the machine (other processes, thermal or frequency
changes, allocator state) fall on all methods alike and their ratios stay steady.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from framegen.models import count_parameters
from framegen.models.layers import memory_format

Runner = Callable[[], object]


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
    # CUDA: peak allocated by torch; CPU: the process's peak resident memory during one call (weights and runtime
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


def net_runner(net: nn.Module, height: int, width: int, *, device: str = "cpu",
               dtype: torch.dtype = torch.float32, channels_last: bool = False) -> Runner:
    """One call of ``net(img0, img1, 0.5)`` at batch 1 on fixed random (1, 3, H, W) frames, synchronised on CUDA;
    ``channels_last``: the net and the frames in channels-last layout (as framegen's Interpolator runs on the CPU)."""
    fmt = memory_format(torch.device(device), channels_last)
    net = net.to(device).eval().to(memory_format=fmt)
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(1, 3, height, width, generator=g).to(device).contiguous(memory_format=fmt)
    x1 = torch.rand(1, 3, height, width, generator=g).to(device).contiguous(memory_format=fmt)
    cuda = device.startswith("cuda")

    def run():
        with torch.inference_mode(), torch.autocast(device_type="cuda", dtype=dtype,
                                                    enabled=cuda and dtype != torch.float32):
            out = net(x0, x1, 0.5)
        if cuda:
            torch.cuda.synchronize()
        return out

    return run


def time_interleaved(runners: dict[str, Runner], *, repeats: int = 5, warmup: int = 2) -> dict[str, list[float]]:
    """Milliseconds of each runner's calls: ``warmup`` untimed calls each, then ``repeats`` rounds in which every
    runner is called once, the order rotating by one each round."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(runners)
    for name in names:
        for _ in range(warmup):
            runners[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            start = time.perf_counter()
            runners[name]()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def peak_memory_mb(run: Runner, *, device: str = "cpu") -> float | None:
    """Peak memory of one call: torch's peak allocation on CUDA, the process's resident high-water mark on the CPU
    (None where it cannot be reset)."""
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
        run()
        return torch.cuda.max_memory_allocated() / 2**20
    if not _reset_peak_rss():
        return None
    run()
    return _peak_rss_mb()


def summarize(name: str, height: int, width: int, times: list[float], *, net: nn.Module | None = None,
              device: str = "cpu", peak_mem_mb: float | None = None) -> SpeedResult:
    """A table row from the timings of one method at one size; params and FLOPs are counted on ``net`` if given."""
    params, gflops = 0, float("nan")
    if net is not None:
        plain = getattr(net, "_orig_mod", net)  # count on the eager module, not a compiled wrapper
        params, gflops = count_parameters(plain), count_flops(plain, height, width, device=device) / 1e9
    return SpeedResult(name, height, width, params, gflops, statistics.median(times), min(times), len(times),
                       peak_mem_mb)



def matmul_peak_gflops(dtype: torch.dtype, *, n: int = 2048, repeats: int = 5) -> float:
    """This machine's attainable compute: GFLOPS of the fastest of ``repeats`` (n x n) @ (n x n) matmuls in ``dtype``
    on the CPU (2 n^3 FLOPs each), with torch's current thread count."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=g).to(dtype)
    b = torch.rand(n, n, generator=g).to(dtype)
    a @ b  # warm-up (oneDNN / AMX set-up)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9
