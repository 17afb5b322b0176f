"""Run the benchmark suites of scripts/benchmark.py from a config and write their markdown reports (plus JSON)."""

from __future__ import annotations

import copy
import json
import math
import platform
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from framegen import catalogue
from framegen.checkpoints import CheckpointError
from framegen.evaluation.end_to_end import e2e_table, run_end_to_end
from framegen.evaluation.methods import RifePeer
from framegen.evaluation.motion import motion_table, motion_thirds, read_scores
from framegen.evaluation.plot import quality_vs_speed, training_curves
from framegen.evaluation.speed import (
    SpeedResult,
    matmul_peak_gflops,
    net_runner,
    peak_memory_mb,
    summarize,
    time_interleaved,
)
from framegen.inference.interpolator import PRECISIONS, Interpolator
from framegen.inference.realtime import RealtimeInterpolator
from framegen.inference.runtimes import ExportedNet
from framegen.inference.video_io import read_frames, video_info
from framegen.models import build_net
from framegen.models.layers import place_precision


class _RifeAsNet(nn.Module):
    """The RIFE peer behind the one call ``net(img0, img1, t)`` (for timing and FLOP counting)."""

    def __init__(self, peer) -> None:
        super().__init__()
        self.peer = peer
        self.inner = peer.net

    def forward(self, img0, img1, t=0.5):
        return self.peer.frames(img0, img1, t)


def _nets(cfg: DictConfig) -> list[tuple[str, nn.Module]]:
    """The nets of ``cfg.nets``: catalogue names (``default`` takes ``ckpt=`` for a candidate), architecture names
    (untrained, for speed only), or ``rife_reference`` (the published RIFE 4.25 code, the speed reference)."""
    nets = []
    for name in cfg.nets:
        if name == "rife_reference":
            nets.append(("rife 4.25", _RifeAsNet(RifePeer(device=cfg.device))))
        elif name == "default" and cfg.get("ckpt") is not None:  # a candidate in the default's place
            nets.append((f"framegen ({Path(str(cfg.ckpt)).name})", catalogue.get_model("model", cfg.ckpt)))
        elif name in catalogue.names(nets_only=True):
            label = {"default": "framegen default", "advanced": "framegen advanced", "dis": "dis (OpenCV)"}.get(name, name)
            try:
                nets.append((label, catalogue.get_model(name)))
            except CheckpointError:  # weights not shipped: the same architecture times the same
                entry = catalogue.entry(name)
                if entry.arch is None:
                    raise
                nets.append((f"{label} (untrained weights)", entry.arch().eval()))
        else:
            nets.append((name, build_net(name)))
    return nets


def speed_table(results: list[SpeedResult], reference: str | None = None) -> str:
    mem = any(r.peak_mem_mb is not None for r in results)
    ref = {(r.height, r.width): r.ms_median for r in results if r.name == reference}
    head = "| method | params | size (WxH) | GFLOPs | ms / frame (median) | min ms |"
    head += f" vs {reference} |" if ref else ""
    head += " peak MB |" if mem else ""
    lines = [head, "|" + " --- |" * (head.count("|") - 1)]
    for r in results:
        gf = "-" if math.isnan(r.gflops) else f"{r.gflops:.1f}"
        params = f"{r.params / 1e6:.2f}M" if r.params else "-"
        row = f"| {r.name} | {params} | {r.width}x{r.height} | {gf} | {r.ms_median:.1f} | {r.ms_min:.1f} |"
        if ref:
            row += f" {r.ms_median / ref[(r.height, r.width)]:.2f}x |"
        if mem:
            row += f" {r.peak_mem_mb:.0f} |" if r.peak_mem_mb is not None else " - |"
        lines.append(row)
    return "\n".join(lines)


def _header(cfg: DictConfig, what: str) -> str:
    cmd = "python scripts/benchmark.py " + " ".join(sys.argv[1:])
    return (f"Made by `{cmd.strip()}` on {datetime.now(UTC):%Y-%m-%d} ({platform.machine()}, {cfg.device}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}). {what}")


def run_speed_benchmark(cfg: DictConfig) -> str:
    """Time every method of ``cfg.nets`` (see :func:`_nets`) at every size, interleaved per size
    (speed.time_interleaved) so that the ratios between methods hold under a drifting machine."""
    gpu = str(cfg.device).startswith("cuda")
    channels_last = bool(cfg.get("channels_last", True)) and not gpu
    # (label, what is timed, autocast dtype on CUDA, the eager net its parameters and FLOPs are counted on)
    variants: list[tuple[str, nn.Module, torch.dtype, nn.Module]] = []
    precisions = [str(p) for p in cfg.get("precisions", ["fp32"])]
    runtimes = [str(r) for r in cfg.get("runtimes", ["torch"]) if str(r) != "torch"]
    for name, net in _nets(cfg):
        learned = not name.startswith(("dis", "rife 4.25")) and any(True for _ in net.parameters())
        for precision in precisions if learned else ["fp32"]:  # placed precision: convs in bf16, flows/warps fp32
            model = net if precision == "fp32" else place_precision(copy.deepcopy(net), PRECISIONS[precision])
            variants.append((name if precision == "fp32" else f"{name} ({precision})", model, torch.float32, model))
        for runtime in runtimes if learned and not gpu else []:  # the net exported to ONNX, run by that runtime (fp32)
            variants.append((f"{name} ({runtime})", ExportedNet(net, runtime=runtime), torch.float32, net))
        if gpu and learned:  # GPU rows: bf16 + torch.compile
            model = place_precision(copy.deepcopy(net), torch.bfloat16).to(cfg.device).eval()
            variants.append((f"{name} (bf16, compile)", torch.compile(model), torch.float32, model))
    rows: dict[tuple[str, int, int], SpeedResult] = {}
    for h, w in ((int(h), int(w)) for h, w in cfg.sizes):
        # framegen's nets run as its Interpolator runs them (channels-last on the CPU); the RIFE peer as published
        runners = {label: net_runner(model, h, w, device="cpu" if label.startswith("dis") else cfg.device, dtype=dtype,
                                     channels_last=channels_last and not label.startswith("rife"))
                   for label, model, dtype, _ in variants}
        # torch.compile needs its first calls to compile: two more warm-up calls for every method keep it fair
        warmup = int(cfg.warmup) + (2 if any("compile" in label for label in runners) else 0)
        times = time_interleaved(runners, repeats=int(cfg.repeats), warmup=warmup)
        for label, _, _, counted in variants:
            classical = label.startswith("dis")
            device = "cpu" if classical else cfg.device
            peak = None if classical else peak_memory_mb(runners[label], device=device)
            rows[label, h, w] = summarize(label, h, w, times[label], net=None if classical else counted, device=device,
                                          peak_mem_mb=peak)
    results = [rows[label, int(h), int(w)] for label, *_ in variants for h, w in cfg.sizes]
    reference = "rife 4.25" if "rife_reference" in cfg.nets else None
    text = "\n".join([
        "# Speed per interpolated frame", "",
        _header(cfg, f"Batch 1, fp32 unless a row names its precision (bf16: the convolution blocks in bf16, flows, grids, "
                     f"warping and blend in fp32), one frame per call; a row naming openvino or onnxruntime runs the "
                     f"net exported to ONNX through that runtime in fp32 (its export and compilation, once per size, "
                     f"happen in the warm-up). At each size the methods are timed interleaved: "
                     f"{cfg.warmup} warm-up calls each, then {cfg.repeats} rounds that call every method once in a "
                     "rotating order; the table gives each method's median and fastest call. "
                     + ("framegen's nets run in channels-last layout, as its Interpolator runs them on the CPU; the "
                        "RIFE 4.25 peer runs as published. " if channels_last else "")
                     + "FLOPs from "
                     "torch.utils.flop_counter (a multiply-add counts 2). DIS runs on OpenCV's own threads. Peak MB on "
                     "the CPU: the process's peak resident memory during one call (Linux high-water mark, reset "
                     "before it; it includes the weights and the runtime, about 0.5-1 GB)."),
        "", speed_table(results, reference), "",
        *([] if gpu else _peak_lines(results)),
    ])
    _write(cfg, text, [r.__dict__ for r in results])
    return text


def _peak_lines(results: list[SpeedResult]) -> list[str]:
    """The CPU's attainable peak (large fp32 and bf16 matmuls) and the fraction of it each framegen net reaches."""
    peak = {"fp32": matmul_peak_gflops(torch.float32), "bf16": matmul_peak_gflops(torch.bfloat16)}
    intro = (f"This CPU's attainable peak with {torch.get_num_threads()} threads (2048x2048 matmul, fastest of 5): "
             f"{peak['fp32']:.0f} GFLOPS in fp32, {peak['bf16']:.0f} GFLOPS in bf16. What each net reaches (its FLOPs "
             "over its median time, against the peak of its precision):")
    lines = [intro, ""]
    for r in results:
        if math.isnan(r.gflops) or r.name.startswith(("dis", "rife 4.25")):
            continue
        achieved = r.gflops / (r.ms_median / 1000)
        p = "bf16" if "(bf16" in r.name else "fp32"
        lines.append(f"- {r.name}, {r.width}x{r.height}: {achieved:.0f} GFLOPS = {100 * achieved / peak[p]:.0f} % of "
                     f"the {p} peak")
    return [*lines, ""]


def output_path(cfg: DictConfig) -> Path | None:
    """Where a suite writes its markdown: ``cfg.output``, else the suite's own file in ``cfg.outputs``, else nowhere."""
    out = cfg.get("output") or (cfg.get("outputs") or {}).get(cfg.suite)
    return Path(out) if out else None


def _write(cfg: DictConfig, text: str, rows: list | None = None) -> None:
    """The markdown report at output_path(cfg), and ``rows`` as JSON beside it (same name, .json)."""
    out = output_path(cfg)
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    if rows is not None:
        out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


def run_benchmark(cfg: DictConfig) -> str:
    """``cfg.suite``: 'nets' (per-frame speed of nets and peers), 'e2e' (whole-video speed on ``cfg.video``),
    'realtime' (RealtimeInterpolator latency on ``cfg.video``), 'motion' (scores by motion thirds from per-triplet
    CSVs), 'curves' (training curves) or 'plot' (quality on ucf101_dvf against ms per 720p frame)."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    if cfg.suite == "nets":
        return run_speed_benchmark(cfg)
    if cfg.suite == "realtime":
        return _realtime(cfg)
    if cfg.suite == "curves":
        runs = [r if isinstance(r, str) else list(r) for r in cfg.metrics]
        labels = list(cfg.labels) if cfg.get("labels") else None
        return str(training_curves(runs, cfg.plot, labels=labels, chain=bool(cfg.get("chain"))))
    if cfg.suite == "motion":
        rows = motion_thirds(read_scores(list(cfg.per_triplet)), methods=list(cfg.motion_methods),
                             reference=cfg.get("motion_reference"))
        text = "\n".join(["# Scores by amount of motion", "", _header(cfg, "Mean PSNR (dB) on each third of each set, "
                           "cut by the average-of-frames PSNR (lower = the inputs differ more = more motion)."), "",
                           motion_table(rows), ""])
        _write(cfg, text)
        return text
    if cfg.suite == "plot":
        return str(quality_vs_speed(cfg.quality, cfg.speed, cfg.plot, e2e_json=cfg.get("e2e")))
    if cfg.suite != "e2e":
        raise ValueError(f"suite must be one of nets, e2e, realtime, curves, motion, plot; got {cfg.suite!r}")
    if not cfg.get("video"):
        raise ValueError("suite=e2e needs video=<clip>")
    info = video_info(cfg.video)
    rows = run_end_to_end(cfg.video, factor=int(cfg.factor), ckpt=cfg.get("ckpt"), methods=list(cfg.e2e_methods),
                          precision=str(cfg.get("precision", "fp32")), scale=float(cfg.get("scale", 1.0)),
                          runtime=str(cfg.get("runtime", "torch")))
    frames_in = info.frames or 0
    text = "\n".join(["# End-to-end video speed", "", _header(cfg, "Output frames per second over the whole run "
                       "(decoding, scheduling, inference, encoding); decode/encode share = time the pipeline's "
                       "decoder/encoder threads were busy, over the wall time (they overlap with inference)."), "",
                       e2e_table(rows, clip=cfg.video, size=f"{info.width}x{info.height}", frames_in=frames_in,
                                 factor=int(cfg.factor)), ""])
    _write(cfg, text, rows)
    return text


def _realtime(cfg: DictConfig) -> str:
    """Latency of RealtimeInterpolator.process_frame on the frames of ``cfg.video`` (as if they were live)."""
    info = video_info(cfg.video)
    interp = Interpolator.from_checkpoint(cfg.get("ckpt"), device=cfg.device, precision=str(cfg.get("precision", "fp32")),
                                          scale=float(cfg.get("scale", 1.0)), runtime=str(cfg.get("runtime", "torch")))
    rt = RealtimeInterpolator(interp, factor=int(cfg.factor))
    for _, frame in read_frames(cfg.video):
        rt.process_frame(frame)
    lat = sorted(1000 * s for s in rt.latencies[1:])  # the first call only stores its frame
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))]
    frame_ms = 1000 / float(info.fps)
    text = "\n".join([
        "# Real-time interpolator latency", "",
        _header(cfg, "RealtimeInterpolator.process_frame on each frame of the clip as it arrives; the latency of an "
                     "in-between frame is one input frame interval (it needs the next frame) plus this processing."),
        "", f"Clip: `{cfg.video}` ({info.width}x{info.height}, {float(info.fps):.3g} fps), factor {cfg.factor}; "
            f"model {cfg.get('ckpt') or 'default'}, precision {interp.precision}, motion at scale {interp.scale:g}, runtime {interp.runtime}.", "",
        "| calls | median ms | 95th percentile ms | max ms | input frame interval ms | keeps up live |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| {len(lat)} | {statistics.median(lat):.1f} | {p95:.1f} | {lat[-1]:.1f} | {frame_ms:.1f} | "
        f"{'yes' if p95 < frame_ms else 'no'} |", ""])
    _write(cfg, text)
    return text
