"""Interpolating files: one video, a folder of numbered images, or a folder of videos.

Safety: the output appears only when complete (frames and segments go to a hidden work folder beside it first); the
input is never the output and never inside it; an existing output is replaced only with ``overwrite``, and a folder
only when it is framegen's own frame output. Long jobs resume: a rerun of an interrupted job continues after its
last finished segment (``resume=False`` starts over).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.inference.interpolator import Interpolator
from framegen.inference.pipeline import run_pipeline
from framegen.inference.schedule import SceneSettings, output_count, output_rate, parse_rate
from framegen.inference.sinks import (
    ANIMATION_SUFFIXES,
    AnimationSink,
    FrameFolderSink,
    SegmentedVideoSink,
    is_framegen_frames,
    remove_stale_partials,
    work_dir,
)
from framegen.inference.video_io import EncodeSettings, VideoError, probe_video, read_frames, write_error
from framegen.media import (
    VIDEO_SUFFIXES,
    MediaError,
    classify_input,
    frame_files,
    read_image,
    user_path,
    video_files,
)

log = logging.getLogger(__name__)
# output suffixes a folder batch keeps (others get .mp4 added: clip.avi -> clip.avi.mp4)
WRITABLE_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".m4v")


@dataclass
class Job:
    """What to make of an input. ``factor`` may be any positive number (1.5: 24 -> 36 fps); ``fps`` a target rate
    instead. ``slowmo``: keep the input's rate and stretch the duration by ``factor`` (the audio is dropped)."""

    factor: object = 2
    fps: object = None
    # frame rate of image-sequence input
    input_fps: object = 25
    overwrite: bool = False
    progress: bool = True
    slowmo: bool = False
    resume: bool = True
    segment_seconds: float = 10.0
    scenes: SceneSettings = field(default_factory=SceneSettings)
    encode: EncodeSettings = field(default_factory=EncodeSettings)


def output_kind(dst: Path) -> str:
    """'animation' (.gif, .webp), 'video' (a video suffix) or 'frames' (anything else: a folder of PNGs)."""
    suffix = dst.suffix.lower()
    if suffix in ANIMATION_SUFFIXES:
        return "animation"
    return "video" if suffix in VIDEO_SUFFIXES else "frames"


def check_paths(src: Path, dst: Path, *, overwrite: bool) -> None:
    """Refuse outputs that would touch the input or anything that is not framegen's earlier output."""
    if not src.exists():
        raise VideoError(f"input not found: {src}")
    s, d = src.resolve(), dst.resolve()
    if s == d or (dst.exists() and os.path.samefile(src, dst)):
        raise VideoError(f"refusing to write the output over the input: {src}")
    if s.is_relative_to(d):
        raise VideoError(f"refusing to write the output to {dst}: it holds the input {src}")
    if output_kind(dst) == "frames":
        if dst.exists() and not dst.is_dir():
            raise VideoError(f"output {dst} is a file, but frames go to a folder (give a video name such as out.mp4)")
        if dst.exists() and any(dst.iterdir()):
            if not overwrite:
                raise VideoError(f"output exists: {dst} (pass overwrite=true to replace it)")
            if not is_framegen_frames(dst):
                raise VideoError(f"refusing to replace {dst}: it holds files that are not framegen's frames "
                                 f"(choose an empty or new folder)")
    elif dst.exists():
        if dst.is_dir():
            raise VideoError(f"output {dst} is a folder; give a file name for a video output")
        if not overwrite:
            raise VideoError(f"output exists: {dst} (pass overwrite=true to replace it)")
    _ensure_parent(dst)


def _ensure_parent(dst: Path) -> None:
    parent = dst.parent
    for p in [parent, *parent.parents]:
        if p.exists():
            if not p.is_dir():
                raise VideoError(f"cannot write {dst}: {p} is a file, not a folder")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(dst, err) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VideoError(f"cannot write {dst}: no permission to write in {parent}")


def image_sequence(files: list[Path], fps: Fraction, *, keep_depth: bool) -> Iterator[tuple[Fraction, np.ndarray]]:
    alpha: list[Path] = []
    for i, p in enumerate(files):
        yield Fraction(i) / fps, read_image(p, keep_depth=keep_depth, alpha=alpha)
        if len(alpha) == 1 and alpha[0] == p:
            log.warning("%s has an alpha channel; it is dropped (so are those of the following images)", p.name)


def _fingerprint(src: Path, interpolator: Interpolator, job: Job, out_fps: Fraction, size: tuple[int, int]) -> dict:
    st = src.stat()
    inputs = [(str(p.name), p.stat().st_size, p.stat().st_mtime_ns) for p in frame_files(src)] if src.is_dir() else []
    return {"input": str(src.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, "frames": inputs,
            "model": interpolator.identity(), "out_fps": str(out_fps), "slowmo": job.slowmo,
            "scenes": asdict(job.scenes), "encode": asdict(job.encode), "frame": list(size)}


def interpolate_file(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job, *,
                     source_kind: str | None = None) -> dict:
    """Interpolate one video file or one folder of numbered images into a video, an animation (.gif/.webp) or a
    folder of PNG frames (any other name). ``source_kind`` ('video' or 'frames') skips classifying ``src`` again."""
    src, dst = user_path(src), user_path(dst)
    check_paths(src, dst, overwrite=job.overwrite)
    remove_stale_partials(dst)
    kind = output_kind(dst)
    if source_kind is None:
        try:
            source_kind = classify_input(src)
        except MediaError as err:
            raise VideoError(str(err)) from None
    if source_kind == "videos":
        raise VideoError(f"{src} is a folder of videos: interpolate_folder takes it")
    if source_kind == "frames":
        in_fps = parse_rate(job.input_fps, option="input_fps")
        files = frame_files(src)
        first = read_image(files[0], keep_depth=True)
        h, w = first.shape[:2]
        n, start, color, high = len(files), Fraction(0), {}, first.dtype == np.uint16
        frames = image_sequence(files, in_fps, keep_depth=high)
        copy_from, has_audio = None, False
    else:
        info = probe_video(src)
        if info.has_alpha:
            log.warning("%s has an alpha channel; it is dropped", src.name)
        in_fps, h, w, n, start, color = info.fps, info.height, info.width, info.frames, info.start, info.color
        high = info.bit_depth > 8 and job.encode.high_bit == "keep" and kind != "animation"
        if info.bit_depth > 8 and not high:
            log.warning("%s is %d-bit; writing 8-bit (encode.high_bit=8bit)", src.name, info.bit_depth)
        frames = read_frames(src, high_bit=info.bit_depth > 8, expected=info.frames, duration=info.duration)
        if info.bit_depth > 8 and not high:
            frames = ((t, (f >> 8).astype(np.uint8)) for t, f in frames)
        copy_from, has_audio = src, info.audio
    out_fps = output_rate(in_fps, factor=job.factor, fps=job.fps)
    write_fps = in_fps if job.slowmo else out_fps
    if job.slowmo:
        if job.fps is not None:
            raise ValueError("slowmo=true stretches by factor; leave fps unset")
        if has_audio:
            log.warning("slow motion: %s's audio is dropped (it would not match the stretched video)", src.name)
        copy_from, start = None, Fraction(0)
    if kind == "animation" and has_audio:
        log.warning("%s has no sound: %s's audio is dropped", dst.suffix, src.name)
    fingerprint = _fingerprint(src, interpolator, job, out_fps, (h, w))
    sink = _make_sink(kind, dst, job, w=w, h=h, fps=write_fps, high=high, color=color, start=start,
                      copy_from=copy_from, fingerprint=fingerprint)
    total = output_count(n, in_fps, out_fps) if n else None
    try:
        stats = run_pipeline(frames, sink, interpolator, out_fps=out_fps, frame_duration=1 / Fraction(in_fps),
                             scenes=job.scenes, total=total, progress=job.progress,
                             start_index=getattr(sink, "start_index", 0))
        path = sink.commit()
    except BaseException as err:
        # an interrupted run keeps its finished segments for a rerun; a failed input or model does not
        sink.abort(keep=isinstance(err, KeyboardInterrupt | SystemExit))
        raise
    return {"input": str(src), "output": str(path), "fps_in": float(in_fps), "fps_out": float(write_fps),
            "fps_timeline": float(out_fps), "size": f"{w}x{h}", **stats}


def _make_sink(kind: str, dst: Path, job: Job, *, w: int, h: int, fps: Fraction, high: bool, color: dict,
               start: Fraction, copy_from, fingerprint: dict):
    if kind == "animation":
        return AnimationSink(dst, fps=fps)
    if kind == "frames":
        return FrameFolderSink(dst, fingerprint=fingerprint, resume=job.resume)
    return SegmentedVideoSink(dst, width=w, height=h, fps=fps, settings=job.encode, high=high, color=color,
                              start=start, copy_from=copy_from, fingerprint=fingerprint, resume=job.resume,
                              segment_seconds=job.segment_seconds)


def folder_output_name(video: Path) -> str:
    """A folder batch's output name for ``video``: its own name when that is a writable video suffix, else the name
    with .mp4 added, so ``clip.mp4`` and ``clip.mov`` (or ``clip.flv``) never collide."""
    return video.name if video.suffix.lower() in WRITABLE_SUFFIXES else f"{video.name}.mp4"


def interpolate_folder(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job) -> dict:
    """Every video in ``src`` -> ``dst/<its name>`` (see :func:`folder_output_name`); outputs already there are
    skipped (unless overwrite), and a bad file is reported while the others continue."""
    src, dst = user_path(src), user_path(dst)
    if src.resolve() == dst.resolve():
        raise VideoError("the output folder must differ from the input folder")
    if dst.exists() and not dst.is_dir():
        raise VideoError(f"output {dst} is a file; a folder of videos goes to a folder")
    videos = video_files(src)
    if not videos:
        raise VideoError(f"no videos in {src}")
    done, skipped, failed = [], [], {}
    for video in videos:
        out = dst / folder_output_name(video)
        if out.exists() and not job.overwrite:
            skipped.append(str(out))
            continue
        try:
            done.append(interpolate_file(video, out, interpolator, job, source_kind="video"))
        except (VideoError, MediaError, ValueError) as err:
            failed[str(video)] = str(err)
            log.error("%s: %s", video.name, err)
    return {"done": done, "skipped": skipped, "failed": failed}


__all__ = ["EncodeSettings", "Job", "check_paths", "folder_output_name", "interpolate_file", "interpolate_folder",
           "output_kind", "work_dir"]
