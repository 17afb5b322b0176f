"""``evaluate(cfg)``: score methods on VFI test sets (or a video) and write summary.json, a per-triplet CSV, a
markdown table and galleries of the worst triplets."""

from __future__ import annotations

import csv
import json
import logging
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig, ListConfig

from framegen.evaluation.benchmarks import BENCHMARKS, load_triplets, video_triplets
from framegen.evaluation.methods import build_method, method_label
from framegen.evaluation.protocol import score, to_tensor
from framegen.inference.interpolator import pick_device
from framegen.media import user_path, video_files
from framegen.perceptual import LPIPS, BackboneWeightsNotFound
from framegen.viz import error_map, gallery, save_png

log = logging.getLogger(__name__)
METRICS = ("psnr", "ssim", "ssim_matlab", "ie", "lpips")


def _as_list(value) -> list[str]:
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return [v.strip() for v in str(value).split(",") if v.strip()]


def markdown_table(summary: dict) -> str:
    lines = []
    for bench, methods in summary.items():
        lines += [f"### {bench}", "", "| method | PSNR | SSIM | SSIM (matlab) | IE | LPIPS | n | ms / frame |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for name, m in methods.items():
            lp = f"{m['lpips']:.4f}" if m["lpips"] is not None else "-"
            lines.append(f"| {name} | {m['psnr']:.2f} | {m['ssim']:.4f} | {m['ssim_matlab']:.4f} | {m['ie']:.2f} | {lp} "
                         f"| {m['n']} | {1000 * m['sec_per_frame']:.1f} |")
        lines.append("")
    return "\n".join(lines)


def evaluate(cfg: DictConfig) -> dict:
    """Run every method of ``cfg.method`` on every benchmark of ``cfg.benchmark`` (or on the clips of ``cfg.video``: one
    path or a list)."""
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))
    device = str(pick_device(cfg.get("device", "auto")))
    out_dir = Path(cfg.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.get("video"):
        clips = []
        for v in (user_path(v) for v in _as_list(cfg.video)):
            clips += video_files(v) if v.is_dir() else [v]
        sets = {f"video:{c.stem}": (lambda c=c: video_triplets(c, limit=cfg.get("limit"))) for c in clips}
    else:
        names = list(BENCHMARKS) if str(cfg.benchmark) == "all" else _as_list(cfg.benchmark)
        sets = {n: (lambda n=n: load_triplets(n, cfg.paths.benchmarks, limit=cfg.get("limit"))) for n in names}
    lpips = None
    if cfg.get("lpips", True):
        try:
            lpips = LPIPS("alex").to("cpu")
        except BackboneWeightsNotFound as err:
            log.warning("LPIPS column left empty: %s", err)
    methods = [(method_label(name, tta=bool(cfg.get("tta")), precision=str(cfg.get("precision", "fp32"))),
                build_method(name, ckpt=cfg.get("ckpt"), device=device, tta=bool(cfg.get("tta")),
                             scale=cfg.get("scale", 1.0), precision=str(cfg.get("precision", "fp32"))))
               for name in _as_list(cfg.method)]
    summary: dict = {}
    rows = []
    n_gallery = int(cfg.get("gallery", 6))
    for bench, triplets in sets.items():
        summary[bench] = {}
        for name, method in methods:
            scores, seconds, worst = [], [], []
            for trip in triplets():
                start = time.perf_counter()
                pred = method(trip.img0, trip.img1, 0.5)
                seconds.append(time.perf_counter() - start)
                s = score(pred, trip.gt, lpips=lpips)
                scores.append(s)
                rows.append({"benchmark": bench, "method": name, "id": trip.id, **s, "seconds": seconds[-1]})
                if n_gallery:  # keep the n lowest-PSNR triplets for the gallery
                    worst.append((s["psnr"], trip.id, trip, pred))
                    worst.sort(key=lambda w: w[0])
                    del worst[n_gallery:]
            if not scores:
                raise FileNotFoundError(f"{bench}: no triplets found")
            agg = {k: float(np.mean([s[k] for s in scores])) if scores[0][k] is not None else None for k in METRICS}
            summary[bench][name] = {**agg, "n": len(scores), "sec_per_frame": float(np.median(seconds))}
            log.info("%s / %s: PSNR %.2f, IE %.2f over %d", bench, name, agg["psnr"], agg["ie"], len(scores))
            if n_gallery and worst:
                _write_gallery(out_dir / f"worst_{bench.replace(':', '_')}_{name}.png", worst)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    with open(out_dir / "per_triplet.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["benchmark", "method", "id", *METRICS, "seconds"])
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
