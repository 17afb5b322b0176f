"""The original README's modes: ``test`` (original vs enhanced video, frame comparisons, optional montage) and
``demo`` (animated GIF comparisons)."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.inference.files import Job, interpolate_file
from framegen.inference.interpolator import Interpolator
from framegen.inference.video_io import probe_video, read_frames, write_video
from framegen.viz import label, side_by_side, write_gif


def _first_frames(path: Path, n: int) -> list[np.ndarray]:
    out = []
    for _, f in read_frames(path):
        out.append(f if f.dtype == np.uint8 else (f >> 8).astype(np.uint8))
        if len(out) == n:
            break
    return out


def run_test_mode(src: str | Path, out_dir: str | Path, interpolator: Interpolator, job: Job, *,
              comparison_frames: int = 8, montage: bool = False) -> dict:
    """``out_dir/original_video.mp4``, ``enhanced_video.mp4``, ``frame_comparison/*.png`` (and ``montage.mp4``)."""
    src, out_dir = Path(src), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    quiet = replace(job, progress=False, overwrite=True)
    original = interpolate_file(src, out_dir / "original_video.mp4", interpolator, replace(quiet, factor=1, fps=None))
    enhanced = interpolate_file(src, out_dir / "enhanced_video.mp4", interpolator, replace(job, overwrite=True))
    k = max(2, int(job.factor or 2))
    comp = out_dir / "frame_comparison"
    comp.mkdir(exist_ok=True)
    frames = _first_frames(src, comparison_frames + 1)
    import torch

    from framegen.viz import save_png

    for i in range(len(frames) - 1):
        times = [j / k for j in range(1, k)]
        mids = interpolator.between(frames[i], frames[i + 1], times=times)
        row = [label(frames[i], f"frame {i} (t=0)")] + [label(m, f"generated t={t:.2f}") for m, t in zip(mids, times)]
        row.append(label(frames[i + 1], f"frame {i + 1} (t=1)"))
        save_png(torch.from_numpy(side_by_side(row)).permute(2, 0, 1).float() / 255, comp / f"pair_{i:04d}.png")
    result = {"original": original["output"], "enhanced": enhanced["output"], "frame_comparison": str(comp),
              "enhanced_stats": enhanced}
    if montage:
        result["montage"] = str(_montage(out_dir / "original_video.mp4", out_dir / "enhanced_video.mp4",
                                         out_dir / "montage.mp4", Fraction(enhanced["fps_out"]).limit_denominator(1001)))
    return result


def _montage(original: Path, enhanced: Path, dst: Path, fps: Fraction) -> Path:
    """Original (each frame held) beside enhanced, at the enhanced frame rate."""
    orig = list(read_frames(original))
    times = [t for t, _ in orig]

    def frames():
        j = 0
        for t, f in read_frames(enhanced):
            while j + 1 < len(orig) and times[j + 1] <= t:
                j += 1
            yield side_by_side([label(orig[j][1], "original"), label(f, "framegen")])

    return write_video(dst, frames(), fps=fps)


def run_demo_mode(src: str | Path, out_dir: str | Path, interpolator: Interpolator, *, demo_frames: int = 12,
              interpolation_factor: int = 4) -> dict:
    """GIFs on the first ``demo_frames`` frames: the original, the interpolated, and both side by side."""
    src, out_dir = Path(src), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    k = int(interpolation_factor)
    frames = _first_frames(src, demo_frames)
    if len(frames) < 2:
        raise ValueError(f"{src} has fewer than 2 frames")
    fps = float(probe_video(src).fps)
    dense, held = [], []
    for i in range(len(frames) - 1):
        dense.append(frames[i])
        dense.extend(interpolator.between(frames[i], frames[i + 1], k - 1))
        held.extend([frames[i]] * k)
    dense.append(frames[-1])
    held.append(frames[-1])
    paths = {"original": out_dir / "original.gif", "interpolated": out_dir / "interpolated.gif",
             "comparison": out_dir / "comparison.gif"}
    write_gif(frames, paths["original"], fps=fps)
    write_gif(dense, paths["interpolated"], fps=fps * k)
    both = [side_by_side([label(a, "original"), label(b, f"framegen {k}x")]) for a, b in zip(held, dense)]
    write_gif(both, paths["comparison"], fps=fps * k, max_width=1280)
    return {k_: str(v) for k_, v in paths.items()}
