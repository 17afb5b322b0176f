"""``run(cfg)``: what ``scripts/interpolate.py`` (and ``framegen interpolate``) does with its composed config."""

from __future__ import annotations

import logging
import math
from fractions import Fraction
from pathlib import Path

from omegaconf import DictConfig

# Nothing here imports torch (nor does framegen.inference's __init__): run() checks the input, the output and
# every option first and loads torch, Lightning and the net after them, so a mistake is one line in a second or two.
from framegen.inference.files import (
    EncodeSettings,
    Job,
    check_folder_paths,
    check_paths,
    folder_output_name,
    interpolate_file,
    interpolate_folder,
)
from framegen.inference.inputs import check_span, job_span
from framegen.inference.outputs import work_dir
from framegen.inference.schedule import SceneSettings, parse_factor, parse_rate
from framegen.inference.video_io import VideoError, video_info
from framegen.media import MediaError, classify_input, user_path

log = logging.getLogger(__name__)

# output rates (fps) a run makes without allow_any_rate=true, and factors likewise
RATE_RANGE = (Fraction(1), Fraction(1000))
FACTOR_RANGE = (Fraction(1, 16), Fraction(64))
_ASK = "pass allow_any_rate=true to make it anyway"


def _get(cfg: DictConfig, key: str):
    node = cfg
    for part in key.split("."):
        node = node.get(part) if node is not None else None
    return node


def _is_int(v) -> bool:
    return (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer())


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# option -> (accepts the value?, what to give instead); a missing option (an older config) is not checked
_OPTIONS = {
    "segment_seconds": (lambda v: _is_number(v) and v > 0, "a number of seconds > 0, e.g. 10"),
    "scale": (lambda v: _is_number(v) and 0 < v <= 1, "a fraction in (0, 1], e.g. 0.5 for 4K"),
    "tile": (lambda v: v is None or (_is_int(v) and v > 0), "a tile size in pixels, e.g. 1024, or null"),
    "tile_overlap": (lambda v: _is_int(v) and v >= 0, "a number of pixels >= 0, e.g. 64"),
    "batch_size": (lambda v: _is_int(v) and v >= 1, "a whole number of frame pairs >= 1, e.g. 4"),
    "encode.crf": (lambda v: _is_int(v) and 0 <= v <= 51, "a whole number from 0 (best) to 51, e.g. 18"),
    "scenes.cut_threshold": (lambda v: _is_number(v) and v >= 0, "a number >= 0, e.g. 20"),
    "scenes.cut_hist": (lambda v: _is_number(v) and v >= 0, "a number >= 0, e.g. 0.4"),
    "scenes.duplicate_threshold": (lambda v: _is_number(v) and v >= 0, "a number >= 0, e.g. 0.3"),
    "test.comparison_frames": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0, e.g. 8"),
    "demo.demo_frames": (lambda v: _is_int(v) and v >= 2, "a whole number >= 2, e.g. 12"),
    "demo.factor": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1, e.g. 4"),
    "demo.interpolation_factor": (lambda v: v is None or (_is_int(v) and v >= 1), "a whole number >= 1, e.g. 4"),
    "demo.display_fps": (lambda v: _is_number(v) and v > 0, "frames per second > 0, e.g. 25"),
    "runtime": (lambda v: v in ("torch", "openvino", "onnxruntime"), "torch, openvino or onnxruntime"),
    "static_threshold": (lambda v: v is None or (_is_number(v) and 0 < v <= 1), "null (off) or a number in (0, 1], e.g. 0.04"),
    **{key: (lambda v: isinstance(v, bool), "true or false")
       for key in ("overwrite", "resume", "progress", "slowmo", "compile", "tta", "allow_any_rate", "test.montage",
                   "scenes.detect_cuts", "scenes.remove_duplicates")},
}


def check_options(cfg: DictConfig) -> None:
    """ValueError naming the first option with a value that makes no sense (``segment_seconds=nan``, ``tile=-5``,
    ``overwrite=maybe``), before any work."""
    for key, (ok, wanted) in _OPTIONS.items():
        parent, _, leaf = key.rpartition(".")
        node = _get(cfg, parent) if parent else cfg
        if node is None or leaf not in node:
            continue
        value = node.get(leaf)
        if not ok(value):
            raise ValueError(f"{key}={value}: give {wanted}")
    parse_rate(cfg.input_fps, option="input_fps")
    job_span(Job(start=cfg.get("start"), duration=cfg.get("duration")))  # start=abc, duration=0
    if cfg.fps is not None:
        parse_rate(cfg.fps)
    else:
        parse_factor(cfg.factor)


def check_rates(cfg: DictConfig, src: Path | None, kind: str | None) -> None:
    """Refuse output rates outside RATE_RANGE and factors outside FACTOR_RANGE (``fps=0.001`` makes 1,000 s of
    video from one second; ``fps=1e9`` a run that never ends) unless ``allow_any_rate=true``."""
    if cfg.get("allow_any_rate", False):
        return
    lo, hi = RATE_RANGE
    span = f"{lo}-{hi} fps"
    if cfg.fps is not None:
        rate = parse_rate(cfg.fps)
        if not lo <= rate <= hi:
            raise ValueError(f"fps={cfg.fps}: output rates outside {span} are refused ({_ASK})")
        return
    factor = parse_factor(cfg.factor)
    flo, fhi = FACTOR_RANGE
    if not flo <= factor <= fhi:
        raise ValueError(f"factor={cfg.factor}: factors outside {flo}-{fhi} (and output rates outside {span}) are "
                         f"refused ({_ASK})")
    if cfg.get("slowmo") or src is None:
        return  # slow motion writes at the input's own rate
    in_fps = None
    if kind == "frames":
        in_fps = parse_rate(cfg.input_fps, option="input_fps")
    elif kind == "video":
        try:
            in_fps = video_info(src).fps
        except VideoError:
            return  # the run says what is wrong with the file
    if in_fps is not None and not lo <= in_fps * factor <= hi:
        raise ValueError(f"factor={cfg.factor} makes {float(in_fps * factor):.4g} fps from {src.name}'s "
                         f"{float(in_fps):.4g} fps: output rates outside {span} are refused ({_ASK})")


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
               encode=EncodeSettings(**cfg.encode), start=cfg.get("start"), duration=cfg.get("duration"))


def run(cfg: DictConfig) -> dict:
    """Interpolate ``cfg.input`` (default: a sample clip made on the spot) and return a summary.

    The summary holds ``failed`` (a folder batch's files that could not be interpolated); the caller exits non-zero
    when it is not empty.
    """
    check_options(cfg)
    check_rates(cfg, None, None)
    if cfg.mode not in ("video", "test", "demo"):
        raise ValueError(f"mode must be video, test or demo, got {cfg.mode!r}")
    if cfg.input is None:
        src = Path(cfg.paths.root_dir) / "outputs" / "sample.mp4"
        if not src.exists():
            # lazy: imports torch and Lightning, only when there is no input
            from framegen.inference.sample import make_sample_clip

            make_sample_clip(src)
            print(f"made a sample clip (scikit-image photos in motion, with a tone): {src}")
    else:
        src = user_path(cfg.input)
    try:
        kind = classify_input(src)
    except MediaError as err:
        raise VideoError(str(err)) from None
    check_rates(cfg, src, kind)
    dst = user_path(cfg.output) if cfg.output else default_output(src, cfg, kind)
    job = build_job(cfg, overwrite=cfg.overwrite or (cfg.input is None and cfg.output is None))
    if cfg.mode == "video" and kind == "videos":
        check_folder_paths(src, dst)
    elif cfg.mode == "video":
        check_paths(src, dst, overwrite=job.overwrite, make_parent=False)
    if kind == "video" and job_span(job) is not None:
        check_span(job, src, video_info(src).duration)  # start=90 on a 60 s clip
    # lazy: every cheap check passed, now torch, Lightning and the net (seconds)
    from framegen.inference.interpolator import Interpolator
    from framegen.inference.modes import run_demo_mode, run_test_mode

    interpolator = Interpolator.for_method(cfg.get("method", "model"), cfg.ckpt, device=cfg.device,
                                           precision=cfg.precision, scale=cfg.scale, tile=cfg.tile,
                                           tile_overlap=cfg.tile_overlap, batch_size=cfg.batch_size,
                                           compile=cfg.compile, tta=cfg.tta,
                                           static_threshold=cfg.get("static_threshold"),
                                           runtime=cfg.get("runtime", "torch"))
    if cfg.mode == "test":
        result = run_test_mode(src, dst, interpolator, job, comparison_frames=cfg.test.comparison_frames,
                               montage=cfg.test.montage)
        print(summary_line(result["enhanced_stats"]))
        print(f"test mode: {dst}/ (original_video.mp4, enhanced_video.mp4, frame_comparison/"
              f"{', montage.mp4' if cfg.test.montage else ''})")
        return result
    if cfg.mode == "demo":
        result = run_demo_mode(src, dst, interpolator, demo_frames=cfg.demo.demo_frames,
                               factor=demo_factor(cfg), overwrite=job.overwrite,
                               start=job.start, display_fps=cfg.demo.get("display_fps", 25))
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


def demo_factor(cfg: DictConfig) -> int:
    """``demo.factor``, or the old spelling ``demo.interpolation_factor`` when given (with a deprecation warning)."""
    old = cfg.demo.get("interpolation_factor")
    if old is None:
        return int(cfg.demo.factor)
    log.warning("demo.interpolation_factor is deprecated: use demo.factor=%s (the old name is still taken)", old)
    return int(old)


def interrupted_message(cfg: DictConfig) -> str:
    """What an interrupted run tells the user (its finished segments wait in the work folder for a rerun)."""
    if cfg.get("output"):
        folder = work_dir(user_path(cfg.output))
        return f"interrupted: no output was written; finished segments are kept in {folder} (rerun to continue)"
    return "interrupted: no output was written; rerun the same command to continue after the finished segments"


__all__ = ["interrupted_message", "run", "summary_line", "user_path"]
