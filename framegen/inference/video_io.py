"""Video in with PyAV: what a file holds (:func:`video_info`) and its frames with exact timestamps, colour
metadata kept, 8- or 10-bit (:func:`read_frames`). Writing is :mod:`framegen.inference.encoding`.

Every error is a :class:`VideoError` with a one-line message that names the file.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from framegen.media import MediaError

log = logging.getLogger(__name__)

# pixel formats that carry an alpha channel
_ALPHA_PREFIXES = ("yuva", "rgba", "bgra", "argb", "abgr", "ya8", "ya16", "gbrap", "rgba64", "bgra64")
class VideoError(MediaError):
    """Unreadable input or unwritable output; the message is one line meant for people."""


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int | None
    duration: float | None
    bit_depth: int
    has_alpha: bool
    start: Fraction
    color: dict = field(default_factory=dict)
    audio: bool = False
    # the display matrix (9 ints, FFmpeg's layout) of a rotated or mirrored clip, e.g. a phone's portrait video
    display_matrix: list[int] | None = None
    rotation: float = 0.0
    interlaced: bool = False
    chapters: int = 0
    subtitles: bool = False
    # the input's streams framegen never carries over, in words (a timecode track, cover art, ...)
    left_out: list[str] = field(default_factory=list)


def _bit_depth(fmt: av.VideoFormat) -> int:
    return max((c.bits for c in fmt.components), default=8)


def has_alpha(pix_fmt: str) -> bool:
    """True for pixel formats with an alpha channel (``gray`` and friends have none)."""
    return pix_fmt.startswith(_ALPHA_PREFIXES)


def first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


def video_info(path: str | os.PathLike) -> VideoInfo:
    path = Path(path)
    if not path.exists():
        raise VideoError(f"input not found: {path}")
    if path.is_file() and path.stat().st_size == 0:
        raise VideoError(f"input is an empty file: {path}")
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(f"no video stream in {path}")
            s = c.streams.video[0]
            cc = s.codec_context
            fmt = cc.format or av.VideoFormat("yuv420p")
            fps = s.average_rate or s.guessed_rate or Fraction(25)
            start = Fraction(s.start_time) * s.time_base if s.start_time is not None else Fraction(0)
            duration = float(s.duration * s.time_base) if s.duration else (c.duration / 1e6 if c.duration else None)
            color = {"color_primaries": cc.color_primaries, "color_trc": cc.color_trc, "colorspace": cc.colorspace,
                     "color_range": cc.color_range}
            info = VideoInfo(cc.width, cc.height, Fraction(fps), s.frames or None, duration, _bit_depth(fmt),
                             has_alpha(fmt.name), start, color, audio=bool(c.streams.audio),
                             subtitles=bool(c.streams.subtitles), left_out=_left_out(c, s))
            _first_frame_facts(c, s, info)
            try:
                info.chapters = len(c.chapters())
            except (av.error.FFmpegError, AttributeError, ValueError):
                pass
            if info.display_matrix is not None:  # travels with the colour tags to every segment's encoder
                info.color["display_matrix"] = info.display_matrix
            return info
    except VideoError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as err:
        raise VideoError(f"cannot read {path} as a video: {first_line(err)}") from None


def _left_out(c, video) -> list[str]:
    """The streams of ``c`` that no output gets: other video streams, cover art, timecode and data tracks."""
    out = []
    chapters = len(c.chapters()) if hasattr(c, "chapters") else 0
    for s in c.streams:
        if s.index == video.index or s.type in ("audio", "subtitle"):
            continue
        if s.type == "data" and chapters and _is_chapter_track(s, chapters):
            continue  # the chapters' own text track: the chapters are carried
        tag = getattr(s.codec_context, "codec_tag", "") or ""
        if s.type == "video" and s.disposition & av.stream.Disposition.attached_pic:
            out.append(f"its cover art (stream {s.index}) is not carried over")
        elif s.type == "video":
            out.append(f"its second video stream (stream {s.index}) is not carried over: only the first is "
                       f"interpolated")
        elif s.type == "data" and (tag == "tmcd" or "timecode" in s.metadata):
            out.append(f"its timecode track (stream {s.index}) is not carried over")
        else:
            out.append(f"its {s.type} stream {s.index} ({tag or s.type}) is not carried over")
    return out


def _is_chapter_track(s, chapters: int) -> bool:
    """True for the QuickTime text track an mp4/mov keeps its chapters in (one sample per chapter, no codec)."""
    return s.codec_context is None and s.frames in (0, chapters)


def _first_frame_facts(c, s, info: VideoInfo) -> None:
    """Rotation (the display matrix) and interlacing, which FFmpeg hands over with the decoded frames."""
    try:
        order = getattr(s.codec_context, "field_order", None)
        frame = next(c.decode(s), None)
    except (av.error.FFmpegError, ValueError, OSError, StopIteration):
        return
    # AVFieldOrder: 0 unknown, 1 progressive, 2-5 the interlaced orders (tt, bb, tb, bt)
    info.interlaced = (order in (2, 3, 4, 5) or str(order).lower() in ("tt", "bb", "tb", "bt")
                       or bool(frame is not None and frame.interlaced_frame))
    if frame is None:
        return
    for side in frame.side_data:
        if "DISPLAYMATRIX" in str(side.type):
            matrix = [int(v) for v in np.frombuffer(bytes(side), dtype="<i4")[:9]]
            if matrix != [65536, 0, 0, 0, 65536, 0, 0, 0, 1 << 30]:  # not the identity
                info.display_matrix = matrix
                info.rotation = float(frame.rotation or 0)


def not_carried_over(info: VideoInfo, *, output: str, slowmo: bool = False) -> list[str]:
    """One phrase for each thing of the input that an output of kind ``output`` ('video', 'animation' or 'frames')
    does not keep (the alpha channel and, for animations and slow motion, the audio are warned about elsewhere)."""
    out = list(info.left_out)
    if info.interlaced:
        out.append("it is interlaced: frames are interpolated as progressive pictures, fields are not separated "
                   "(deinterlace it first, e.g. ffmpeg -vf bwdif)")
    if info.display_matrix is not None and output != "video":
        out.append(f"its rotation ({info.rotation:g} degrees) is not applied: the frames are written as stored")
    if info.chapters and (output != "video" or slowmo):
        out.append(f"its {info.chapters} chapter(s) are not carried over" + (" (slow motion)" if slowmo else ""))
    if info.subtitles and (output != "video" or slowmo):
        out.append("its subtitles are not carried over" + (" (slow motion)" if slowmo else ""))
    if info.audio and output == "frames":
        out.append("its audio is not carried over (a folder of frames has no sound)")
    return out


def warn_not_carried(src: Path, info: VideoInfo, *, output: str, slowmo: bool = False) -> None:
    """Log one warning line for each thing of ``src`` the output does not keep."""
    for phrase in not_carried_over(info, output=output, slowmo=slowmo):
        log.warning("%s: %s", Path(src).name, phrase)


def read_frames(path: str | os.PathLike, *, high_bit: bool = False, expected: int | None = None,
                duration: float | None = None, start: Fraction | None = None,
                end: Fraction | None = None) -> Iterator[tuple[Fraction, np.ndarray]]:
    """Decode frames as (time in seconds, (H, W, 3) RGB array): uint8, or uint16 when ``high_bit``.

    Grayscale input is expanded to RGB; alpha is dropped. A file that ends early (a truncated download, a corrupt
    stream) raises VideoError after its good frames: a decode error, or fewer frames than the container's index
    (``expected``, less the frames an edit list hides, as in a stream-copied trim: those a player shows) or its
    ``duration`` promise. Timestamps that go backwards (clips joined without re-timing) raise VideoError too.

    ``start`` / ``end`` (stream times in seconds): only the frames shown in [start, end), decoding from the key frame
    before ``start`` (``expected`` is then not checked; ``duration`` up to ``end``).
    """
    fmt = "rgb48le" if high_bit else "rgb24"
    count, last, hidden = 0, None, 0
    if start is not None or end is not None:
        expected = None
        if duration and end is not None:
            duration = min(duration, float(end))
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            rate = s.average_rate or Fraction(25)
            if start:
                c.seek(int(Fraction(start) / s.time_base), stream=s, backward=True, any_frame=False)
            for packet in c.demux(s):
                if packet.is_discard and packet.size:  # decoded for reference, never shown (an mp4 edit list)
                    hidden += 1
                for frame in packet.decode():
                    t = Fraction(frame.pts) * s.time_base if frame.pts is not None else Fraction(count) / rate
                    if start is not None and t < start:
                        continue
                    if end is not None and t >= end:
                        return
                    if last is not None and t < last:
                        raise VideoError(
                            f"{path}: timestamps go backwards at frame {count} ({float(t):.2f} s after "
                            f"{float(last):.2f} s), as in clips joined without re-timing; re-time it first, e.g. "
                            f"ffmpeg -i {Path(path).name} -vf setpts=N/FRAME_RATE/TB -af asetpts=N/SR/TB fixed.mp4")
                    count, last = count + 1, t
                    yield t, frame.to_ndarray(format=fmt)
    except (av.error.FFmpegError, OSError) as err:
        raise VideoError(f"decoding {path} failed after {count} frames: {first_line(err)}") from None
    if expected and count < expected - hidden:
        raise VideoError(f"{path} is truncated or corrupt: {count} of its {expected - hidden} frames could be "
                         f"decoded")
    if duration and last is not None and float(last) + 1.0 < duration:
        raise VideoError(f"{path} is truncated or corrupt: frames stop at {float(last):.2f} s of {duration:.2f} s")
