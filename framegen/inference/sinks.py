"""Where output frames go: a folder of PNG frames, a video written in closed segments, or an animation (GIF/WebP),
each a :class:`Sink`.

Every sink writes into a hidden work area beside the output and puts the output in place only when it is complete
(:meth:`Sink.commit`); :meth:`Sink.abort` removes what cannot be resumed. The folder and segmented-video sinks are
resumable: frames (or segments) already finished by an interrupted run of the same job are kept, and a rerun
continues after them (``start_index``). A work area made by a different job (another input, model, rate or encoding)
is discarded. Placing outputs and the one-job lock are :mod:`framegen.inference.outputs`.
"""

from __future__ import annotations

import abc
import hashlib
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.atomic import atomic_path
from framegen.inference.encoding import (
    CONTAINER_FORMATS,
    EncodeSettings,
    SegmentEncoder,
    join_segments,
    resolve_codec,
    write_error,
)
from framegen.inference.outputs import (
    FRAMES_MARKER,
    WorkArea,
    is_framegen_frames,
    partial_name,
    place_output,
    read_json,
    work_dir,
    write_json,
)
from framegen.inference.video_io import VideoError
from framegen.media import MediaError, frame_files, read_image, write_image

log = logging.getLogger(__name__)

ANIMATION_SUFFIXES = (".gif", ".webp")
# the container segments are written in, by codec (one that keeps the decode delay of reordered frames)
_SEGMENT_FORMATS = {"libvpx-vp9": ("webm", ".webm"), "ffv1": ("matroska", ".mkv"), "prores_ks": ("mov", ".mov")}


class Sink(abc.ABC):
    """Where a run's output frames go, the interface :func:`~framegen.inference.pipeline.run_pipeline` writes to.

    ``write(frame)`` takes the output frames ((H, W, 3) uint8 or uint16 RGB) in order from ``start_index``;
    ``commit()`` puts the finished output in place and returns its path; ``abort(keep=)`` ends a failed or stopped
    run, keeping what a rerun can reuse when ``keep``. A resumable sink sets ``start_index`` and ``reused`` (output
    frames an interrupted run finished) and answers ``done(index)`` for the frames it holds already; its
    ``boundary(index)`` marks where a segment starts, so the pipeline cuts its inference batches there and a resumed
    run computes exactly the frames of an uninterrupted one.
    """

    start_index: int = 0
    reused: int = 0

    @abc.abstractmethod
    def write(self, rgb: np.ndarray) -> None: ...

    @abc.abstractmethod
    def commit(self) -> Path: ...

    @abc.abstractmethod
    def abort(self, *, keep: bool = True) -> None: ...

    def boundary(self, index: int) -> bool:
        return False

    def done(self, index: int) -> bool:
        return False


class FrameFolderSink(Sink):
    """Numbered PNG frames (``00000000.png`` ...) in a work folder, renamed to ``path`` by :meth:`commit`.

    Resumable: frames already written by an interrupted run of the same job are kept, in whole groups of
    ``group_frames`` (the pipeline's batches never straddle a group, so a resumed run computes the same frames).
    ``commit`` replaces an existing ``path`` only if it is framegen's own frame output (the caller checks this first);
    anything else found there at the end is never replaced (the frames are kept under another name).
    """

    group_frames = 64

    def __init__(self, path: Path, *, fingerprint: dict, resume: bool = True) -> None:
        self.path = path
        self.area = WorkArea(work_dir(path), fingerprint, resume=resume, target=path)
        self.frames = self.area.folder / "frames"
        self.frames.mkdir(exist_ok=True)
        done = frame_files(self.frames)
        # keep the unbroken run of readable frames from 0
        self.count = 0
        for p in done:
            if p.stem != f"{self.count:08d}":
                break
            try:
                read_image(p)
            except MediaError:
                break
            self.count += 1
        self.count -= self.count % self.group_frames  # whole groups only
        for p in done[self.count:]:
            p.unlink()
        self.start_index = self.reused = self.count
        if self.start_index:
            log.info("resuming %s after %d finished frames", path.name, self.start_index)

    def boundary(self, index: int) -> bool:
        return index % self.group_frames == 0

    def write(self, rgb: np.ndarray) -> None:
        final = self.frames / f"{self.count:08d}.png"
        try:
            with atomic_path(final) as tmp:
                write_image(tmp, rgb)
        except (MediaError, OSError) as err:
            raise VideoError(f"cannot write frame {final.name} into {self.path}: {err}") from None
        self.count += 1

    def commit(self) -> Path:
        (self.frames / FRAMES_MARKER).write_text("frames written by framegen\n")
        if self.path.is_dir() and not self.path.is_symlink() and not any(self.path.iterdir()):
            self.path.rmdir()  # an empty folder the user made for the frames
        if self.path.is_dir() and not self.path.is_symlink() and is_framegen_frames(self.path):
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.replace(self.path, old)  # framegen's own earlier frames (overwrite, checked at the start)
            shutil.rmtree(old, ignore_errors=True)
        place_output(self.frames, self.path)  # anything else there now is kept, the frames go beside it
        self.area.remove()
        return self.path

    def abort(self, *, keep: bool = True) -> None:
        """Keep the finished frames for a resume (``keep``), or remove the work folder."""
        if not keep:
            self.area.remove()


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class SegmentedVideoSink(Sink):
    """A video written as closed segments of ``segment_seconds`` in a work folder, joined (no re-encoding) with the
    source's audio and subtitles into ``path`` by :meth:`commit`.

    Resumable: segments finished by an interrupted run of the same job are kept when their checksum (written in
    ``segments.json`` when each was closed) still matches; damaged or missing ones are redone (``done(index)`` tells
    the pipeline which frames it need not compute). Each segment starts with a key frame, so a resumed output decodes
    to exactly the frames of an uninterrupted one. ``replaces``: the identity of the file at ``path`` that the caller
    checked and may replace (see :func:`place_output`).
    """

    def __init__(self, path: Path, *, width: int, height: int, fps: Fraction, settings: EncodeSettings,
                 high: bool = False, color: dict | None = None, start: Fraction = Fraction(0),
                 copy_from: str | os.PathLike | None = None, fingerprint: dict, resume: bool = True,
                 segment_seconds: float = 10.0, replaces: tuple | None = None,
                 copy_span: tuple | None = None) -> None:
        self.path, self.fps, self.settings, self.replaces = path, Fraction(fps), settings, replaces
        self.copy_span = copy_span  # the audio/subtitles of a start=/duration= span (see join_segments)
        self.codec = resolve_codec(settings.codec, path)
        self.width, self.height, self.high, self.color = width, height, high, dict(color or {})
        self.offset = round(Fraction(start) * self.fps)
        self.copy_from = copy_from
        self.per_segment = max(1, round(segment_seconds * float(self.fps)))
        fp = {**fingerprint, "codec": self.codec, "segment_frames": self.per_segment}
        self.area = WorkArea(work_dir(path), fp, resume=resume, target=path)
        self.seg_format, self.seg_suffix = _SEGMENT_FORMATS.get(self.codec, ("mp4", ".mp4"))
        self.kept = self._finished_segments()
        first_missing = next(k for k in range(len(self.kept) + 1) if k not in self.kept)
        self.start_index = first_missing * self.per_segment
        self.reused = sum(e["frames"] for e in self.kept.values())
        self.index = self.start_index
        self.current: SegmentEncoder | None = None
        if self.kept:
            log.info("resuming %s after %d finished segments (%d frames)", path.name, len(self.kept), self.reused)

    def _segment_path(self, k: int) -> Path:
        return self.area.folder / f"segment_{k:05d}{self.seg_suffix}"

    def _finished_segments(self) -> dict[int, dict]:
        """{segment number: its entry in segments.json} for the segments whose file still has the size and checksum
        written when it was closed; the others (damaged, truncated, missing, unknown) are deleted."""
        state = read_json(self.area.folder / "segments.json")
        kept, damaged = {}, []
        for entry in state if isinstance(state, list) else []:
            k = entry.get("index") if isinstance(entry, dict) else None
            if not isinstance(k, int) or k < 0 or entry.get("name") != self._segment_path(k).name:
                continue
            p = self._segment_path(k)
            try:
                good = p.stat().st_size == entry.get("size") and _digest(p) == entry.get("sha256")
            except OSError:
                good = False
            if good and isinstance(entry.get("frames"), int):
                kept[k] = entry
            else:
                damaged.append(p.name)
        if damaged:
            log.warning("%d finished segment(s) of the interrupted run are damaged or missing (%s): they are redone",
                        len(damaged), ", ".join(damaged))
        names = {e["name"] for e in kept.values()}
        for p in self.area.folder.iterdir():
            if p.name.startswith("segment_") and p.name not in names:
                p.unlink()
        if state is not None and state != [kept[k] for k in sorted(kept)]:
            self._save(kept)
        return kept

    def _save(self, kept: dict[int, dict]) -> None:
        write_json(self.area.folder / "segments.json", [kept[k] for k in sorted(kept)])

    def boundary(self, index: int) -> bool:
        return index % self.per_segment == 0

    def done(self, index: int) -> bool:
        """True for an output frame that a kept segment already holds."""
        return index // self.per_segment in self.kept

    def write(self, rgb: np.ndarray) -> None:
        if self.current is None or self.boundary(self.index):
            self._close_segment()
            while self.done(self.index):  # frames of kept segments do not come: the next one is after them
                self.index = (self.index // self.per_segment + 1) * self.per_segment
            k = self.index // self.per_segment
            self.current = SegmentEncoder(self._segment_path(k).with_suffix(".partial" + self.seg_suffix),
                                          codec=self.codec, fps=self.fps, width=self.width, height=self.height,
                                          settings=self.settings, high=self.high, color=self.color,
                                          first=self.index, fmt=self.seg_format)
        self.current.write(rgb)
        self.index += 1

    def _close_segment(self) -> None:
        if self.current is None:
            return
        self.current.close()
        k = self.current.first // self.per_segment
        final = self._segment_path(k)
        try:
            entry = {"index": k, "name": final.name, "frames": self.current.count,
                     "size": self.current.path.stat().st_size, "sha256": _digest(self.current.path)}
            os.replace(self.current.path, final)
            self.kept[k] = entry
            self._save(self.kept)
        except OSError as err:
            raise write_error(self.path, err) from None
        self.current = None

    def commit(self) -> Path:
        self._close_segment()
        if not self.kept:
            raise VideoError(f"no frames were written for {self.path}")
        order = sorted(self.kept)
        if order != list(range(len(order))):
            missing = sorted(set(range(order[-1] + 1)) - set(order))
            raise VideoError(f"segments {missing} of {self.path} were never written (did the input change?)")
        tmp = partial_name(self.path)
        try:
            join_segments([(self._segment_path(k), k * self.per_segment) for k in order], tmp, fps=self.fps,
                          offset=self.offset, copy_from=self.copy_from, fmt=_container(self.path),
                          copy_span=self.copy_span)
            place_output(tmp, self.path, self.replaces)
        finally:
            tmp.unlink(missing_ok=True)
        self.area.remove()
        return self.path

    def abort(self, *, keep: bool = True) -> None:
        """Drop the unfinished segment; keep the finished ones for a resume (``keep``) or remove everything."""
        if self.current is not None:
            self.current.abort()
            self.current.path.unlink(missing_ok=True)
            self.current = None
        if not keep:
            self.area.remove()


def _container(path: Path) -> str | None:

    return CONTAINER_FORMATS.get(path.suffix.lower())


class AnimationSink(Sink):
    """An animated GIF or WebP (by ``path``'s suffix), written when complete. Frames are held in memory (animations
    are short); GIF frame times are whole centiseconds, so frames faster than 50 fps are thinned to keep the
    real speed, and each frame's time is rounded so the total duration stays exact."""

    def __init__(self, path: Path, *, fps: Fraction, lossless: bool = False, replaces: tuple | None = None) -> None:
        if path.suffix.lower() not in ANIMATION_SUFFIXES:
            raise VideoError(f"{path.name}: an animation must end in .gif or .webp")
        self.path, self.fps, self.lossless, self.replaces = path, Fraction(fps), lossless, replaces
        self.frames: list[np.ndarray] = []
        self.start_index = self.reused = 0

    def write(self, rgb: np.ndarray) -> None:
        self.frames.append(rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8))

    def commit(self) -> Path:
        # lazy: viz imports torch, and this module is on the video tool's torch-free start
        from framegen.viz import write_animation

        tmp = partial_name(self.path)
        try:
            write_animation(self.frames, tmp, fps=float(self.fps), max_width=None, lossless=self.lossless)
            place_output(tmp, self.path, self.replaces)
        except OSError as err:
            raise write_error(self.path, err) from None
        finally:
            tmp.unlink(missing_ok=True)
        return self.path

    def abort(self, *, keep: bool = True) -> None:
        self.frames.clear()
