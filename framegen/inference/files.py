"""Interpolating files: one video, a folder of numbered images, or a folder of videos.

Safety: the output is written to a temporary name and renamed when complete (an interrupted run leaves no output);
the input is never the output; an existing output is replaced only with ``overwrite``.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from framegen.data.video import VIDEO_SUFFIXES, frame_files, is_frame_folder
from framegen.inference.interpolator import Interpolator
from framegen.inference.pipeline import SceneSettings, run_pipeline
from framegen.inference.schedule import output_count, output_rate, parse_rate
from framegen.inference.video_io import VideoError, VideoWriter, probe_video, read_frames

log = logging.getLogger(__name__)


@dataclass
class EncodeSettings:
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    # 10-bit input: 'keep' writes 10-bit (yuv420p10le), '8bit' down-converts (with a warning)
    high_bit: str = "keep"
    codec: str = "libx264"


@dataclass
class Job:
    factor: int | None = 2
    fps: object = None
    # frame rate of image-sequence input
    input_fps: object = 25
    overwrite: bool = False
    progress: bool = True
    scenes: SceneSettings = field(default_factory=SceneSettings)
    encode: EncodeSettings = field(default_factory=EncodeSettings)


def _check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.exists():
        raise VideoError(f"input not found: {src}")
    if src.resolve() == dst.resolve() or (dst.exists() and os.path.samefile(src, dst)):
        raise VideoError(f"refusing to write the output over the input: {src}")
    if dst.exists() and not overwrite:
        raise VideoError(f"output exists: {dst} (pass overwrite=true to replace it)")


class FrameFolderSink:
    """Writes numbered PNG frames into a temporary folder, renamed into place by :meth:`commit`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        cv2.imwrite(str(self.tmp / f"{self.count:08d}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        self.count += 1

    def commit(self) -> Path:
        if self.path.exists():
            shutil.rmtree(self.path)
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_image(path: Path) -> np.ndarray:
    """An image as (H, W, 3) RGB uint8/uint16: grayscale expanded, alpha dropped."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise VideoError(f"cannot read image {path}")
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.shape[2] == 4:
        img = img[..., :3]
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def image_sequence(folder: Path, fps: Fraction) -> Iterator[tuple[Fraction, np.ndarray]]:
    for i, p in enumerate(frame_files(folder)):
        yield Fraction(i) / fps, read_image(p)


def interpolate_file(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job) -> dict:
    """Interpolate one video file or one folder of numbered images into a video file or a folder of frames."""
    src, dst = Path(src), Path(dst)
    _check_paths(src, dst, job.overwrite)
    frames_out_folder = dst.suffix.lower() not in VIDEO_SUFFIXES
    if src.is_dir():
        if not is_frame_folder(src):
            raise VideoError(f"{src} holds no numbered images")
        in_fps = parse_rate(job.input_fps)
        files = frame_files(src)
        first = read_image(files[0])
        h, w = first.shape[:2]
        n, start, color, high = len(files), Fraction(0), {}, first.dtype == np.uint16
        frames = image_sequence(src, in_fps)
        copy_from = None
    else:
        info = probe_video(src)
        if info.has_alpha:
            log.warning("%s has an alpha channel; it is dropped (H.264 has none)", src.name)
        in_fps, h, w, n, start, color = info.fps, info.height, info.width, info.frames, info.start, info.color
        high = info.bit_depth > 8 and job.encode.high_bit == "keep"
        if info.bit_depth > 8 and not high:
            log.warning("%s is %d-bit; writing 8-bit (encode.high_bit=8bit)", src.name, info.bit_depth)
        frames = read_frames(src, high_bit=info.bit_depth > 8)
        if info.bit_depth > 8 and not high:
            frames = ((t, (f >> 8).astype(np.uint8)) for t, f in frames)
        copy_from = src
    out_fps = output_rate(in_fps, factor=job.factor, fps=job.fps)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if frames_out_folder:
        sink = FrameFolderSink(dst)
    else:
        pix_fmt = job.encode.pix_fmt
        if high and "10" not in pix_fmt:
            pix_fmt = pix_fmt.replace("p", "p10le", 1) if pix_fmt.endswith("p") else pix_fmt
        sink = VideoWriter(dst, width=w, height=h, fps=out_fps, codec=job.encode.codec, crf=job.encode.crf,
                           preset=job.encode.preset, pix_fmt=pix_fmt, color=color, start=start)
        if copy_from is not None:
            sink.add_copied_streams(copy_from)
    total = output_count(n, in_fps, out_fps) if n else None
    try:
        stats = run_pipeline(frames, sink, interpolator, out_fps=out_fps, frame_duration=1 / Fraction(in_fps),
                             scenes=job.scenes, total=total, progress=job.progress)
        path = sink.commit()
    except BaseException:
        sink.abort()
        raise
    return {"input": str(src), "output": str(path), "fps_in": float(in_fps), "fps_out": float(out_fps),
            "size": f"{w}x{h}", **stats}


def interpolate_folder(src: str | os.PathLike, dst: str | os.PathLike, interpolator: Interpolator, job: Job,
                       *, suffix: str = ".mp4") -> dict:
    """Every video in ``src`` -> ``dst/<name><suffix>``; outputs already there are skipped (unless overwrite), and a
    bad file is reported while the others continue."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise VideoError("the output folder must differ from the input folder")
    videos = sorted(p for p in src.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise VideoError(f"no videos in {src}")
    done, skipped, failed = [], [], {}
    for video in videos:
        out = dst / f"{video.stem}{suffix}"
        if out.exists() and not job.overwrite:
            skipped.append(str(out))
            continue
        try:
            done.append(interpolate_file(video, out, interpolator, job))
        except (VideoError, ValueError) as err:
            failed[str(video)] = str(err)
            log.error("%s: %s", video.name, err)
    return {"done": done, "skipped": skipped, "failed": failed}


def is_video_folder(path: Path) -> bool:
    return path.is_dir() and not is_frame_folder(path) and any(
        p.suffix.lower() in VIDEO_SUFFIXES for p in path.iterdir())


__all__ = ["EncodeSettings", "Job", "interpolate_file", "interpolate_folder", "is_video_folder"]
