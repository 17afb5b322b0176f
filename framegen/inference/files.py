"""Interpolating files: one video, a folder of numbered images, or a folder of videos.

Safety: the output appears only when complete (frames and segments go to a hidden work folder beside it first); the
input is never the output and never inside it; an existing output is replaced only with ``overwrite``, and a folder
only when it is framegen's own frame output; a file that appears at the output path during the run is never replaced
(the output is kept under another name). One job writes an output at a time (a lock in its work folder). Long jobs
resume: a rerun of an interrupted job continues after its finished segments, each checked against the checksum
written when it was closed, if the input's content is unchanged (``resume=False`` starts over).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from framegen.inference.encoding import EncodeSettings, write_error
from framegen.inference.inputs import OpenedInput, job_span, open_input
from framegen.inference.outputs import (
    OutputLock,
    is_framegen_frames,
    path_identity,
    read_json,
    remove_stale_partials,
    work_dir,
    write_json,
)
from framegen.inference.schedule import SceneSettings, output_count, output_rate
from framegen.inference.sinks import (
    ANIMATION_SUFFIXES,
    AnimationSink,
    FrameFolderSink,
    SegmentedVideoSink,
    Sink,
)
from framegen.inference.video_io import VideoError
from framegen.media import (
    VIDEO_SUFFIXES,
    MediaError,
    file_digest,
    frame_files,
    stream_layout,
    user_path,
    video_files,
)

if TYPE_CHECKING:  # torch loads with the net, not with this module: the video tool checks its paths first
    from framegen.inference.interpolator import Interpolator

log = logging.getLogger(__name__)
# output suffixes a folder batch keeps (others get .mp4 added: clip.avi -> clip.avi.mp4)
WRITABLE_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".m4v")


@dataclass
class Job:
    """What to make of an input. ``factor`` may be any positive number (1.5: 24 -> 36 fps); ``fps`` a target rate
    instead. ``slowmo``: keep the input's rate and stretch the duration by ``factor`` (the audio is dropped).
    ``start`` / ``duration`` (seconds, or ``mm:ss``): only that span of the input, its audio cut to it (try a few
    seconds of a long clip first)."""

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
    start: object = None
    duration: object = None


def output_kind(dst: Path) -> str:
    """'animation' (.gif, .webp), 'video' (a video suffix) or 'frames' (anything else: a folder of PNGs)."""
    suffix = dst.suffix.lower()
    if suffix in ANIMATION_SUFFIXES:
        return "animation"
    return "video" if suffix in VIDEO_SUFFIXES else "frames"


def check_paths(src: Path, dst: Path, *, overwrite: bool, make_parent: bool = True) -> tuple | None:
    """Refuse outputs that would touch the input or anything that is not framegen's earlier output. Returns the
    identity (:func:`path_identity`) of the existing file that ``overwrite`` lets the output replace, else None.
    ``make_parent=False`` checks the output's folder can be made without making it (the video tool's early check,
    before the net loads)."""
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
    _ensure_parent(dst, make=make_parent)
    return path_identity(dst) if output_kind(dst) != "frames" and dst.is_file() else None


def _ensure_parent(dst: Path, *, make: bool = True) -> None:
    parent = dst.parent
    for p in [parent, *parent.parents]:
        if p.exists():
            if not p.is_dir():
                raise VideoError(f"cannot write {dst}: {p} is a file, not a folder")
            break
    if not make:
        return
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(dst, err) from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise VideoError(f"cannot write {dst}: no permission to write in {parent}")


def _fingerprint(src: Path, interpolator: Interpolator, job: Job, out_fps: Fraction, size: tuple[int, int]) -> dict:
    """What a resumed job must share with the interrupted one: the input's content (a hash of its size, first and
    last MiB and its stream layout; for numbered images each one's size, time and first and last 4 kB), the model
    and every setting that changes the frames."""
    st = src.stat()
    if src.is_dir():
        inputs = [(p.name, p.stat().st_size, p.stat().st_mtime_ns, file_digest(p, chunk=4096))
                  for p in frame_files(src)]
        content = None
    else:
        inputs, content = [], {"digest": file_digest(src), "streams": stream_layout(src)}
    return {"input": str(src.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns, "frames": inputs,
            "content": content, "model": interpolator.identity(), "out_fps": str(out_fps), "slowmo": job.slowmo,
            "scenes": asdict(job.scenes), "encode": asdict(job.encode), "frame": list(size),
            **({"span": [str(v) for v in job_span(job)]} if job_span(job) else {})}


def interpolate_file(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job, *,
                     source_kind: str | None = None) -> dict:
    """Interpolate one video file or one folder of numbered images into a video, an animation (.gif/.webp) or a
    folder of PNG frames (any other name). ``source_kind`` ('video' or 'frames') skips classifying ``src`` again."""
    src, dst = user_path(src), user_path(dst)
    replaces = check_paths(src, dst, overwrite=job.overwrite)
    lock = OutputLock.acquire(dst, job=f"input {src}")
    try:
        return _interpolate_file(src, dst, interpolator, job, source_kind=source_kind, replaces=replaces)
    finally:
        lock.release()


def _interpolate_file(src: Path, dst: Path, interpolator: Interpolator, job: Job, *, source_kind: str | None,
                      replaces: tuple | None) -> dict:
    remove_stale_partials(dst)
    kind = output_kind(dst)
    source = open_input(src, job, output=kind, source_kind=source_kind)
    out_fps = output_rate(source.fps, factor=job.factor, fps=job.fps)
    if job.slowmo:
        if job.fps is not None:
            raise ValueError("slowmo=true stretches by factor; leave fps unset")
        if source.has_audio:
            log.warning("slow motion: %s's audio is dropped (it would not match the stretched video)", src.name)
        source = replace(source, carry_from=None, start=Fraction(0))
    if kind == "animation" and source.has_audio:
        log.warning("%s has no sound: %s's audio is dropped", dst.suffix, src.name)
    fingerprint = _fingerprint(src, interpolator, job, out_fps, (source.height, source.width))
    sink = _make_sink(kind, dst, job, source, fps=source.fps if job.slowmo else out_fps, fingerprint=fingerprint,
                      replaces=replaces)
    total = output_count(source.count, source.fps, out_fps) if source.count else None
    # lazy: torch loads when there is work for it (this module is on the video tool's torch-free start)
    from framegen.inference.pipeline import run_pipeline

    try:
        stats = run_pipeline(source.frames, sink, interpolator, out_fps=out_fps, frame_duration=1 / source.fps,
                             scenes=job.scenes, total=total, progress=job.progress, start_index=sink.start_index)
        stats["resumed_at"] = sink.reused
        path = sink.commit()
    except BaseException as err:
        # an interrupted run keeps its finished segments for a rerun; a failed input or model does not
        sink.abort(keep=isinstance(err, KeyboardInterrupt | SystemExit))
        raise
    return {"input": str(src), "output": str(path), "fps_in": float(source.fps),
            "fps_out": float(source.fps if job.slowmo else out_fps), "fps_timeline": float(out_fps),
            "size": f"{source.width}x{source.height}", **stats}


def _make_sink(kind: str, dst: Path, job: Job, source: OpenedInput, *, fps: Fraction, fingerprint: dict,
               replaces: tuple | None) -> Sink:
    """The sink for an output of ``kind`` written at ``fps`` from ``source``."""
    if kind == "animation":
        return AnimationSink(dst, fps=fps, replaces=replaces)
    if kind == "frames":
        return FrameFolderSink(dst, fingerprint=fingerprint, resume=job.resume)
    return SegmentedVideoSink(dst, width=source.width, height=source.height, fps=fps, settings=job.encode,
                              high=source.high, color=source.color, start=source.start, copy_from=source.carry_from,
                              fingerprint=fingerprint, resume=job.resume, segment_seconds=job.segment_seconds,
                              replaces=replaces, copy_span=source.copy_span)


def folder_output_name(video: Path) -> str:
    """A folder batch's output name for ``video``: its own name when that is a writable video suffix, else the name
    with .mp4 added, so ``clip.mp4`` and ``clip.mov`` (or ``clip.flv``) never collide."""
    return video.name if video.suffix.lower() in WRITABLE_SUFFIXES else f"{video.name}.mp4"


def folder_output_names(videos: list[Path]) -> dict[Path, str]:
    """Each video's output name in a folder batch, all distinct: :func:`folder_output_name`, except that a name
    another input's output takes (``clip.avi`` -> ``clip.avi.mp4`` beside an input ``clip.avi.mp4``) gets a number:
    ``clip.avi-2.mp4``. Inputs with a writable suffix always keep their own names. The same inputs always get the
    same names, so a rerun finds its outputs."""
    names = {v: v.name for v in videos if v.suffix.lower() in WRITABLE_SUFFIXES}
    taken = {n.casefold() for n in names.values()}
    for video in videos:
        if video in names:
            continue
        name, n = f"{video.name}.mp4", 2
        while name.casefold() in taken:
            name, n = f"{video.name}-{n}.mp4", n + 1
        names[video] = name
        taken.add(name.casefold())
    return names


def check_folder_paths(src: Path, dst: Path) -> None:
    """A folder batch's output must be a folder other than its input."""
    if src.resolve() == dst.resolve():
        raise VideoError("the output folder must differ from the input folder")
    if dst.exists() and not dst.is_dir():
        raise VideoError(f"output {dst} is a file; a folder of videos goes to a folder")


# a folder batch's record in its output folder: which input each output was made from
BATCH_RECORD = ".framegen-batch.json"


def interpolate_folder(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job) -> dict:
    """Every video in ``src`` -> ``dst/<its name>`` (see :func:`folder_output_names`); outputs already there are
    skipped (unless overwrite), and a bad file is reported while the others continue. An output that an earlier run
    made from another input (an input added since took its name) is not taken for this input's: that input fails
    with a line saying so (the batch record, ``dst/.framegen-batch.json``, tells which input made which output)."""
    src, dst = user_path(src), user_path(dst)
    check_folder_paths(src, dst)
    videos = video_files(src)
    if not videos:
        raise VideoError(f"no videos in {src}")
    done, skipped, failed = [], [], {}
    names = folder_output_names(videos)
    for video in videos:
        out = dst / names[video]
        if out.exists() and not job.overwrite:
            other = _made_from(dst, out.name)
            if other is not None and other != video.name:
                failed[str(video)] = (f"{out} holds the output of {other} from an earlier run (its name went to "
                                      f"{video.name}, added since): pass overwrite=true to redo the folder, or "
                                      f"choose a new output folder")
                log.error("%s: %s", video.name, failed[str(video)])
            else:
                skipped.append(str(out))
            continue
        try:
            done.append(interpolate_file(video, out, interpolator, job, source_kind="video"))
        except (VideoError, MediaError, ValueError) as err:
            failed[str(video)] = str(err)
            log.error("%s: %s", video.name, err)
            continue
        _record_source(dst, out.name, video.name)
    return {"done": done, "skipped": skipped, "failed": failed}


def _made_from(folder: Path, name: str) -> str | None:
    """The input an earlier batch made ``folder/name`` from, when the record says so and the file is as it left it."""
    record = read_json(folder / BATCH_RECORD)
    entry = record.get(name) if isinstance(record, dict) else None
    ident = path_identity(folder / name)
    if not isinstance(entry, dict) or ident is None or entry.get("output") != list(ident[1:]):
        return None
    return entry.get("input")


def _record_source(folder: Path, name: str, source: str) -> None:
    record = read_json(folder / BATCH_RECORD)
    record = record if isinstance(record, dict) else {}
    ident = path_identity(folder / name)
    if ident is None:
        return
    record[name] = {"input": source, "output": list(ident[1:])}
    try:
        write_json(folder / BATCH_RECORD, record)
    except OSError as err:  # the outputs are fine; only the record of where they came from is missing
        log.warning("cannot write %s: %s", folder / BATCH_RECORD, err.strerror or err)


# ------------------------------------------------------------------------------------------------ test/demo outputs
OUTPUTS_RECORD = ".framegen-outputs.json"


def claim_outputs(folder: Path, names: list[str], *, overwrite: bool) -> dict[str, tuple | None]:
    """Check, before any work, the files a mode writes into ``folder`` (names relative to it): each must be absent,
    or, with ``overwrite``, a file framegen wrote there (recorded in ``folder``'s record when written and unchanged
    since). Returns {name: the identity of the file it may replace, or None}."""
    record = read_json(folder / OUTPUTS_RECORD)
    record = record if isinstance(record, dict) else {}
    claimed = {}
    for name in names:
        path = folder / name
        ident = path_identity(path)
        if ident is None:
            claimed[name] = None
            continue
        if not overwrite:
            raise VideoError(f"output exists: {path} (pass overwrite=true to replace it)")
        if not path.is_file() or record.get(name) != list(ident[1:]):
            raise VideoError(f"refusing to replace {path}: framegen did not write it, or it was changed since "
                             f"(choose an empty or new folder)")
        claimed[name] = ident
    return claimed


def record_outputs(folder: Path, names: list[str], *, forget: list[str] = ()) -> None:
    """Note in ``folder``'s record that framegen wrote ``names`` (as they are now), and drop ``forget``."""
    record = read_json(folder / OUTPUTS_RECORD)
    record = record if isinstance(record, dict) else {}
    for name in forget:
        record.pop(name, None)
    for name in names:
        ident = path_identity(folder / name)
        if ident is not None:
            record[name] = list(ident[1:])
    try:
        write_json(folder / OUTPUTS_RECORD, record)
    except OSError as err:
        raise VideoError(f"cannot write {folder / OUTPUTS_RECORD}: {err.strerror or err}") from None


def recorded_outputs(folder: Path) -> dict[str, list]:
    record = read_json(folder / OUTPUTS_RECORD)
    return record if isinstance(record, dict) else {}


__all__ = ["EncodeSettings", "Job", "check_folder_paths", "check_paths", "claim_outputs", "folder_output_name", "folder_output_names",
           "interpolate_file", "interpolate_folder", "output_kind", "record_outputs", "work_dir"]
