"""Video out with PyAV: encoders chosen by codec name or output suffix, colour metadata kept, 8- or 10-bit; segments
encoded separately and joined into one file with the source's audio and subtitle streams copied (or, where the
container cannot hold them, transcoded or dropped with a warning). Reading is :mod:`framegen.inference.video_io`.

Every error is a :class:`~framegen.inference.video_io.VideoError` with a one-line message that names the file.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from framegen.atomic import atomic_path
from framegen.inference.video_io import VideoError, first_line

log = logging.getLogger(__name__)

# codec aliases a user may type -> encoder names
CODEC_ALIASES = {"h264": "libx264", "x264": "libx264", "h265": "libx265", "hevc": "libx265", "x265": "libx265",
                 "vp9": "libvpx-vp9", "prores": "prores_ks", "av1": "libsvtav1", "nvenc": "h264_nvenc",
                 "h264_nvenc": "h264_nvenc", "hevc_nvenc": "hevc_nvenc", "ffv1": "ffv1"}
# the codec an output suffix gets with codec=auto
SUFFIX_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mkv": "libx264", ".mov": "libx264", ".webm": "libvpx-vp9"}
# the containers framegen writes (AVI is read, not written: it cannot hold reordered H.264 frames cleanly)
CONTAINER_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
# codecs each container takes (others are refused with the alternatives named)
CONTAINER_CODECS = {
    "mp4": {"libx264", "libx265", "libvpx-vp9", "libsvtav1", "h264_nvenc", "hevc_nvenc"},
    "mov": {"libx264", "libx265", "prores_ks", "h264_nvenc", "hevc_nvenc"},
    "matroska": {"libx264", "libx265", "libvpx-vp9", "libsvtav1", "ffv1", "prores_ks", "h264_nvenc", "hevc_nvenc"},
    "webm": {"libvpx-vp9", "libsvtav1"},
}


@dataclass(frozen=True)
class EncodeSettings:
    """How video outputs are encoded. ``codec``: auto (by the output's suffix: H.264 for .mp4/.mkv/.mov, VP9 for
    .webm), or libx264/h264, libx265/hevc, libvpx-vp9/vp9, prores_ks/prores, ffv1 (lossless), libsvtav1/av1,
    h264_nvenc/nvenc (NVIDIA GPUs)."""

    # x264's "faster" at crf 17: 2.5x the encoding speed of "medium" at crf 18, at a higher PSNR against the frames
    # (47.2 against 46.8 dB) for a file about 1.2x the size (docs/video_tool.md, "Encoding")
    crf: int = 17
    preset: str = "faster"
    pix_fmt: str = "yuv420p"
    # 10-bit input: 'keep' writes 10-bit, '8bit' down-converts (with a warning)
    high_bit: str = "keep"
    codec: str = "auto"


def nvenc_works() -> bool:
    """True when NVIDIA's H.264 encoder opens here (a CUDA GPU with a driver); checked only where torch sees CUDA."""
    import torch  # lazy: this module is on the video tool's torch-free start (its checks come first)

    if not torch.cuda.is_available():
        return False
    try:
        cc = av.CodecContext.create("h264_nvenc", "w")
        cc.width, cc.height, cc.pix_fmt, cc.time_base = 256, 256, "yuv420p", Fraction(1, 25)
        cc.open()
        return True
    except (av.error.FFmpegError, ValueError):
        return False


def resolve_codec(codec: str, path: Path) -> str:
    """The encoder for ``codec`` (an alias or 'auto') and output ``path``; raises VideoError for bad pairs. ``auto``
    is H.264 (VP9 for .webm), encoded on an NVIDIA GPU (NVENC) when one is present."""
    suffix = path.suffix.lower()
    fmt = CONTAINER_FORMATS.get(suffix)
    if fmt is None:
        raise VideoError(f"cannot write {path.name}: unknown video suffix {suffix!r} "
                         f"(use {', '.join(sorted(CONTAINER_FORMATS))}, .gif, .webp, or a folder for PNG frames)")
    name = SUFFIX_CODECS[suffix] if codec == "auto" else CODEC_ALIASES.get(codec, codec)
    if codec == "auto" and name == "libx264" and nvenc_works():
        name = "h264_nvenc"
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError) as err:
        raise VideoError(f"encoder {codec!r} is not available in this PyAV build ({first_line(err)})") from None
    if name not in CONTAINER_CODECS[fmt]:
        ok = ", ".join(sorted(CONTAINER_CODECS[fmt]))
        raise VideoError(f"{suffix} files cannot hold {name} video (use one of: {ok})")
    return name


def _pix_fmt(codec: str, requested: str, *, high: bool, width: int, height: int) -> str:
    if codec == "prores_ks":
        return "yuv444p10le" if "444" in requested else "yuv422p10le"
    if codec == "ffv1":  # lossless: keep RGB exactly (FFV1 has no 8-bit planar RGB; bgr0 is packed RGB)
        return "gbrp16le" if high else "bgr0"
    pix = requested
    if high and "10" not in pix:
        pix = pix.replace("p", "p10le", 1) if pix.endswith("p") else pix
    if pix.startswith(("yuv420", "yuv422")) and (width % 2 or height % 2):
        new = pix.replace("420", "444").replace("422", "444")
        log.info("odd frame size %dx%d: encoding 4:4:4 (%s) to keep the exact size", width, height, new)
        pix = new
    if codec.endswith("_nvenc") and "10" in pix:
        pix = "p010le"
    return pix


def _is_rgb(pix_fmt: str) -> bool:
    return pix_fmt.startswith(("gbrp", "bgr0", "rgb"))


def add_video_stream(container, *, codec: str, fps: Fraction, width: int, height: int, settings: EncodeSettings,
                     high: bool = False, color: dict | None = None):
    """Add and configure a video stream; returns (stream, pix_fmt, colour settings to convert frames with)."""
    fps = Fraction(fps).limit_denominator(1_000_000)
    stream = container.add_stream(codec, rate=fps)
    pix = _pix_fmt(codec, settings.pix_fmt, high=high, width=width, height=height)
    stream.width, stream.height, stream.pix_fmt = width, height, pix
    stream.time_base = 1 / fps
    if codec in ("libx264", "libx265"):
        stream.options = {"crf": str(settings.crf), "preset": settings.preset}
    elif codec == "libvpx-vp9":
        stream.options = {"crf": str(min(63, settings.crf + 13)), "b": "0", "row-mt": "1", "deadline": "good"}
    elif codec == "libsvtav1":
        stream.options = {"crf": str(min(63, settings.crf + 12)), "preset": "8"}
    elif codec == "prores_ks":
        stream.options = {"profile": "3" if "444" not in pix else "4"}
    elif codec == "ffv1":
        stream.options = {"level": "3", "slicecrc": "1"}
    elif codec.endswith("_nvenc"):
        stream.options = {"cq": str(settings.crf + 4), "preset": "p5"}
    colors = {k: v for k, v in (color or {}).items() if v not in (None, 2)}  # 2 = unspecified
    matrix = colors.pop("display_matrix", None)
    if matrix is not None:  # rotation / mirroring, written to the container as the input had it
        stream.set_display_matrix([int(v) for v in matrix])
    if _is_rgb(pix):
        colors = {}
    for key, value in colors.items():
        try:
            setattr(stream.codec_context, key, value)
        except (AttributeError, ValueError, TypeError):
            pass
    return stream, pix, colors


def to_video_frame(rgb: np.ndarray, pix_fmt: str, colors: dict) -> av.VideoFrame:
    fmt = "rgb48le" if rgb.dtype == np.uint16 else "rgb24"
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format=fmt)
    if _is_rgb(pix_fmt):
        return frame.reformat(format=pix_fmt)
    cs = colors.get("colorspace")
    return frame.reformat(format=pix_fmt, dst_colorspace=cs if cs in (1, 5, 6, 7, 9) else None,
                          dst_color_range=colors.get("color_range") or None)


def write_error(path: Path, err: BaseException) -> VideoError:
    """A one-line VideoError for a failed write (disk full, permission, a vanished folder)."""
    code = getattr(err, "errno", None)
    if code == errno.ENOSPC or "No space left" in str(err):
        return VideoError(f"cannot write {path}: no space left on the device")
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return VideoError(f"cannot write {path}: permission denied")
    reason = getattr(err, "strerror", None) or first_line(err)
    return VideoError(f"cannot write {path}: {reason}")


class SegmentEncoder:
    """Encodes output frames [first, first + n) to one self-contained file (timestamps count from 0 at ``first``)."""

    def __init__(self, path: Path, *, codec: str, fps: Fraction, width: int, height: int, settings: EncodeSettings,
                 high: bool, color: dict, first: int, fmt: str) -> None:
        self.path, self.first, self.count = path, first, 0
        try:
            self.container = av.open(str(path), "w", format=fmt)
            self.stream, self.pix_fmt, self.colors = add_video_stream(
                self.container, codec=codec, fps=fps, width=width, height=height, settings=settings, high=high,
                color=color)
        except (av.error.FFmpegError, OSError) as err:
            raise write_error(path, err) from None

    def write(self, rgb: np.ndarray) -> None:
        frame = to_video_frame(rgb, self.pix_fmt, self.colors)
        frame.pts = self.first + self.count
        self.count += 1
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except (av.error.FFmpegError, OSError) as err:
            raise write_error(self.path, err) from None

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
            self.container.close()
        except (av.error.FFmpegError, OSError) as err:
            raise write_error(self.path, err) from None

    def abort(self) -> None:
        try:
            self.container.close()
        except Exception:  # noqa: BLE001 - closing a broken container must not hide the first error
            pass


def join_segments(segments: Sequence[tuple[Path, int]], dst: Path, *, fps: Fraction, offset: int = 0,
                  copy_from: str | os.PathLike | None = None, fmt: str | None = None,
                  copy_span: tuple | None = None) -> Path:
    """Remux ``segments`` ((file, first output frame), in order) into ``dst`` without re-encoding, frame m at
    ``(offset + m) / fps``, and copy the audio/subtitle streams of ``copy_from`` unchanged (same timestamps, so they
    stay in sync). Streams ``dst``'s container cannot hold are transcoded (audio for WebM: Opus) or dropped with a
    warning. The source is opened once. ``copy_span`` (start, end or None, shift; seconds): only the packets of
    ``copy_from`` in [start, end), moved ``shift`` earlier (a ``start=``/``duration=`` span; chapters are left out)."""
    fps = Fraction(fps).limit_denominator(1_000_000)
    try:
        out = av.open(str(dst), "w", format=fmt)
    except (av.error.FFmpegError, OSError) as err:
        raise write_error(dst, err) from None
    source = None
    try:
        with av.open(str(segments[0][0])) as c:
            video = out.add_stream_from_template(c.streams.video[0])
            video.time_base = 1 / fps
        if copy_from is not None:
            try:
                source = av.open(str(copy_from))
            except av.error.FFmpegError:
                source = None
        copies = _add_other_streams(out, source) if source is not None else {}
        if source is not None:
            _copy_chapters_and_tags(source, out, chapters=copy_span is None)
        for path, first in segments:
            with av.open(str(path)) as c:
                _remux_segment(c, out, video, fps=fps, first=offset + first)
        if copies:
            _copy_streams(source, out, copies, span=copy_span)
        out.close()
    except (av.error.FFmpegError, OSError) as err:
        try:
            out.close()
        except Exception:  # noqa: BLE001
            pass
        raise write_error(dst, err) from None
    finally:
        if source is not None:
            source.close()
    return dst


def _remux_segment(c, out, video, *, fps: Fraction, first: int) -> None:
    """Mux one segment's packets as output frames first, first + 1, ...: presentation order gives each packet its
    frame, and the decode delay (pts - dts) is kept in frames."""
    s = c.streams.video[0]
    packets = [p for p in c.demux(s) if p.pts is not None]
    rank = {pts: k for k, pts in enumerate(sorted(p.pts for p in packets))}
    for p in packets:
        delay = round((p.pts - (p.dts if p.dts is not None else p.pts)) * s.time_base * fps)
        p.pts = first + rank[p.pts]
        p.dts = p.pts - delay
        p.duration = 1
        p.time_base = 1 / fps
        p.stream = video
        out.mux(p)


# container tags the muxer writes itself
_MUXER_TAGS = {"major_brand", "minor_version", "compatible_brands", "encoder", "creation_time", "duration"}


def _copy_chapters_and_tags(source, out, *, chapters: bool = True) -> None:
    """The source's chapters (same times) and container tags (title, artist, comment, ...) into ``out``."""
    for key, value in source.metadata.items():
        if key.lower() not in _MUXER_TAGS:
            out.metadata[key] = value
    if not chapters:
        try:
            if source.chapters():
                log.warning("%s: its chapters are not carried into a start=/duration= span", Path(source.name).name)
        except (av.error.FFmpegError, AttributeError, ValueError, TypeError):
            pass
        return
    try:
        chapters = source.chapters()
        if chapters:
            out.set_chapters(chapters)
    except (av.error.FFmpegError, AttributeError, ValueError, TypeError) as err:
        log.warning("the chapters of %s are not carried over (%s)", source.name, first_line(err))


def _add_other_streams(out, source) -> dict:
    """{source stream index: (output stream, transcode)} for the audio/subtitle streams ``out`` can take."""
    copies = {}
    for s in source.streams:
        if s.type not in ("audio", "subtitle"):
            continue
        try:
            copies[s.index] = (out.add_stream_from_template(s), False)
            continue
        except (av.error.FFmpegError, ValueError):
            pass
        if s.type == "audio" and out.format.name == "webm":
            layout = "stereo" if s.codec_context.channels >= 2 else "mono"
            copies[s.index] = (out.add_stream("libopus", rate=48000, layout=layout), True)
            log.info("audio stream %d (%s) is transcoded to Opus for WebM", s.index, s.codec_context.name)
            continue
        log.warning("%s stream %d (%s) cannot go into a %s file; it is left out", s.type, s.index,
                    s.codec_context.name, out.format.name)
    return copies


def _in_span(time_base, pts, span: tuple | None) -> bool:
    if span is None:
        return True
    if pts is None:
        return False
    t = Fraction(pts) * time_base
    return t >= span[0] and (span[1] is None or t < span[1])


def _copy_streams(source, out, copies: dict, *, span: tuple | None = None) -> None:
    """Copy (or transcode) the chosen streams of ``source`` into ``out`` in one pass over its packets; with ``span``
    (start, end or None, shift) only those in [start, end), moved ``shift`` seconds earlier."""
    streams = [source.streams[i] for i in copies]
    resamplers = {i: av.AudioResampler(format=t.codec_context.format.name, layout=t.codec_context.layout.name,
                                       rate=t.rate) for i, (t, transcode) in copies.items() if transcode}
    for packet in source.demux(streams):
        target, transcode = copies[packet.stream.index]
        if not transcode:
            if packet.dts is None and packet.pts is None:
                continue
            if span is not None:
                if not _in_span(packet.time_base, packet.pts, span):
                    continue
                move = round(Fraction(span[2]) / packet.time_base)
                packet.pts -= move
                if packet.dts is not None:
                    packet.dts -= move
            packet.stream = target
            out.mux(packet)
            continue
        for frame in packet.decode():
            if span is not None and not _in_span(frame.time_base, frame.pts, span):
                continue
            frame.pts = None
            for f in resamplers[packet.stream.index].resample(frame):
                for p in target.encode(f):
                    out.mux(p)
    for i, resampler in resamplers.items():
        target = copies[i][0]
        for f in resampler.resample(None):
            for p in target.encode(f):
                out.mux(p)
        for p in target.encode():
            out.mux(p)


def write_video(path: str | os.PathLike, frames, *, fps: Fraction, settings: EncodeSettings = EncodeSettings()) -> Path:
    """Encode an iterable of (H, W, 3) RGB frames to ``path`` in one go (atomically; no audio). For short clips
    such as the test mode's montage; the video tool writes through its resumable sink instead."""
    path = Path(path)
    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise VideoError(f"no frames to write to {path}")
    codec = resolve_codec(settings.codec, path)
    with atomic_path(path) as tmp:
        enc = SegmentEncoder(tmp, codec=codec, fps=fps, width=first.shape[1], height=first.shape[0],
                             settings=settings, high=first.dtype == np.uint16, color={}, first=0,
                             fmt=CONTAINER_FORMATS[path.suffix.lower()])
        try:
            enc.write(first)
            for frame in it:
                enc.write(frame)
            enc.close()
        except BaseException:
            enc.abort()
            raise
    return path
