"""Where output frames go: a folder of PNG frames, a video written in closed segments, or an animation (GIF/WebP).

Every sink writes into a hidden work area beside the output and puts the output in place only when it is complete
(:meth:`commit`); :meth:`abort` removes what cannot be resumed. The folder and segmented-video sinks are resumable:
frames (or segments) already finished by an interrupted run of the same job are kept, and a rerun continues after
them (``start_index``). A work area made by a different job (another input, model, rate or encoding) is discarded.

Sinks take frames in output order through ``write(frame)``; ``boundary(index)`` tells the pipeline where a segment
starts, so a resumed run batches (and so computes) exactly the same frames as an uninterrupted one, and ``done(index)``
which frames a resumed sink already holds (the pipeline neither computes nor writes those).

Nothing is replaced that was not checked: :func:`place_output` puts a finished output in place without replacing a
file that appeared there during the run (it is kept under another name instead), and one job at a time writes an
output (:class:`OutputLock`, a lock file in the work folder naming the job).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import socket
import time
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np

from framegen.atomic import atomic_path, write_text_atomically
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


def partial_name(dst: Path) -> Path:
    """The temporary file an output is written to before it is put in place: ``.<stem>.partial-<pid><suffix>``."""
    return dst.with_name(f".{dst.stem}.partial-{os.getpid()}{dst.suffix}")


def remove_stale_partials(dst: Path) -> list[Path]:
    """Delete ``.<stem>.partial-<pid><suffix>`` files and folders of ``dst`` left by runs that no longer exist
    (kill -9, power loss). Names are matched literally (``g[1].mp4`` is no pattern). Returns what was removed."""
    removed = []
    if not dst.parent.is_dir():
        return removed
    prefix, suffix = f".{dst.stem}.partial-", dst.suffix
    for p in dst.parent.iterdir():
        name = p.name
        if not name.startswith(prefix) or not name.endswith(suffix):
            continue
        pid = name[len(prefix):len(name) - len(suffix)]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    if removed:
        log.info("removed %d stale partial output(s) of %s from killed runs", len(removed), dst.name)
    return removed


# ------------------------------------------------------------------------------------------------ putting in place
def path_identity(path: Path) -> tuple | None:
    """What tells one file from another at ``path`` (device, inode, size, modification time); None when absent."""
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _link_noreplace(src: Path, dst: Path) -> None:
    """Give ``src`` the name ``dst`` only if ``dst`` does not exist (FileExistsError otherwise), atomically where
    the file system has hard links; a folder is renamed (which fails on anything but an empty folder)."""
    if src.is_dir():
        try:
            os.rename(src, dst)
        except OSError as err:
            if err.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR, errno.EISDIR):
                raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
            raise
        return
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if os.path.lexists(dst):  # no hard links here (FAT, some network shares): check, then rename
            raise FileExistsError(errno.EEXIST, "exists", str(dst)) from None
        os.rename(src, dst)
        return
    os.unlink(src)


def kept_name(dst: Path, n: int) -> Path:
    """Where a finished output goes when ``dst`` was taken during the run: ``out.framegen-<n>.mp4``."""
    return dst.with_name(f"{dst.stem}.framegen-{n}{dst.suffix}")


def place_output(tmp: Path, dst: Path, replaces: tuple | None = None) -> Path:
    """Move the finished output ``tmp`` (a file or a folder) to ``dst``. ``replaces``: the identity
    (:func:`path_identity`) of the file at ``dst`` the caller checked and may replace (``overwrite``), None when
    ``dst`` was absent. Whatever else is at ``dst`` now (a file that appeared, or was swapped, during the run) is
    never replaced: the output is kept under another name and a VideoError says where."""
    try:
        if replaces is not None and path_identity(dst) == replaces and not tmp.is_dir():
            os.replace(tmp, dst)
            return dst
        _link_noreplace(tmp, dst)
        return dst
    except FileExistsError:
        pass
    except OSError as err:
        raise write_error(dst, err) from None
    what = "changed" if replaces is not None else "appeared"
    for n in range(1, 1000):
        kept = kept_name(dst, n)
        try:
            _link_noreplace(tmp, kept)
        except FileExistsError:
            continue
        except OSError as err:
            raise write_error(kept, err) from None
        raise VideoError(f"{dst} {what} during the run and was not replaced; the finished output is kept as {kept}")
    raise VideoError(f"{dst} {what} during the run and was not replaced (no free name for the finished output)")


# ------------------------------------------------------------------------------------------------ one job per output
def _process_start(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), to tell it from a later one with its
    number; None where there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2:].split()[19]


class OutputLock:
    """One job per output at a time: ``lock.json`` in the output's work folder names the job that holds it (pid,
    host, start time, input). A second job is refused with that name; the lock of a job that no longer runs
    (kill -9, power loss) is taken over."""

    name = "lock.json"

    def __init__(self, path: Path, token: str) -> None:
        self.path, self.token = path, token

    @classmethod
    def acquire(cls, dst: Path, *, job: str) -> OutputLock:
        folder = work_dir(dst)
        path = folder / cls.name
        me = {"pid": os.getpid(), "pid_start": _process_start(os.getpid()), "host": socket.gethostname(),
              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "job": job, "token": uuid.uuid4().hex}
        try:
            folder.mkdir(exist_ok=True)
            tmp = folder / f".{cls.name}.{me['token']}"
            tmp.write_text(json.dumps(me))
        except OSError as err:
            raise write_error(dst, err) from None
        try:
            for _ in range(5):
                try:
                    _link_noreplace(tmp, path)
                    return cls(path, me["token"])
                except FileExistsError:
                    pass
                holder = _read_json(path)
                if isinstance(holder, dict) and _holder_alive(holder):
                    hint = ("" if holder.get("host") == socket.gethostname() else
                            f"; if it no longer runs, delete {path}")
                    raise VideoError(f"{dst} is being written by another framegen job ({_describe(holder)}); wait "
                                     f"for it to end or choose another output{hint}")
                _take_over(path, holder, dst)
            raise VideoError(f"cannot lock {dst}: {path} keeps changing (another job starting?)")
        except OSError as err:
            raise write_error(dst, err) from None
        finally:
            tmp.unlink(missing_ok=True)

    def release(self) -> None:
        """Remove the lock (if still ours) and the work folder when nothing else is left in it."""
        holder = _read_json(self.path)
        if isinstance(holder, dict) and holder.get("token") == self.token:
            self.path.unlink(missing_ok=True)
        try:
            self.path.parent.rmdir()
        except OSError:
            pass  # finished segments wait there for a rerun (or it is already gone)


def _holder_alive(holder: dict) -> bool:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return False
    if holder.get("host") != socket.gethostname():
        return True  # a job on another machine (a shared folder): its process cannot be checked from here
    if pid != os.getpid() and not _pid_alive(pid):
        return False
    # the same number may belong to a later process (a container's first process gets the same pid each time)
    start = holder.get("pid_start")
    return start is None or _process_start(pid) in (None, start)


def _describe(holder: dict) -> str:
    return (f"pid {holder.get('pid')} on {holder.get('host')}, started {holder.get('started')}, "
            f"{holder.get('job')}")


def _take_over(path: Path, holder, dst: Path) -> None:
    """Remove the stale lock ``holder`` at ``path``, unless another job has replaced it meanwhile."""
    aside = path.with_name(f".{path.name}.stale-{uuid.uuid4().hex}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read_json(aside) != holder:  # another job took it over first: give it back
        try:
            _link_noreplace(aside, path)
        except FileExistsError:
            pass
    elif isinstance(holder, dict):
        log.info("taking over the lock of %s: its job (%s) is no longer running", dst.name, _describe(holder))
    else:
        log.info("taking over the unreadable lock of %s", dst.name)
    aside.unlink(missing_ok=True)


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
        if folder.exists() and any(p.name != OutputLock.name for p in folder.iterdir()):
            same = state.is_file() and _read_json(state) == fingerprint
            if not (resume and same):
                why = "resume=false" if not resume else "it belongs to another job"
                log.info("discarding the work folder %s (%s)", folder, why)
                for p in folder.iterdir():
                    if p.name != OutputLock.name:  # the lock of this job stays
                        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
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
    write_text_atomically(path, json.dumps(data, indent=1, default=str))


class FrameFolderSink:
    """Numbered PNG frames (``00000000.png`` ...) in a work folder, renamed to ``path`` by :meth:`commit`.

    Resumable: frames already written by an interrupted run of the same job are kept, in whole groups of
    ``group_frames`` (the pipeline's batches never straddle a group, so a resumed run computes the same frames).
    ``commit`` replaces an existing ``path`` only if it is framegen's own frame output (the caller checks this first);
    anything else found there at the end is never replaced (the frames are kept under another name).
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


class SegmentedVideoSink:
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
        self.area = _WorkArea(work_dir(path), fp, resume=resume, target=path)
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
        state = _read_json(self.area.folder / "segments.json")
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
        _write_json(self.area.folder / "segments.json", [kept[k] for k in sorted(kept)])

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
    from framegen.inference.video_io import CONTAINER_FORMATS

    return CONTAINER_FORMATS.get(path.suffix.lower())


class AnimationSink:
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
