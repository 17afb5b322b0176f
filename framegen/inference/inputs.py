"""Opening a job's input: a video file or a folder of numbered images becomes one :class:`OpenedInput`, its frames
(time in seconds, (H, W, 3) array) and what the output needs to know of it (rate, size, colour, bit depth, the audio
to carry, the span of ``start=`` / ``duration=``).

Torch-free: the video tool checks an input (and the span a user asked for) before the net loads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from framegen.inference.schedule import parse_rate, parse_time
from framegen.inference.video_io import VideoError, read_frames, video_info, warn_not_carried
from framegen.media import MediaError, classify_input, frame_files, read_image

if TYPE_CHECKING:  # only for the annotations: files.py, which defines Job, imports this module
    from framegen.inference.files import Job

log = logging.getLogger(__name__)

Frames = Iterator[tuple[Fraction, np.ndarray]]


@dataclass(frozen=True)
class OpenedInput:
    """An input ready to be read. ``frames`` yields (seconds, (H, W, 3) uint8 or uint16 array) from the span's start;
    ``count`` is how many it will yield when known. ``start`` is the input's own first timestamp (the output keeps
    it), ``high`` whether the output is written at more than 8 bits, ``carry_from`` the file whose audio, subtitles,
    chapters and rotation the output carries (None for images), ``has_audio`` whether it has sound, ``copy_span``
    (from, to, shift) of a ``start=`` / ``duration=`` span for what is carried."""

    kind: str  # "video" or "frames"
    frames: Frames
    fps: Fraction
    width: int
    height: int
    count: int | None
    start: Fraction = Fraction(0)
    color: dict = field(default_factory=dict)
    high: bool = False
    carry_from: Path | None = None
    has_audio: bool = False
    copy_span: tuple | None = None


def job_span(job: Job) -> tuple[Fraction, Fraction | None] | None:
    """(start, end or None) in seconds from the input's first frame, or None for the whole input."""
    if job.start is None and job.duration is None:
        return None
    lo = parse_time(job.start, option="start") if job.start is not None else Fraction(0)
    if job.duration is None:
        return lo, None
    length = parse_time(job.duration, option="duration")
    if length <= 0:
        raise ValueError(f"duration={job.duration}: give a length > 0 in seconds (or mm:ss), e.g. 5")
    return lo, lo + length


def check_span(job: Job, src: Path, input_seconds: float | None) -> tuple[Fraction, Fraction | None] | None:
    """:func:`job_span`, refusing a start at or after the end of an input ``input_seconds`` long."""
    span = job_span(job)
    if span is not None and input_seconds is not None and span[0] >= Fraction(input_seconds):
        raise VideoError(f"start={job.start} is at or after the end of {src.name} ({input_seconds:.2f} s long)")
    return span


def image_sequence(files: list[Path], fps: Fraction, *, keep_depth: bool) -> Frames:
    alpha: list[Path] = []
    for i, p in enumerate(files):
        yield Fraction(i) / fps, read_image(p, keep_depth=keep_depth, alpha=alpha)
        if len(alpha) == 1 and alpha[0] == p:
            log.warning("%s has an alpha channel; it is dropped (so are those of the following images)", p.name)


def open_input(src: Path, job: Job, *, output: str, source_kind: str | None = None) -> OpenedInput:
    """Open ``src`` for ``job`` whose output is of kind ``output`` ('video', 'frames' or 'animation'; what it cannot
    carry is warned about here). ``source_kind`` ('video' or 'frames') skips classifying ``src`` again."""
    if source_kind is None:
        try:
            source_kind = classify_input(src)
        except MediaError as err:
            raise VideoError(str(err)) from None
    if source_kind == "videos":
        raise VideoError(f"{src} is a folder of videos: interpolate_folder takes it")
    if source_kind == "frames":
        return _open_images(src, job)
    return _open_video(src, job, output=output)


def _open_images(src: Path, job: Job) -> OpenedInput:
    fps = parse_rate(job.input_fps, option="input_fps")
    files = frame_files(src)
    span = check_span(job, src, float(len(files) / fps))
    if span is not None:  # image i is shown at i / input_fps
        files = [f for i, f in enumerate(files) if i / fps >= span[0] and (span[1] is None or i / fps < span[1])]
        if not files:
            raise VideoError(f"no image of {src.name} is shown in start={job.start} duration={job.duration} "
                             f"(at input_fps={job.input_fps}): give a longer duration")
    first = read_image(files[0], keep_depth=True)
    high = first.dtype == np.uint16
    return OpenedInput("frames", image_sequence(files, fps, keep_depth=high), fps, first.shape[1], first.shape[0],
                       len(files), high=high)


def _open_video(src: Path, job: Job, *, output: str) -> OpenedInput:
    info = video_info(src)
    if info.has_alpha:
        log.warning("%s has an alpha channel; it is dropped", src.name)
    warn_not_carried(src, info, output=output, slowmo=job.slowmo)  # rotation, chapters, timecode, cover art...
    deep = info.bit_depth > 8
    high = deep and job.encode.high_bit == "keep" and output != "animation"
    if deep and not high:
        log.warning("%s is %d-bit; writing 8-bit (encode.high_bit=8bit)", src.name, info.bit_depth)
    span = check_span(job, src, info.duration)
    count, copy_span = info.frames, None
    if span is None:
        frames = read_frames(src, high_bit=deep, expected=info.frames, duration=info.duration)
    else:  # the span's frames, re-timed to start where the input starts; its audio is cut to match
        lo, hi = span
        frames = read_frames(src, high_bit=deep, duration=info.duration, start=info.start + lo,
                             end=None if hi is None else info.start + hi)
        frames = _shifted(frames, lo)
        end = float(hi) if hi is not None and (info.duration is None or hi < info.duration) else info.duration
        count = round((Fraction(end) - lo) * info.fps) if end is not None else None
        copy_span = (info.start + lo, None if hi is None else info.start + hi, lo)
    if deep and not high:
        frames = ((t, (f >> 8).astype(np.uint8)) for t, f in frames)
    return OpenedInput("video", frames, info.fps, info.width, info.height, count, start=info.start,
                       color=info.color, high=high, carry_from=src, has_audio=bool(info.audio), copy_span=copy_span)


def _shifted(frames: Frames, by: Fraction) -> Frames:
    return ((t - by, f) for t, f in frames)


__all__ = ["OpenedInput", "check_span", "image_sequence", "job_span", "open_input"]
