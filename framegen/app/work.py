"""The web app's work, without the page: a job's input (a video, or a zip of numbered images), its options checked
as the video tool checks them, its output name, its progress and cancellation, and the two runs of "compare methods".

Everything goes through the video tool's own library call (:func:`framegen.inference.files.interpolate_file`) with
the video tool's own config (``conf/interpolate.yaml``), so a job made on the page is made exactly as
``framegen interpolate`` makes it: the audio kept, the output written atomically, never over an existing file.
Nothing here imports gradio, and torch loads with the first net.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from omegaconf import DictConfig, OmegaConf

from framegen import config_dir
from framegen.errors import FramegenError, out_of_memory
from framegen.inference.files import interpolate_file
from framegen.inference.video_tool import build_job, check_options, check_rates, default_output
from framegen.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaError, classify_input

if TYPE_CHECKING:
    from framegen.inference.interpolator import Interpolator

log = logging.getLogger(__name__)

# what the page offers to write (each a file the browser can download; a folder of PNGs is the command line's)
FORMATS = ("mp4", "mkv", "webm", "mov", "gif")
# what the page accepts: the video tool's video suffixes, animations, and a zip of numbered images
INPUT_TYPES = sorted(VIDEO_SUFFIXES | {".gif", ".zip"})
# the video tool's options a page job never takes from its config (the page sets them)
_PAGE_KEYS = ("input", "output", "factor", "fps", "slowmo", "method", "input_fps", "overwrite", "resume", "progress",
              "mode", "start", "duration")


class Cancelled(FramegenError, RuntimeError):
    """The user cancelled the job: nothing of it is kept."""


# ------------------------------------------------------------------------------------------------ choices
@dataclass(frozen=True)
class Choices:
    """What the page asks: the method, ``factor`` or a target ``fps`` (text such as 60, 59.94 or 60000/1001; empty
    = use the factor), slow motion, the output format, and the frame rate of a zip's images. ``duration``: only
    the first seconds (compare methods)."""

    method: str = "default"
    factor: object = 2
    fps: object = None
    slowmo: bool = False
    output_format: str = "mp4"
    input_fps: object = 25
    duration: object = None

    def normalized(self) -> Choices:
        """Empty text and whole-number floats as the command line would read them (``fps=""`` is no rate,
        ``factor=2.0`` is 2)."""
        fps = None if self.fps is None or str(self.fps).strip() == "" else str(self.fps).strip()
        return replace(self, fps=fps, factor=_number(self.factor), input_fps=_number(self.input_fps),
                       slowmo=bool(self.slowmo), method=str(self.method or "default"))


def _number(value):
    """2.0 -> 2 (the output is named clip_2x, not clip_2.0x); None, text and other numbers as they are."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def tool_config(choices: Choices, *, src: Path, dst: Path | None = None, tool: dict | None = None) -> DictConfig:
    """The video tool's config (``conf/interpolate.yaml``: the same defaults as the command line) with the page's
    ``choices`` and the app's ``tool`` options (device, precision, batch_size, ...). The page's jobs never replace
    a file and never resume an earlier job."""
    cfg = OmegaConf.load(config_dir() / "interpolate.yaml")
    for key in ("defaults", "paths", "hydra"):
        cfg.pop(key, None)
    c = choices.normalized()
    page = {"input": str(src), "output": None if dst is None else str(dst), "factor": c.factor, "fps": c.fps,
            "slowmo": c.slowmo, "method": c.method, "input_fps": c.input_fps, "overwrite": False, "resume": False,
            "progress": False, "mode": "video", "start": None, "duration": c.duration}
    extra = {k: v for k, v in (tool or {}).items() if k not in _PAGE_KEYS}
    return OmegaConf.merge(cfg, extra, page)


def check_choices(cfg: DictConfig, src: Path, kind: str, *, formats=FORMATS) -> None:
    """The video tool's checks of its options (``factor=0``, ``fps=abc``, rates outside 1-1000 fps, ...), and the
    page's own (an output format it offers)."""
    fmt = cfg.get("output_format")
    if fmt is not None and fmt not in formats:
        raise ValueError(f"output format {fmt!r}: give one of {', '.join(formats)}")
    check_options(cfg)
    check_rates(cfg, src, kind)


# ------------------------------------------------------------------------------------------------ input and output
def unpack_frames(archive: Path, folder: Path) -> Path:
    """The numbered images of a zip, in name order, extracted flat into ``folder`` (a new folder named after the
    zip). Other members are ignored; a member's own path is never used, so nothing lands outside ``folder``."""
    try:
        with zipfile.ZipFile(archive) as z:
            members = sorted((m for m in z.infolist() if _is_image_member(m)), key=lambda m: m.filename)
            if len(members) < 2:
                raise MediaError(f"{archive.name} holds {len(members)} image(s): a zip of frames needs at least 2 "
                                 f"numbered images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            folder.mkdir(parents=True)
            _check_room(archive, folder, sum(m.file_size for m in members))
            for k, m in enumerate(members):
                target = folder / f"{k:08d}{Path(m.filename).suffix.lower()}"
                with z.open(m) as fin, open(target, "wb") as fout:
                    shutil.copyfileobj(fin, fout, 1 << 20)
    except BaseException as err:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(err, zipfile.BadZipFile | zipfile.LargeZipFile | EOFError):
            raise MediaError(f"cannot read {archive.name} as a zip: {err}") from None
        if isinstance(err, OSError):
            raise MediaError(f"cannot unpack {archive.name}: {err.strerror or err}") from None
        raise
    return folder


def _is_image_member(member: zipfile.ZipInfo) -> bool:
    name = Path(member.filename)
    hidden = any(part.startswith(".") or part == "__MACOSX" for part in name.parts)
    return not member.is_dir() and not hidden and name.suffix.lower() in IMAGE_SUFFIXES


def _check_room(archive: Path, folder: Path, size: int) -> None:
    free = shutil.disk_usage(folder).free
    if size > free:
        raise MediaError(f"{archive.name} unpacks to {size / 2**30:.1f} GiB; {folder} has {free / 2**30:.1f} GiB free")


def prepare_input(upload: str | os.PathLike | None, scratch: Path) -> tuple[Path, str]:
    """(the path to interpolate, its kind: 'video' or 'frames') for an uploaded file: a video or animation as it
    is, a zip unpacked into ``scratch``."""
    if upload is None or str(upload).strip() == "":
        raise ValueError("no video: drop a video file (or a zip of numbered images) first")
    path = Path(upload)
    if path.suffix.lower() == ".zip":
        return unpack_frames(path, scratch / (path.stem or "frames")), "frames"
    kind = classify_input(path)
    if kind != "video":
        raise MediaError(f"{path.name} is a folder: drop a video file, or a zip of numbered images")
    return path, kind


def output_path(src: Path, cfg: DictConfig, kind: str, folder: Path, fmt: str) -> Path:
    """Where a job's output goes: the command line's name (``clip_2x``, ``clip_60fps``, ``clip_2x_slowmo``) in
    ``folder`` with the chosen format, numbered (``clip_2x-2.mp4``) when that name or its work folder is taken."""
    name = default_output(src, cfg, kind).name
    if kind == "video":
        name = name[: -len(Path(name).suffix)]
    for n in range(1, 10_000):
        dst = folder / (f"{name}.{fmt}" if n == 1 else f"{name}-{n}.{fmt}")
        if not os.path.lexists(dst) and not os.path.lexists(dst.with_name(f".{dst.name}.framegen")):
            return dst
    raise FramegenError(f"{folder} holds 10,000 outputs named {name}: choose another output folder")


# ------------------------------------------------------------------------------------------------ progress
def time_left(done: int, total: int | None, seconds: float) -> float | None:
    """Seconds left at the rate so far (None before the first frame or without a total)."""
    if not total or done <= 0 or seconds <= 0:
        return None
    return max(0.0, (total - done) * seconds / done)


def progress_text(done: int, total: int | None, left: float | None, *, what: str = "interpolating") -> str:
    """``interpolating: 12 / 60 frames, about 4 s left``."""
    count = f"{done} / {total} frames" if total else f"{done} frames"
    if left is None:
        return f"{what}: {count}"
    clock = f"{left:.0f} s" if left < 120 else f"{left / 60:.0f} min"
    return f"{what}: {count}, about {clock} left"


class FrameProgress:
    """The pipeline's progress hook: made as tqdm is (``total=``, ``initial=``), ``update(n)`` after each written
    frame, ``close()``. It reports ``(done, total, seconds left)`` to ``report`` at most every ``every`` seconds
    (and at the last frame), and stops the job with :class:`Cancelled` once ``cancelled`` is set."""

    def __init__(self, report: Callable[[int, int | None, float | None], None], cancelled: threading.Event, *,
                 total: int | None = None, initial: int = 0, every: float = 0.2,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.report, self.cancelled, self.total, self.done = report, cancelled, total, initial
        self.every, self.clock = every, clock
        self.started = self.last = clock()
        self.report(self.done, self.total, None)

    def update(self, n: int = 1) -> None:
        if self.cancelled.is_set():
            raise Cancelled("cancelled: nothing was written")
        self.done += n
        now = self.clock()
        if now - self.last >= self.every or (self.total is not None and self.done >= self.total):
            self.last = now
            self.report(self.done, self.total, time_left(self.done, self.total, now - self.started))

    def close(self) -> None:
        """Nothing to release (tqdm's interface)."""


def progress_hook(report: Callable, cancelled: threading.Event, **kw) -> Callable[..., FrameProgress]:
    """What :class:`framegen.inference.files.Job` takes as ``progress``: the pipeline calls it as it calls tqdm."""
    def make(*, total: int | None = None, initial: int = 0) -> FrameProgress:
        return FrameProgress(report, cancelled, total=total, initial=initial, **kw)
    return make


class Jobs:
    """One cancel switch per browser session (or API client): :meth:`running` holds it while a job runs,
    :meth:`cancel` sets it. Queued jobs are dropped by the page's queue itself."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}

    @contextmanager
    def running(self, session: str) -> Iterator[threading.Event]:
        event = threading.Event()
        with self._lock:
            self._running[session] = event
        try:
            yield event
        finally:
            with self._lock:
                if self._running.get(session) is event:
                    del self._running[session]

    def cancel(self, session: str) -> bool:
        """Stop the session's running job (at its next frame); False when none runs."""
        with self._lock:
            event = self._running.get(session)
        if event is None:
            return False
        event.set()
        return True


# ------------------------------------------------------------------------------------------------ messages
def user_message(err: BaseException, cfg: DictConfig | None = None) -> str:
    """One line for the page: the error's own first line for what a user can act on (framegen's errors, bad values,
    files), the out-of-memory advice of the command line, or the error's type for a bug (the terminal logs it)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if isinstance(err, Cancelled):
        return text
    if isinstance(err, FramegenError | ValueError | OSError):
        return f"error: {text}"
    if cfg is not None and (oom := out_of_memory(err, cfg)):
        return f"error: {oom}"
    log.error("the job failed unexpectedly", exc_info=err)
    return f"error: unexpected {type(err).__name__}: {text[:200]} (the terminal running framegen app has the details)"


# ------------------------------------------------------------------------------------------------ timing
class TimedInterpolator:
    """An interpolator that adds up the seconds of its forward passes and the frames they make (the net's own time
    per frame, without decoding and writing), for comparing methods."""

    def __init__(self, inner: Interpolator) -> None:
        self.inner, self.seconds, self.frames = inner, 0.0, 0

    def __getattr__(self, name: str):
        return getattr(self.inner, name)

    def __call__(self, img0, img1, t):
        t0 = time.perf_counter()
        out = self.inner(img0, img1, t)
        self.seconds += time.perf_counter() - t0
        self.frames += int(out.shape[0])
        return out

    @property
    def ms_per_frame(self) -> float | None:
        return 1000 * self.seconds / self.frames if self.frames else None


# ------------------------------------------------------------------------------------------------ the engine
@dataclass
class Done:
    """A finished job: the video tool's summary (``output``, ``frames_out``, ``fps_in``, ...), the input it read
    (a zip's images unpacked under ``scratch``) and the job's scratch folder (previews)."""

    summary: dict
    src: Path
    kind: str
    scratch: Path


class Engine:
    """Runs the page's jobs: outputs into ``output_dir``, everything else (unpacked zips, previews, compare runs)
    under ``work_dir``; nets are loaded once per method (``tool``: the app's device, precision, batch size ...)."""

    def __init__(self, output_dir: Path, work_dir: Path, *, tool: dict | None = None, ckpt: str | None = None,
                 compare_seconds: float = 2.0) -> None:
        self.output_dir, self.work_dir = Path(output_dir), Path(work_dir)
        self.tool, self.ckpt, self.compare_seconds = dict(tool or {}), ckpt, compare_seconds
        self._nets: dict[str, Interpolator] = {}
        self._nets_lock = threading.Lock()

    def methods(self) -> list[str]:
        """The catalogue's nets, and ``model`` when the app was given a checkpoint."""
        # lazy: torch loads with the first job, not when `framegen app` checks its options (one line in a second)
        from framegen.catalogue import names

        return names(nets_only=True) + (["model"] if self.ckpt else [])

    def interpolator(self, cfg: DictConfig) -> Interpolator:
        """The net of ``cfg.method`` with the video tool's settings, loaded on first use and kept (two at most)."""
        # lazy: torch with the first job (see methods)
        from framegen.inference.interpolator import Interpolator

        method = cfg.method
        ckpt = self.ckpt if method == "model" else None
        with self._nets_lock:
            if method not in self._nets:
                if len(self._nets) >= 2:
                    self._nets.pop(next(iter(self._nets)))
                self._nets[method] = Interpolator.for_method(
                    method, ckpt, device=cfg.device, precision=cfg.precision, scale=cfg.scale, tile=cfg.tile,
                    tile_overlap=cfg.tile_overlap, batch_size=cfg.batch_size, compile=cfg.compile, tta=cfg.tta,
                    static_threshold=cfg.get("static_threshold"), runtime=cfg.get("runtime", "torch"))
            return self._nets[method]

    def scratch(self) -> Path:
        """A new folder for one job's unpacked input and previews."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="job-", dir=self.work_dir))

    def interpolate(self, upload, choices: Choices, *, progress: Callable | bool = False) -> Done:
        """Interpolate an uploaded file into ``output_dir``. On any failure (a bad input, a cancel) nothing of the
        job is left: no output, no scratch folder."""
        scratch = self.scratch()
        try:
            src, kind = prepare_input(upload, scratch)
            c = choices.normalized()
            cfg = tool_config(c, src=src, tool=self.tool)
            check_choices(OmegaConf.merge(cfg, {"output_format": c.output_format}), src, kind)
            self.output_dir.mkdir(parents=True, exist_ok=True)
            dst = output_path(src, cfg, kind, self.output_dir, c.output_format)
            job = replace(build_job(cfg, overwrite=False), progress=progress)
            summary = interpolate_file(src, dst, self.interpolator(cfg), job, source_kind=kind)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return Done(summary, src, kind, scratch)

    def compare(self, upload, methods: tuple[str, str], choices: Choices, *,
                progress: Callable[[str], Callable | bool] = lambda label: False) -> dict:
        """Run two methods on the first ``choices.duration`` seconds (the app's compare_seconds when None) of an
        upload, each into a folder of PNG frames under a scratch folder. Returns {'src', 'kind', 'scratch',
        'runs': [{'method', 'frames' (folder), 'summary', 'ms_per_frame'}, ...]}; on failure nothing is left."""
        scratch = self.scratch()
        try:
            src, kind = prepare_input(upload, scratch)
            duration = choices.duration if choices.duration not in (None, "") else self.compare_seconds
            runs = []
            for label, method in zip("ab", methods, strict=True):
                c = replace(choices, method=method, duration=duration, slowmo=False).normalized()
                cfg = tool_config(c, src=src, tool=self.tool)
                check_choices(cfg, src, kind)
                timed = TimedInterpolator(self.interpolator(cfg))
                job = replace(build_job(cfg, overwrite=False), progress=progress(f"{label}: {method}"))
                summary = interpolate_file(src, scratch / f"{label}_{method}", timed, job, source_kind=kind)
                runs.append({"method": method, "frames": summary["output"], "summary": summary,
                             "ms_per_frame": timed.ms_per_frame})
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return {"src": src, "kind": kind, "scratch": scratch, "runs": runs}
