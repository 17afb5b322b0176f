"""Video in and out with PyAV: frames with exact timestamps, colour metadata kept, 8- or 10-bit, audio and
subtitle streams copied unchanged, output written to a temporary file and renamed only when complete."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger(__name__)


class VideoError(RuntimeError):
    """Unreadable input or unwritable output; the message is one line meant for people."""


@dataclass
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int | None
    duration: float | None
    pix_fmt: str
    bit_depth: int
    has_alpha: bool
    gray: bool
    start: Fraction
    color: dict = field(default_factory=dict)
    other_streams: list[str] = field(default_factory=list)


def _bit_depth(fmt: av.VideoFormat) -> int:
    return max((c.bits for c in fmt.components), default=8)


def probe_video(path: str | os.PathLike) -> VideoInfo:
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
            others = [f"{x.type}:{x.codec_context.name}" for x in c.streams if x.type in ("audio", "subtitle")]
            return VideoInfo(cc.width, cc.height, Fraction(fps), s.frames or None, duration, fmt.name, _bit_depth(fmt),
                             fmt.has_alpha if hasattr(fmt, "has_alpha") else "a" in fmt.name[:4],
                             fmt.name.startswith("gray"), start, color, others)
    except VideoError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as err:
        raise VideoError(f"cannot read {path} as a video: {str(err).splitlines()[0][:200]}") from None


def read_frames(path: str | os.PathLike, *, high_bit: bool = False) -> Iterator[tuple[Fraction, np.ndarray]]:
    """Decode frames as (time in seconds, (H, W, 3) RGB array): uint8, or uint16 when ``high_bit``.

    Grayscale input is expanded to RGB; alpha is dropped. A truncated file raises VideoError after its good frames.
    """
    fmt = "rgb48le" if high_bit else "rgb24"
    try:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            rate = s.average_rate or Fraction(25)
            for i, frame in enumerate(c.decode(s)):
                t = Fraction(frame.pts) * s.time_base if frame.pts is not None else Fraction(i) / rate
                yield t, frame.to_ndarray(format=fmt)
    except (av.error.FFmpegError, OSError) as err:
        raise VideoError(f"decoding {path} failed: {str(err).splitlines()[0][:200]}") from None


class VideoWriter:
    """Encodes RGB frames (uint8 or uint16) to ``path`` through a temporary file; :meth:`commit` renames it.

    ``pix_fmt`` yuv420p needs even sizes: odd sizes switch to yuv444p (same size, a note in the log).
    """

    def __init__(self, path: str | os.PathLike, *, width: int, height: int, fps: Fraction, codec: str = "libx264",
                 crf: int = 18, preset: str = "medium", pix_fmt: str = "yuv420p", color: dict | None = None,
                 start: Fraction = Fraction(0)) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")
        if pix_fmt.startswith(("yuv420", "yuv422")) and (width % 2 or height % 2):
            log.info("odd frame size %dx%d: encoding 4:4:4 (%s) to keep the exact size", width, height,
                     pix_fmt.replace("420", "444").replace("422", "444"))
            pix_fmt = pix_fmt.replace("420", "444").replace("422", "444")
        try:
            self.container = av.open(str(self.tmp), "w", format=_format_for(self.path))
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(f"cannot write {self.path}: {str(err).splitlines()[0][:200]}") from None
        fps = Fraction(fps).limit_denominator(1_000_000)
        self.stream = self.container.add_stream(codec, rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, pix_fmt
        self.stream.time_base = 1 / fps
        if codec in ("libx264", "libx265"):
            self.stream.options = {"crf": str(crf), "preset": preset}
        self.color = {k: v for k, v in (color or {}).items() if v not in (None, 2)}  # 2 = unspecified
        cc = self.stream.codec_context
        for key, value in self.color.items():
            try:
                setattr(cc, key, value)
            except (AttributeError, ValueError, TypeError):
                pass
        self.pix_fmt = pix_fmt
        self.fps = fps
        self.offset = round(start * fps)
        self.count = 0

    def add_copied_streams(self, source: str | os.PathLike) -> list:
        """Add every audio and subtitle stream of ``source`` (to copy with :meth:`copy_packets`)."""
        self._source = str(source)
        self._copies = []
        try:
            with av.open(self._source) as c:
                for s in c.streams:
                    if s.type in ("audio", "subtitle"):
                        try:
                            self._copies.append((s.index, self.container.add_stream_from_template(s)))
                        except (av.error.FFmpegError, ValueError) as err:
                            log.warning("stream %d (%s) cannot be copied into %s: %s", s.index, s.type,
                                        self.path.suffix, err)
        except av.error.FFmpegError:
            pass
        return self._copies

    def write(self, rgb: np.ndarray) -> None:
        fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
        cs = self.color.get("colorspace")
        frame = frame.reformat(format=self.pix_fmt, dst_colorspace=cs if cs in (1, 5, 6, 7, 9) else None,
                               dst_color_range=self.color.get("color_range") or None)
        frame.pts = self.offset + self.count
        self.count += 1
        for packet in self.stream.encode(frame):
            self.container.mux(packet)

    def copy_packets(self) -> None:
        """Copy the audio/subtitle packets of the source unchanged (same timestamps, so they stay in sync)."""
        if not getattr(self, "_copies", None):
            return
        mapping = dict(self._copies)
        with av.open(self._source) as c:
            streams = [c.streams[i] for i in mapping]
            for packet in c.demux(streams):
                if packet.dts is None and packet.pts is None:
                    continue
                packet.stream = mapping[packet.stream.index]
                self.container.mux(packet)

    def commit(self) -> Path:
        """Flush the encoder, copy the other streams, close and rename the file into place."""
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.copy_packets()
        self.container.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (nothing is left at the output path)."""
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a broken container must not hide the first error
            pass
        if self.tmp.exists():
            self.tmp.unlink()


def _format_for(path: Path) -> str | None:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}.get(
        path.suffix.lower())
