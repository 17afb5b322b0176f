"""Run benchmarks from a config and write their markdown reports."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch
from omegaconf import DictConfig

from framegen.evaluation.speed import SpeedResult, time_net
from framegen.models import build_net


def speed_table(results: list[SpeedResult]) -> str:
    gpu = any(r.peak_mem_mb is not None for r in results)
    head = "| net | params | size (WxH) | GFLOPs | ms / frame (median) | min ms |" + (" peak MB |" if gpu else "")
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in results:
        row = (f"| {r.name} | {r.params / 1e6:.2f}M | {r.width}x{r.height} | {r.gflops:.1f} | {r.ms_median:.1f} "
               f"| {r.ms_min:.1f} |")
        if gpu:
            row += f" {r.peak_mem_mb:.0f} |"
        lines.append(row)
    return "\n".join(lines)


def run_speed_benchmark(cfg: DictConfig) -> str:
    """Time every net in ``cfg.nets`` at every size in ``cfg.sizes``; write and return the markdown."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    results = []
    for name in cfg.nets:
        net = build_net(name)
        for h, w in cfg.sizes:
            results.append(time_net(net, name, int(h), int(w), repeats=int(cfg.repeats), warmup=int(cfg.warmup),
                                    device=cfg.device))
    cmd = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    text = "\n".join([
        "# Speed of the nets",
        "",
        f"Made by `{cmd.strip()}` on {datetime.now(timezone.utc):%Y-%m-%d} ({platform.processor() or platform.machine()}, "
        f"{cfg.device}, {torch.get_num_threads()} threads, torch {torch.__version__}). Batch 1, fp32, one interpolated frame "
        f"per call; median of {cfg.repeats} runs after {cfg.warmup} warm-up runs. FLOPs from torch.utils.flop_counter "
        "(a multiply-add counts 2).",
        "",
        speed_table(results),
        "",
    ])
    if cfg.get("output"):
        out = Path(cfg.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text
