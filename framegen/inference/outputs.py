"""Putting outputs in place without losing anything of the user's.

Every output is written under a partial name or in a hidden work folder beside it (:func:`work_dir`,
:class:`WorkArea`, reused by a resumed run of the same job) and appears in one step when complete. Nothing is
replaced that was not checked: :func:`place_output` puts a finished output in place without replacing a file that
appeared there during the run (it is kept under another name instead), and one job at a time writes an output
(:class:`OutputLock`, a lock file in the work folder naming the job).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from framegen.atomic import write_text_atomically
from framegen.inference.encoding import write_error
from framegen.inference.video_io import VideoError

log = logging.getLogger(__name__)

FRAMES_MARKER = ".framegen-frames"


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
                holder = read_json(path)
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
        holder = read_json(self.path)
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
    if read_json(aside) != holder:  # another job took it over first: give it back
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


class WorkArea:
    """A job's work folder with its fingerprint: reused when the fingerprint matches, else started afresh."""

    def __init__(self, folder: Path, fingerprint: dict, *, resume: bool, target: Path) -> None:
        fingerprint = json.loads(json.dumps(fingerprint, default=str))  # as it reads back from job.json
        self.folder, self.fingerprint = folder, fingerprint
        state = folder / "job.json"
        if folder.exists() and any(p.name != OutputLock.name for p in folder.iterdir()):
            same = state.is_file() and read_json(state) == fingerprint
            if not (resume and same):
                why = "resume=false" if not resume else "it belongs to another job"
                log.info("discarding the work folder %s (%s)", folder, why)
                for p in folder.iterdir():
                    if p.name != OutputLock.name:  # the lock of this job stays
                        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            if not state.is_file():
                write_json(state, fingerprint)
        except OSError as err:
            raise write_error(target, err) from None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def write_json(path: Path, data) -> None:
    write_text_atomically(path, json.dumps(data, indent=1, default=str))
