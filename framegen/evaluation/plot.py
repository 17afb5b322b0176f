"""Quality against speed: every method as a point, PSNR on ucf101_dvf against ms per 1280x720 frame."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

# evaluate.py method name -> name in the speed table
_SPEED_NAMES = {"model": "framegen default", "rife": "rife 4.25", "dis": "dis (OpenCV)"}
_LABELS = {"model": "framegen (default model)", "rife": "RIFE 4.25", "dis": "OpenCV DIS", "mci": "ffmpeg minterpolate",
           "average": "average", "repeat": "repeat"}


def _pyplot():
    # lazy: the Agg backend must be chosen before pyplot loads, and only the plotting suites pay for matplotlib
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out_png: str | Path) -> Path:
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out_png)
    _pyplot().close(fig)
    return out_png


def quality_vs_speed(quality_json: str | Path | list, speed_json: str | Path, out_png: str | Path, *,
                     e2e_json: str | Path | None = None, size: tuple[int, int] = (720, 1280),
                     benchmark: str = "ucf101_dvf") -> Path:
    plt = _pyplot()
    quality: dict = {}
    sources = [quality_json] if isinstance(quality_json, (str, Path)) else list(quality_json)
    for q in sources:
        quality.update(json.loads(Path(q).read_text())[benchmark])
    speed = {r["name"]: r["ms_median"] for r in json.loads(Path(speed_json).read_text())
             if (r["height"], r["width"]) == tuple(size)}
    e2e = {}
    if e2e_json and Path(e2e_json).is_file():
        for r in json.loads(Path(e2e_json).read_text()):
            if r["method"].startswith("ffmpeg minterpolate"):
                e2e["mci"] = 1000 * r["seconds"] / max(1, r["frames_out"] // 2)
    points = []
    for method, q in quality.items():
        if method in _SPEED_NAMES and _SPEED_NAMES[method] in speed:
            ms, note = speed[_SPEED_NAMES[method]], ""
        elif method in e2e:
            ms, note = e2e[method], " (whole pipeline)"
        elif method in ("average", "repeat"):
            ms, note = 1.0, " (~0 ms)"
        else:
            continue
        points.append((_LABELS.get(method, method) + note, ms, q["psnr"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    placed: list[tuple[float, float]] = []
    for label, ms, psnr in sorted(points, key=lambda p: -p[2]):
        ax.scatter(ms, psnr, s=40)
        # a label whose point sits close to an already labelled one (in log-ms and dB) goes below its point
        near = any(abs(math.log10(ms / m)) < 0.3 and abs(psnr - q) < 0.15 for m, q in placed)
        ax.annotate(label, (ms, psnr), textcoords="offset points", xytext=(6, -11 if near else 4), fontsize=8)
        placed.append((ms, psnr))
    ax.set_xscale("log")
    ax.set_xlabel(f"ms per interpolated {size[1]}x{size[0]} frame (CPU, log scale)")
    ax.set_ylabel(f"PSNR on {benchmark} (dB)")
    ax.set_title("Quality against speed")
    ax.grid(True, which="both", alpha=0.3)
    return _save(fig, out_png)


def _read_curves(paths: list) -> tuple[dict[int, float], dict[int, float]]:
    """(training loss by step, val PSNR by step) of one run logged to one or more CSVLogger files (later files win)."""
    train, val = {}, {}
    for path in paths:
        with open(path) as f:
            for row in csv.DictReader(f):
                step = int(row["step"])
                # the reconstruction term (Charbonnier) where it is logged, so runs with an extra flow loss compare
                term = row.get("train/l1") or row.get("train/loss")
                if term:
                    train[step] = float(term)
                if row.get("val/psnr"):
                    val[step] = float(row["val/psnr"])
    return train, val


def training_curves(runs: list, out_png: str | Path, *, labels: list[str] | None = None, chain: bool = False) -> Path:
    """Training loss and validation PSNR against step from Lightning CSVLogger files.

    Each entry of ``runs`` is one run: a metrics.csv, or a list of them joined in order (a resumed run). ``chain``
    draws each run after the previous one's last step (stages of one recipe); otherwise runs share the step axis.
    """
    plt = _pyplot()
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"{len(labels)} labels for {len(runs)} runs")
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    offset = 0
    for i, run in enumerate(runs):
        paths = [run] if isinstance(run, (str, Path)) else list(run)
        train, val = _read_curves(paths)
        label = labels[i] if labels else Path(paths[0]).parent.name
        steps = sorted(train)
        if steps:
            window = max(1, len(steps) // 50)
            smooth = [sum(train[s] for s in steps[max(0, j - window):j + 1]) / len(steps[max(0, j - window):j + 1])
                      for j in range(len(steps))]
            xs = [offset + s for s in steps]
            line, = a.plot(xs, smooth, lw=1.5, label=label)
            a.plot(xs, [train[s] for s in steps], alpha=0.25, lw=0.8, color=line.get_color())
        vs = sorted(val)
        b.plot([offset + s for s in vs], [val[s] for s in vs], marker="o", ms=3, label=label)
        if chain:
            offset += max(steps + vs, default=0)
    a.set_xlabel("step")
    a.set_ylabel("training loss (Charbonnier)")
    a.set_yscale("log")
    a.grid(alpha=0.3)
    b.set_xlabel("step")
    b.set_ylabel("val/psnr (dB, synthetic validation set)")
    b.grid(alpha=0.3)
    if len(runs) > 1:
        a.legend(fontsize=8)
        b.legend(fontsize=8)
    return _save(fig, out_png)
