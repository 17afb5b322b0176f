"""``run(cfg)``: what ``scripts/interpolate.py`` does with its composed config."""

from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig

from framegen.data.video import VIDEO_SUFFIXES, is_frame_folder
from framegen.inference.files import (
    EncodeSettings,
    Job,
    interpolate_file,
    interpolate_folder,
    is_video_folder,
)
from framegen.inference.interpolator import Interpolator
from framegen.inference.modes import run_demo_mode, run_test_mode
from framegen.inference.pipeline import SceneSettings
from framegen.inference.sample import make_sample_clip

log = logging.getLogger(__name__)


def _tag(cfg: DictConfig) -> str:
    if cfg.fps is not None:
        return f"{str(cfg.fps).replace('/', '_')}fps"
    return f"{cfg.factor}x"


def default_output(src: Path, cfg: DictConfig) -> Path:
    tag = _tag(cfg)
    if cfg.mode in ("test", "demo"):
        return src.parent / f"{src.stem}_{cfg.mode}"
    if src.is_dir():
        return src.parent / f"{src.name}_{tag}"
    suffix = src.suffix if src.suffix.lower() in (".mp4", ".mkv", ".mov") else ".mp4"
    return src.with_name(f"{src.stem}_{tag}{suffix}")


def summary_line(s: dict) -> str:
    return (f"{s['frames_in']} frames in ({s['fps_in']:.3f} fps) -> {s['frames_out']} frames out ({s['fps_out']:.3f} fps), "
            f"{s['interpolated']} interpolated, {s['cuts']} cuts, {s['duplicates']} duplicates, "
            f"{s['seconds']:.1f} s ({s['fps_processing']:.1f} frames/s) -> {s['output']}")


def run(cfg: DictConfig) -> dict:
    """Interpolate ``cfg.input`` (default: a sample clip made on the spot) and return a summary."""
    if cfg.input is None:
        src = Path(cfg.paths.root_dir) / "outputs" / "sample.mp4"
        if not src.exists():
            make_sample_clip(src)
            print(f"made a sample clip (scikit-image photos in motion, with a tone): {src}")
    else:
        src = Path(cfg.input).expanduser()
    dst = Path(cfg.output).expanduser() if cfg.output else default_output(src, cfg)
    interpolator = Interpolator.from_checkpoint(cfg.ckpt, device=cfg.device, precision=cfg.precision, scale=cfg.scale,
                                                tile=cfg.tile, tile_overlap=cfg.tile_overlap,
                                                batch_size=cfg.batch_size, compile=cfg.compile, tta=cfg.tta)
    # the sample run replaces its own earlier result; anything else needs overwrite=true
    overwrite = cfg.overwrite or (cfg.input is None and cfg.output is None)
    job = Job(factor=cfg.factor, fps=cfg.fps, input_fps=cfg.input_fps, overwrite=overwrite, progress=cfg.progress,
              scenes=SceneSettings(**cfg.scenes), encode=EncodeSettings(**cfg.encode))
    if cfg.mode == "test":
        result = run_test_mode(src, dst, interpolator, job, comparison_frames=cfg.test.comparison_frames,
                           montage=cfg.test.montage)
        print(summary_line(result["enhanced_stats"]))
        print(f"test mode: {dst}/ (original_video.mp4, enhanced_video.mp4, frame_comparison/"
              f"{', montage.mp4' if cfg.test.montage else ''})")
        return result
    if cfg.mode == "demo":
        result = run_demo_mode(src, dst, interpolator, demo_frames=cfg.demo.demo_frames,
                           interpolation_factor=cfg.demo.interpolation_factor)
        print(f"demo mode: {', '.join(result.values())}")
        return result
    if cfg.mode != "video":
        raise ValueError(f"mode must be video, test or demo, got {cfg.mode!r}")
    if is_video_folder(src):
        result = interpolate_folder(src, dst, interpolator, job)
        for s in result["done"]:
            print(summary_line(s))
        print(f"folder: {len(result['done'])} done, {len(result['skipped'])} skipped (already there), "
              f"{len(result['failed'])} failed -> {dst}")
        for path, err in result["failed"].items():
            print(f"  failed: {path}: {err}")
        return result
    if src.is_dir() and not is_frame_folder(src):
        raise FileNotFoundError(f"{src} holds neither videos nor numbered images")
    if src.is_file() and src.suffix.lower() not in VIDEO_SUFFIXES:
        log.info("%s has an unusual suffix; trying to read it as a video", src.name)
    result = interpolate_file(src, dst, interpolator, job)
    print(summary_line(result))
    return result
