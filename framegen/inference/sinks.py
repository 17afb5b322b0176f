"""Where output frames go: a folder of PNG frames, a video written in closed segments, or an animation (GIF/WebP).

Every sink writes into a hidden work area beside the output and puts the output in place only when it is complete
(:meth:`commit`); :meth:`abort` removes what cannot be resumed. The folder and segmented-video sinks are resumable:
frames (or segments) already finished by an interrupted run of the same job are kept, and a rerun continues after
them (``start_index``). A work area made by a different job (another input, model, rate or encoding) is discarded.

Sinks take frames in output order through ``write(frame)``; ``boundary(index)`` tells the pipeline where a segment
starts, so a resumed run batches (and so computes) exactly the same frames as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.inference.video_io import (
    EncodeSettings,
    SegmentEncoder,
    VideoError,
    join_segments,
    resolve_codec,
    write_error,
)
from framegen.media import MediaError, frame_files, read_image, write_image

log = logging.getLogger(__name__)

FRAMES_MARKER = ".framegen-frames"
ANIMATION_SUFFIXES = (".gif", ".webp")
# the container segments are written in, by codec (one that keeps the decode delay of reordered frames)
_SEGMENT_FORMATS = {"libvpx-vp9": ("webm", ".webm"), "ffv1": ("matroska", ".mkv"), "prores_ks": ("mov", ".mov")}


def work_dir(dst: Path) -> Path:
    """The hidden work folder of an output: ``.<name>.framegen`` beside it."""
    return dst.with_name(f".{dst.name}.framegen")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(dst: Path) -> list[Path]:
    """Delete ``.<stem>.partial-<pid>*`` files and folders of ``dst`` left by runs that no longer exist (kill -9,
    power loss). Returns what was removed."""
    removed = []
    if not dst.parent.is_dir():
        return removed
    for p in dst.parent.glob(f".{dst.stem}.partial-*"):
        pid = p.name[len(f".{dst.stem}.partial-"):].split(".")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    if removed:
        log.info("removed %d stale partial output(s) of %s from killed runs", len(removed), dst.name)
    return removed


def is_framegen_frames(folder: Path) -> bool:
    """True when ``folder`` is framegen's own frame output: its marker and numbered PNGs, nothing else."""
    if not (folder / FRAMES_MARKER).is_file():
        return False
    return all(p.name == FRAMES_MARKER or (p.is_file() and p.suffix == ".png" and p.stem.isdigit())
               for p in folder.iterdir())


class _WorkArea:
    """A job's work folder with its fingerprint: reused when the fingerprint matches, else started afresh."""

    def __init__(self, folder: Path, fingerprint: dict, *, resume: bool, target: Path) -> None:
        fingerprint = json.loads(json.dumps(fingerprint, default=str))  # as it reads back from job.json
        self.folder, self.fingerprint = folder, fingerprint
        state = folder / "job.json"
        if folder.exists():
            same = state.is_file() and _read_json(state) == fingerprint
            if not (resume and same):
                why = "resume=false" if not resume else "it belongs to another job"
                log.info("discarding the work folder %s (%s)", folder, why)
                shutil.rmtree(folder)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not state.is_file():
                _write_json(state, fingerprint)
        except OSError as err:
            raise write_error(target, err) from None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, data) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


class FrameFolderSink:
    """Numbered PNG frames (``00000000.png`` ...) in a work folder, renamed to ``path`` by :meth:`commit`.

    Resumable: frames already written by an interrupted run of the same job are kept, in whole groups of
    ``group_frames`` (the pipeline's batches never straddle a group, so a resumed run computes the same frames).
    ``commit`` replaces an existing ``path`` only if it is framegen's own frame output (the caller checks this first).
    """

    group_frames = 64

    def __init__(self, path: Path, *, fingerprint: dict, resume: bool = True) -> None:
        self.path = path
        self.area = _WorkArea(work_dir(path), fingerprint, resume=resume, target=path)
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
        self.start_index = self.count
        if self.start_index:
            log.info("resuming %s after %d finished frames", path.name, self.start_index)

    def boundary(self, index: int) -> bool:
        return index % self.group_frames == 0

    def write(self, rgb: np.ndarray) -> None:
        final = self.frames / f"{self.count:08d}.png"
        tmp = self.frames / f".{self.count:08d}.tmp.png"
        try:
            write_image(tmp, rgb)
            os.replace(tmp, final)
        except (MediaError, OSError) as err:
            tmp.unlink(missing_ok=True)
            raise VideoError(f"cannot write frame {final.name} into {self.path}: {err}") from None
        self.count += 1

    def commit(self) -> Path:
        (self.frames / FRAMES_MARKER).write_text("frames written by framegen\n")
        if self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()  # an empty folder the user made for the frames
        if self.path.exists():
            if not is_framegen_frames(self.path):
                raise VideoError(f"refusing to replace {self.path}: it holds files that are not framegen's frames")
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            os.replace(self.path, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(self.frames, self.path)
        self.area.remove()
        return self.path

    def abort(self, *, keep: bool = True) -> None:
        """Keep the finished frames for a resume (``keep``), or remove the work folder."""
        if not keep:
            self.area.remove()


class SegmentedVideoSink:
    """A video written as closed segments of ``segment_seconds`` in a work folder, joined (no re-encoding) with the
    source's audio and subtitles into ``path`` by :meth:`commit`.

    Resumable: segments finished by an interrupted run of the same job are kept; ``start_index`` is the first frame
    still to write. Each segment starts with a key frame, so a resumed output decodes to exactly the frames of an
    uninterrupted one.
    """

    def __init__(self, path: Path, *, width: int, height: int, fps: Fraction, settings: EncodeSettings,
                 high: bool = False, color: dict | None = None, start: Fraction = Fraction(0),
                 copy_from: str | os.PathLike | None = None, fingerprint: dict, resume: bool = True,
                 segment_seconds: float = 10.0) -> None:
        self.path, self.fps, self.settings = path, Fraction(fps), settings
        self.codec = resolve_codec(settings.codec, path)
        self.width, self.height, self.high, self.color = width, height, high, dict(color or {})
        self.offset = round(Fraction(start) * self.fps)
        self.copy_from = copy_from
        self.per_segment = max(1, round(segment_seconds * float(self.fps)))
        fp = {**fingerprint, "codec": self.codec, "segment_frames": self.per_segment}
        self.area = _WorkArea(work_dir(path), fp, resume=resume, target=path)
        self.seg_format, self.seg_suffix = _SEGMENT_FORMATS.get(self.codec, ("mp4", ".mp4"))
        self.done = self._finished_segments()
        self.start_index = len(self.done) * self.per_segment
        self.index = self.start_index
        self.current: SegmentEncoder | None = None
        if self.start_index:
            log.info("resuming %s after %d finished segments (%d frames)", path.name, len(self.done), self.start_index)

    def _segment_path(self, k: int) -> Path:
        return self.area.folder / f"segment_{k:05d}{self.seg_suffix}"

    def _finished_segments(self) -> list[Path]:
        state = _read_json(self.area.folder / "segments.json") or []
        done = []
        for k, name in enumerate(state):
            p = self.area.folder / name
            if name != self._segment_path(k).name or not p.is_file():
                break
            done.append(p)
        for p in self.area.folder.glob(f"segment_*{self.seg_suffix}"):
            if p not in done:
                p.unlink()
        return done

    def boundary(self, index: int) -> bool:
        return index % self.per_segment == 0

    def write(self, rgb: np.ndarray) -> None:
        if self.current is None or self.boundary(self.index):
            self._close_segment()
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
        final = self._segment_path(len(self.done))
        os.replace(self.current.path, final)
        self.done.append(final)
        _write_json(self.area.folder / "segments.json", [p.name for p in self.done])
        self.current = None

    def commit(self) -> Path:
        self._close_segment()
        if not self.done:
            raise VideoError(f"no frames were written for {self.path}")
        tmp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")
        try:
            join_segments([(p, k * self.per_segment) for k, p in enumerate(self.done)], tmp, fps=self.fps,
                          offset=self.offset, copy_from=self.copy_from, fmt=_container(self.path))
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
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
    from framegen.inference.video_io import CONTAINER_FORMATS

    return CONTAINER_FORMATS.get(path.suffix.lower())


class AnimationSink:
    """An animated GIF or WebP (by ``path``'s suffix), written when complete. Frames are held in memory (animations
    are short); GIF frame times are whole centiseconds, so frames faster than 50 fps are thinned to keep the
    real speed, and each frame's time is rounded so the total duration stays exact."""

    def __init__(self, path: Path, *, fps: Fraction, lossless: bool = False) -> None:
        if path.suffix.lower() not in ANIMATION_SUFFIXES:
            raise VideoError(f"{path.name}: an animation must end in .gif or .webp")
        self.path, self.fps, self.lossless = path, Fraction(fps), lossless
        self.frames: list[np.ndarray] = []
        self.start_index = 0

    def write(self, rgb: np.ndarray) -> None:
        self.frames.append(rgb if rgb.dtype == np.uint8 else (rgb >> 8).astype(np.uint8))

    def commit(self) -> Path:
        from framegen.viz import write_animation

        tmp = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")
        try:
            write_animation(self.frames, tmp, fps=float(self.fps), max_width=None, lossless=self.lossless)
            os.replace(tmp, self.path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise write_error(self.path, err) from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return self.path

    def abort(self, *, keep: bool = True) -> None:
        self.frames.clear()
