"""The original README's modes: ``test`` (original vs enhanced video, frame comparisons, optional montage) and
``demo`` (animated GIF comparisons of a short segment, in slow motion, and an MP4 of it at the real rate).

Both write files of fixed names into a folder; nothing of the user's is replaced: every file is checked before any
work (it must be absent, or with ``overwrite`` one that framegen wrote there and nobody changed since, as noted in the
folder's ``.framegen-outputs.json``), and each is put in place only when complete, never over a file that appeared
during the run.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.image_tensor import to_tensor
from framegen.inference.encoding import write_error, write_video
from framegen.inference.files import (
    Job,
    claim_outputs,
    interpolate_file,
    record_outputs,
    recorded_outputs,
)
from framegen.inference.inputs import job_span
from framegen.inference.interpolator import Interpolator
from framegen.inference.outputs import partial_name, path_identity, place_output
from framegen.inference.schedule import parse_time
from framegen.inference.video_io import VideoError, read_frames, video_info
from framegen.viz import label, save_png, side_by_side, write_gif


def _first_frames(path: Path, n: int, *, start: Fraction | None = None) -> list[np.ndarray]:
    """The first ``n`` frames of a video, or its first ``n`` from ``start`` (seconds from its first frame)."""
    begin = video_info(path).start + start if start else None
    out = []
    for _, f in read_frames(path, start=begin):
        out.append(f if f.dtype == np.uint8 else (f >> 8).astype(np.uint8))
        if len(out) == n:
            break
    return out


def _out_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise VideoError(f"output {out_dir} is a file; this mode writes a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(out_dir, err) from None


def _place(write, out_dir: Path, name: str, claimed: dict) -> Path:
    """``write(tmp)`` a file, then put it at ``out_dir/name`` (replacing only the file claimed) and record it."""
    dst = out_dir / name
    tmp = partial_name(dst)
    try:
        write(tmp)
        place_output(tmp, dst, claimed.get(name))
    except OSError as err:
        raise write_error(dst, err) from None
    finally:
        tmp.unlink(missing_ok=True)
    record_outputs(out_dir, [name])
    return dst


def run_test_mode(src: str | Path, out_dir: str | Path, interpolator: Interpolator, job: Job, *,
                  comparison_frames: int = 8, montage: bool = False) -> dict:
    """``out_dir/original_video.mp4``, ``enhanced_video.mp4``, ``frame_comparison/*.png`` (and ``montage.mp4``).
    Existing files are refused, or with ``job.overwrite`` replaced only when framegen wrote them."""
    src, out_dir = Path(src), Path(out_dir)
    _out_folder(out_dir)
    pairs = [f"frame_comparison/pair_{i:04d}.png" for i in range(max(0, comparison_frames))]
    names = ["original_video.mp4", "enhanced_video.mp4", *pairs, *(["montage.mp4"] if montage else [])]
    claimed = claim_outputs(out_dir, names, overwrite=job.overwrite)

    def video(name: str, j: Job) -> dict:
        result = interpolate_file(src, out_dir / name, interpolator, replace(j, overwrite=claimed[name] is not None))
        record_outputs(out_dir, [name])
        return result

    original = video("original_video.mp4", replace(job, progress=False, factor=1, fps=None))
    enhanced = video("enhanced_video.mp4", job)
    factor = max(2, int(job.factor or 2))
    comp = out_dir / "frame_comparison"
    try:
        comp.mkdir(exist_ok=True)
    except OSError as err:
        raise write_error(comp, err) from None
    span = job_span(job)
    frames = _first_frames(src, comparison_frames + 1, start=span[0] if span else None)
    written = []
    for i in range(len(frames) - 1):
        times = [j / factor for j in range(1, factor)]
        mids = interpolator.between(frames[i], frames[i + 1], times=times)
        row = [label(frames[i], f"frame {i} (t=0)")] + [label(m, f"generated t={t:.2f}") for m, t in zip(mids, times)]
        row.append(label(frames[i + 1], f"frame {i + 1} (t=1)"))
        image = to_tensor(side_by_side(row))[0]
        _place(lambda tmp, image=image: save_png(image, tmp), out_dir, pairs[i], claimed)
        written.append(pairs[i])
    _forget_old_pairs(out_dir, written)
    result = {"original": original["output"], "enhanced": enhanced["output"], "frame_comparison": str(comp),
              "enhanced_stats": enhanced}
    if montage:
        fps = Fraction(enhanced["fps_out"]).limit_denominator(1001)
        result["montage"] = str(_place(
            lambda tmp: _montage(out_dir / "original_video.mp4", out_dir / "enhanced_video.mp4", tmp, fps),
            out_dir, "montage.mp4", claimed))
    return result


def _forget_old_pairs(out_dir: Path, written: list[str]) -> None:
    """Remove comparison images an earlier run (with more of them) wrote and nobody changed since."""
    old = [name for name, ident in recorded_outputs(out_dir).items()
           if name.startswith("frame_comparison/pair_") and name not in written]
    for name in old:
        ident = path_identity(out_dir / name)
        if ident is not None and list(ident[1:]) == recorded_outputs(out_dir).get(name):
            (out_dir / name).unlink()
    if old:
        record_outputs(out_dir, [], forget=old)


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
                  factor: int = 4, overwrite: bool = False, start=None,
                  display_fps: float = 25.0) -> dict:
    """GIFs of a short segment (``demo_frames`` frames from ``start``, seconds or mm:ss; the first ones by default):
    the original, the interpolated and both side by side, every frame kept and played at ``display_fps`` at most
    (slow motion where input rate x factor is higher: GIF viewers drop or stretch frames shown under 20 ms, so at
    100 fps the gain could not be seen), and ``comparison.mp4``, the side by side at the real rate. Existing files
    are refused, or with ``overwrite`` replaced only when framegen wrote them."""
    src, out_dir = Path(src), Path(out_dir)
    _out_folder(out_dir)
    paths = {"original": "original.gif", "interpolated": "interpolated.gif", "comparison": "comparison.gif",
             "comparison_mp4": "comparison.mp4"}
    claimed = claim_outputs(out_dir, list(paths.values()), overwrite=overwrite)
    factor = int(factor)
    frames = _first_frames(src, demo_frames, start=parse_time(start) if start is not None else None)
    if len(frames) < 2:
        raise ValueError(f"{src} has fewer than 2 frames" + (f" from start={start}" if start is not None else ""))
    rate = Fraction(video_info(src).fps) * factor
    display = min(float(rate), float(display_fps))
    slower = float(rate) / display
    dense, held = [], []
    for i in range(len(frames) - 1):
        dense.append(frames[i])
        dense.extend(interpolator.between(frames[i], frames[i + 1], factor - 1))
        held.extend([frames[i]] * factor)
    dense.append(frames[-1])
    held.append(frames[-1])
    tag = f"framegen {factor}x" + (f", {slower:.3g}x slower" if slower > 1.001 else "")
    both = [side_by_side([label(a, "original"), label(b, tag)]) for a, b in zip(held, dense)]
    gifs = {"original": (frames, display / factor, 640), "interpolated": (dense, display, 640),
            "comparison": (both, display, 1280)}
    out = {}
    for key, (imgs, fps, width) in gifs.items():
        out[key] = str(_place(lambda tmp, imgs=imgs, fps=fps, width=width: write_gif(imgs, tmp, fps=fps,
                                                                                      max_width=width),
                              out_dir, paths[key], claimed))
    real = rate.limit_denominator(1001)
    out["comparison_mp4"] = str(_place(lambda tmp: write_video(tmp, both, fps=real), out_dir, paths["comparison_mp4"],
                                       claimed))
    return out
