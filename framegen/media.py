"""Media helpers shared by data, inference and evaluation: reading and writing images, listing numbered frames,
telling what an input path is, and the scene-change signatures of frames.

Images are (H, W, 3) RGB arrays: uint8, or uint16 where 16-bit is asked for and present. Errors are
:class:`MediaError` with a one-line message meant for people.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import av
import cv2
import numpy as np

from framegen.errors import FramegenError

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"})


class MediaError(FramegenError, RuntimeError):
    """An image, frame folder or video cannot be read or written; the message is one line."""


# ------------------------------------------------------------------------------------------------- images
_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def read_image(path: str | os.PathLike, *, keep_depth: bool = False, alpha: list | None = None,
               reduce: int = 1) -> np.ndarray:
    """An image file as (H, W, 3) RGB: grey is expanded to three channels, an alpha channel is dropped.

    ``keep_depth``: 16-bit images stay uint16 (else every image comes back uint8). ``alpha``: a list that gets
    ``path`` appended when an alpha channel was dropped (so a caller can warn once for a whole sequence).
    ``reduce``: 2, 4 or 8 decodes at that fraction of the size (a quick look at a large photo). The one reader of
    image files: an unreadable or missing file is a MediaError.
    """
    path = Path(path)
    if reduce not in _REDUCED or (reduce > 1 and (keep_depth or alpha is not None)):
        raise ValueError(f"reduce must be 1, 2, 4 or 8 (and 1 with keep_depth or alpha), got {reduce}")
    flags = cv2.IMREAD_UNCHANGED if keep_depth or alpha is not None else _REDUCED[reduce]
    img = cv2.imread(str(path), flags)
    if img is None:
        raise MediaError(f"cannot read image {path}" + ("" if path.is_file() else " (not found)"))
    if img.ndim == 3 and img.shape[2] == 4:
        if alpha is not None:
            alpha.append(path)
        img = img[..., :3]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.dtype != np.uint8 and not (keep_depth and img.dtype == np.uint16):
        img = _to_uint8(img)
    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2RGB)


def _to_uint8(img: np.ndarray) -> np.ndarray:
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    if np.issubdtype(img.dtype, np.floating):
        return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) RGB uint8/uint16 array; raises MediaError when the write fails (full disk, no permission)."""
    path = Path(path)
    try:
        ok = cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    except cv2.error as err:
        raise MediaError(f"cannot write image {path}: {str(err).splitlines()[0][:200]}") from None
    if not ok or not path.is_file() or path.stat().st_size == 0:
        raise MediaError(f"cannot write image {path} (disk full or no permission?)")
    return path


# ------------------------------------------------------------------------------------------------- folders
def frame_files(folder: str | os.PathLike) -> list[Path]:
    """The images of a frame folder, in name order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def image_files(folder: str | os.PathLike, *, recursive: bool = True) -> list[Path]:
    """Every image under ``folder`` (sub-folders too when ``recursive``), in path order."""
    folder = Path(folder)
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def is_frame_folder(path: str | os.PathLike, *, min_images: int = 2) -> bool:
    path = Path(path)
    return path.is_dir() and sum(1 for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) >= min_images


def video_files(folder: str | os.PathLike) -> list[Path]:
    """The video files directly inside ``folder``, in name order."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def classify_input(path: str | os.PathLike) -> str:
    """'video' (a file), 'frames' (a folder of numbered images) or 'videos' (a folder of videos).

    Raises MediaError for a missing path or a folder that holds neither.
    """
    path = Path(path)
    if not path.exists():
        raise MediaError(f"input not found: {path}")
    if path.is_file():
        return "video"
    if not path.is_dir():
        raise MediaError(f"input is neither a file nor a folder: {path}")
    if is_frame_folder(path):
        return "frames"
    if video_files(path):
        return "videos"
    raise MediaError(f"{path} holds neither videos nor numbered images")


# ------------------------------------------------------------------------------------------------- scenes
def signature(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(64-pixel-wide grey thumbnail as float32, 32-bin grey histogram summing to 1) of an (H, W, 3) frame."""
    h, w = frame.shape[:2]
    tw = 64
    th = max(1, round(h * tw / w))
    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    if grey.dtype != np.uint8:  # 16-bit frames (10-bit video) -> 8-bit grey levels
        grey = (grey.astype(np.float32) * (255.0 / 65535.0)).astype(np.uint8)
    thumb = cv2.resize(grey, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)
    return thumb, np.histogram(thumb, bins=32, range=(0, 256))[0] / thumb.size


def change(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[float, float]:
    """(mean absolute grey difference, histogram L1 distance) between two signatures."""
    return float(np.abs(a[0] - b[0]).mean()), float(np.abs(a[1] - b[1]).sum())


def is_cut(diff: float, hist: float, *, cut_threshold: float, cut_hist: float) -> bool:
    """A scene cut: a large grey difference and a changed histogram (camera motion keeps the histogram)."""
    return diff > cut_threshold and hist > cut_hist


# ------------------------------------------------------------------------------------------------- identity
def file_digest(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """A hash of a file's size and its first and last ``chunk`` bytes (the whole file when it is small): tells a
    replaced file from the original even when its size and modification time were kept."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(str(size).encode())
        h.update(f.read(chunk))
        if size > chunk:
            f.seek(max(chunk, size - chunk))
            h.update(f.read(chunk))
    return h.hexdigest()


def stream_layout(path: str | os.PathLike) -> list[dict]:
    """Each stream of a media file as plain values (type, codec, size, rate, time base, start, duration, frames,
    sample rate, channels); an empty list when the file cannot be opened."""
    try:
        with av.open(str(path)) as c:
            out = []
            for s in c.streams:
                cc = getattr(s, "codec_context", None)
                entry = {"type": s.type, "codec": getattr(cc, "name", None), "time_base": str(s.time_base),
                         "start": s.start_time, "duration": s.duration, "frames": s.frames}
                if s.type == "video":
                    entry.update(size=[cc.width, cc.height], pix_fmt=getattr(cc.format, "name", None),
                                 rate=str(s.average_rate))
                elif s.type == "audio":
                    entry.update(rate=cc.sample_rate, channels=cc.channels)
                out.append(entry)
            return out
    except (av.error.FFmpegError, OSError, ValueError, AttributeError):
        return []


def user_path(value: str | os.PathLike) -> Path:
    """A path as a user typed it: ``~`` and environment variables (``$HOME/videos``) expanded."""
    return Path(os.path.expandvars(os.path.expanduser(str(value))))
