"""``run(cfg)``: what ``scripts/interpolate.py`` (and ``framegen interpolate``) does with its composed config."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from framegen.inference.files import (
    EncodeSettings,
    Job,
    folder_output_name,
    interpolate_file,
    interpolate_folder,
)
from framegen.inference.interpolator import Interpolator
from framegen.inference.modes import run_demo_mode, run_test_mode
from framegen.inference.schedule import SceneSettings, parse_factor
from framegen.inference.sinks import work_dir
from framegen.inference.video_io import VideoError
from framegen.media import MediaError, classify_input, user_path

log = logging.getLogger(__name__)


def _tag(cfg: DictConfig) -> str:
    if cfg.fps is not None:
        return f"{str(cfg.fps).replace('/', '_')}fps"
    factor = parse_factor(cfg.factor)
    text = str(int(factor)) if factor.denominator == 1 else f"{float(factor):g}"
    return f"{text}x_slowmo" if cfg.get("slowmo") else f"{text}x"


def default_output(src: Path, cfg: DictConfig, kind: str) -> Path:
    tag = _tag(cfg)
    if cfg.mode in ("test", "demo"):
        return src.parent / f"{src.stem}_{cfg.mode}"
    if kind in ("videos", "frames"):
        return src.parent / f"{src.name}_{tag}"
    suffix = src.suffix if src.suffix.lower() in (".mp4", ".mkv", ".mov", ".webm") else ".mp4"
    return src.with_name(f"{src.stem}_{tag}{suffix}")


def summary_line(s: dict) -> str:
    resumed = f", resumed after {s['resumed_at']} finished frames" if s.get("resumed_at") else ""
    return (f"{s['frames_in']} frames in ({s['fps_in']:.3f} fps) -> {s['frames_out']} frames out ({s['fps_out']:.3f} fps), "
            f"{s['interpolated']} interpolated, {s['cuts']} cuts, {s['duplicates']} duplicates, "
            f"{s['seconds']:.1f} s ({s['fps_processing']:.1f} frames/s{resumed}) -> {s['output']}")


def build_job(cfg: DictConfig, *, overwrite: bool) -> Job:
    if cfg.fps is None:
        parse_factor(cfg.factor)  # a bad factor fails here, before any work
    return Job(factor=cfg.factor, fps=cfg.fps, input_fps=cfg.input_fps, overwrite=overwrite, progress=cfg.progress,
               slowmo=bool(cfg.get("slowmo", False)), resume=bool(cfg.get("resume", True)),
               segment_seconds=float(cfg.get("segment_seconds", 10.0)), scenes=SceneSettings(**cfg.scenes),
               encode=EncodeSettings(**cfg.encode))


def run(cfg: DictConfig) -> dict:
    """Interpolate ``cfg.input`` (default: a sample clip made on the spot) and return a summary.

    The summary holds ``failed`` (a folder batch's files that could not be interpolated); the caller exits non-zero
    when it is not empty.
    """
    from framegen.inference.sample import make_sample_clip

    if cfg.input is None:
        src = Path(cfg.paths.root_dir) / "outputs" / "sample.mp4"
        if not src.exists():
            make_sample_clip(src)
            print(f"made a sample clip (scikit-image photos in motion, with a tone): {src}")
    else:
        src = user_path(cfg.input)
    try:
        kind = classify_input(src)
    except MediaError as err:
        raise VideoError(str(err)) from None
    dst = user_path(cfg.output) if cfg.output else default_output(src, cfg, kind)
    job = build_job(cfg, overwrite=cfg.overwrite or (cfg.input is None and cfg.output is None))
    if cfg.mode not in ("video", "test", "demo"):
        raise ValueError(f"mode must be video, test or demo, got {cfg.mode!r}")
    interpolator = Interpolator.for_method(cfg.get("method", "model"), cfg.ckpt, device=cfg.device,
                                           precision=cfg.precision, scale=cfg.scale, tile=cfg.tile,
                                           tile_overlap=cfg.tile_overlap, batch_size=cfg.batch_size,
                                           compile=cfg.compile, tta=cfg.tta)
    if cfg.mode == "test":
        result = run_test_mode(src, dst, interpolator, job, comparison_frames=cfg.test.comparison_frames,
                               montage=cfg.test.montage)
        print(summary_line(result["enhanced_stats"]))
        print(f"test mode: {dst}/ (original_video.mp4, enhanced_video.mp4, frame_comparison/"
              f"{', montage.mp4' if cfg.test.montage else ''})")
        return result
    if cfg.mode == "demo":
        result = run_demo_mode(src, dst, interpolator, demo_frames=cfg.demo.demo_frames,
                               interpolation_factor=cfg.demo.interpolation_factor, overwrite=job.overwrite)
        print(f"demo mode: {', '.join(result.values())}")
        return result
    if kind == "videos":
        result = interpolate_folder(src, dst, interpolator, job)
        for s in result["done"]:
            print(summary_line(s))
        print(f"folder: {len(result['done'])} done, {len(result['skipped'])} skipped (already there), "
              f"{len(result['failed'])} failed -> {dst}/ (each output keeps its input's name, e.g. "
              f"{folder_output_name(Path('clip.mov'))})")
        for path, err in result["failed"].items():
            print(f"  failed: {path}: {err}")
        return result
    result = interpolate_file(src, dst, interpolator, job, source_kind=kind)
    print(summary_line(result))
    return {**result, "failed": {}}


def interrupted_message(cfg: DictConfig) -> str:
    """What an interrupted run tells the user (its finished segments wait in the work folder for a rerun)."""
    if cfg.get("output"):
        folder = work_dir(user_path(cfg.output))
        return f"interrupted: no output was written; finished segments are kept in {folder} (rerun to continue)"
    return "interrupted: no output was written; rerun the same command to continue after the finished segments"


__all__ = ["interrupted_message", "run", "summary_line", "user_path"]
