"""``evaluate(cfg)``: score methods on VFI test sets (or a video) and write summary.json, a per-triplet CSV, a
markdown table and galleries of the worst triplets.

Sets whose items have several t (X-TEST's 8x, Vimeo-90K septuplets, the video protocol with ``factor`` > 2) also get
a row per t (``per_t`` in the summary); the video protocol adds tOF (:mod:`framegen.evaluation.temporal`)."""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig

from framegen.evaluation.benchmarks import BENCHMARKS, load_triplets, video_clips, video_triplets
from framegen.evaluation.methods import build_method, method_label
from framegen.evaluation.protocol import score, to_tensor
from framegen.evaluation.temporal import TemporalOF
from framegen.inference.interpolator import pick_device
from framegen.media import user_path
from framegen.perceptual import LPIPS, BackboneWeightsNotFound
from framegen.viz import error_map, gallery, save_png

log = logging.getLogger(__name__)
METRICS = ("psnr", "ssim", "ssim_matlab", "ie", "lpips")


def _as_list(value) -> list[str]:
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def _row(name: str, m: dict, *, tof: bool) -> str:
    lp = f"{m['lpips']:.4f}" if m.get("lpips") is not None else "-"
    ms = f"{1000 * m['sec_per_frame']:.1f}" if m.get("sec_per_frame") is not None else "-"
    row = (f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['ssim_matlab']:.4f} | {m['ie']:.2f} | {lp} "
           f"| {m['n']} | {ms} |")
    if tof:
        row += f" {m['tof']:.3f} |" if m.get("tof") is not None else " - |"
    return row


def markdown_table(summary: dict) -> str:
    lines = []
    for bench, methods in summary.items():
        tof = any("tof" in m for m in methods.values())
        head = "| method | PSNR | SSIM | SSIM (matlab) | IE | LPIPS | n | ms / frame |" + (" tOF |" if tof else "")
        lines += [f"### {bench}", "", head, "|" + " --- |" * (head.count("|") - 1)]
        for name, m in methods.items():
            lines.append(_row(name, m, tof=tof))
            for t, mt in (m.get("per_t") or {}).items():
                lines.append(_row(f"{name}, t = {t}", {**mt, "sec_per_frame": None}, tof=tof))
        lines.append("")
    return "\n".join(lines)


def _mean(scores: list[dict]) -> dict:
    return {k: float(np.mean([s[k] for s in scores])) if scores[0][k] is not None else None for k in METRICS}


def _sets(cfg: DictConfig) -> dict:
    """{set name: (a function that yields its triplets, whether it is a video)}."""
    limit = cfg.get("limit")
    if cfg.get("video"):
        factor = int(cfg.get("factor", 2) or 2)
        clips = []
        for v in (user_path(v) for v in _as_list(cfg.video)):
            if not v.exists():
                raise FileNotFoundError(f"video not found: {v}")
            clips += video_clips(v)
        if not clips:
            raise FileNotFoundError(f"no videos or frame folders in {cfg.video}")
        tag = "" if factor == 2 else f"@{factor}x"
        return {f"video:{c.stem if c.is_file() else c.name}{tag}":
                (lambda c=c: video_triplets(c, limit=limit, factor=factor), True) for c in clips}
    names = list(BENCHMARKS) if str(cfg.benchmark) == "all" else _as_list(cfg.benchmark)
    folder = cfg.get("benchmark_root")
    if folder and len(names) != 1:
        raise ValueError(f"benchmark_root names the folder of one set; benchmark= gives {len(names)}: {names}")
    return {n: (lambda n=n: load_triplets(n, cfg.paths.benchmarks, limit=limit,
                                          folder=str(user_path(folder)) if folder else None), False) for n in names}


def evaluate(cfg: DictConfig) -> dict:
    """Run every method of ``cfg.method`` on every benchmark of ``cfg.benchmark`` (or on the clips of ``cfg.video``: one
    path or a list, each a video file, a folder of frames or a folder of videos; ``cfg.factor``: keep every factor-th
    frame and rebuild the others)."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    device = str(pick_device(cfg.get("device", "auto")))
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sets = _sets(cfg)
    lpips = None
    if cfg.get("lpips", True):
        try:
            lpips = LPIPS("alex").to("cpu")
        except BackboneWeightsNotFound as err:
            log.warning("LPIPS column left empty: %s", err)
    settings = {"tta": bool(cfg.get("tta")), "precision": str(cfg.get("precision", "fp32")),
                "static_threshold": cfg.get("static_threshold"), "runtime": str(cfg.get("runtime", "torch"))}
    methods = [(method_label(name, **settings),
                build_method(name, ckpt=cfg.get("ckpt"), device=device, scale=cfg.get("scale", 1.0), **settings))
               for name in _as_list(cfg.method)]
    summary: dict = {}
    rows = []
    n_gallery = int(cfg.get("gallery", 6))
    for bench, (triplets, is_video) in sets.items():
        summary[bench] = {}
        for name, method in methods:
            scores, seconds, worst, times = [], [], [], []
            tof = TemporalOF() if is_video else None
            last = None  # the last video item, for tOF's sequence
            for trip in triplets():
                start = time.perf_counter()
                pred = method(trip.img0, trip.img1, trip.t)
                seconds.append(time.perf_counter() - start)
                s = score(pred, trip.gt, lpips=lpips)
                scores.append(s)
                times.append(round(float(trip.t), 6))
                rows.append({"benchmark": bench, "method": name, "id": trip.id, "t": times[-1], **s,
                             "seconds": seconds[-1]})
                if tof is not None and trip.index is not None:
                    if last is None or trip.i0 > last.index:  # the kept frame before this one enters the sequence
                        if last is not None and trip.i0 > last.index + 1:
                            tof.break_sequence()
                        tof.add(trip.img0, trip.img0)
                    tof.add(pred, trip.gt)
                    last = trip
                if n_gallery:  # keep the n lowest-PSNR triplets for the gallery
                    worst.append((s["psnr"], trip.id, trip, pred))
                    worst.sort(key=lambda w: w[0])
                    del worst[n_gallery:]
            if not scores:
                raise FileNotFoundError(f"{bench}: no triplets found")
            if tof is not None and last is not None:
                tof.add(last.img1, last.img1)  # the kept frame after the last rebuilt one
            agg = _mean(scores)
            summary[bench][name] = {**agg, "n": len(scores), "sec_per_frame": float(np.median(seconds))}
            if tof is not None:
                summary[bench][name]["tof"] = tof.value
            if len(set(times)) > 1:  # one row per t, and the mean over all above
                summary[bench][name]["per_t"] = {
                    f"{t:g}": {**_mean([s for s, ti in zip(scores, times) if ti == t]), "n": times.count(t)}
                    for t in sorted(set(times))}
            log.info("%s / %s: PSNR %.2f, IE %.2f over %d%s", bench, name, agg["psnr"], agg["ie"], len(scores),
                     f", tOF {tof.value:.3f}" if tof is not None and tof.value is not None else "")
            if n_gallery and worst:
                _write_gallery(out_dir / f"worst_{bench.replace(':', '_').replace('@', '_')}_{name}.png", worst)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    with open(out_dir / "per_triplet.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["benchmark", "method", "id", "t", *METRICS, "seconds"])
        writer.writeheader()
        writer.writerows(rows)
    table = markdown_table(summary)
    (out_dir / "summary.md").write_text(table)
    return summary


def _write_gallery(path: Path, worst: list) -> None:
    rows, captions = [], []
    for psnr, tid, trip, pred in sorted(worst, key=lambda w: w[0]):
        gt = to_tensor(trip.gt)[0]
        rows.append([to_tensor(trip.img0)[0], to_tensor(trip.img1)[0], pred[0], gt, error_map(pred, gt[None])[0]])
        captions.append(f"{tid}: PSNR {psnr:.2f} dB")
    save_png(gallery(rows, columns=["frame 0", "frame 1", "prediction", "ground truth", "error"], captions=captions),
             path)
