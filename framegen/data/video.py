"""Reading frames for training: video files through decord, folders of numbered images through
:mod:`framegen.media`.

Frames are (H, W, 3) uint8 RGB arrays. Errors are :class:`VideoReadError` with a one-line message.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import decord
import numpy as np

from framegen.media import MediaError, frame_files, read_image


class VideoReadError(MediaError):
    """A video (or frame folder) cannot be read: missing, empty, truncated or not a video."""


def _open_decord(path: Path):
    if not path.exists():
        raise VideoReadError(f"not found: {path}")
    if path.stat().st_size == 0:
        raise VideoReadError(f"empty file: {path}")
    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    except Exception as err:  # noqa: BLE001 - decord raises plain RuntimeErrors/DECORDErrors
        raise VideoReadError(f"cannot open {path}: {str(err).splitlines()[0][:200]}") from None


def frame_count_and_fps(path: str | os.PathLike) -> tuple[int, float]:
    """(number of frames, frames per second) of a video file or frame folder (fps 0 when unknown)."""
    path = Path(path)
    if path.is_dir():
        return len(frame_files(path)), 0.0
    vr = _open_decord(path)
    return len(vr), float(vr.get_avg_fps())


class FrameReader:
    """Random access to the frames of one video file (decord) or one folder of numbered images.

    Keep one per worker: opening a video builds its index once.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self._files = frame_files(self.path)
            if not self._files:
                raise VideoReadError(f"no images in frame folder {self.path}")
            self._vr = None
        else:
            self._files = None
            self._vr = _open_decord(self.path)

    def __len__(self) -> int:
        return len(self._files) if self._files is not None else len(self._vr)

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The frames at ``indices`` as (H, W, 3) uint8 RGB arrays."""
        n = len(self)
        bad = [i for i in indices if not 0 <= i < n]
        if bad:
            raise IndexError(f"frame indices {bad} out of range for {self.path} ({n} frames)")
        if self._files is not None:
            try:
                return [read_image(self._files[i]) for i in indices]
            except MediaError as err:
                raise VideoReadError(str(err)) from None
        try:
            batch = self._vr.get_batch(list(indices)).asnumpy()
        except Exception as err:  # noqa: BLE001
            raise VideoReadError(f"decoding failed in {self.path}: {str(err).splitlines()[0][:200]}") from None
        return list(batch)

    def read_all(self, *, stride: int = 1, chunk: int = 64) -> list[np.ndarray]:
        return read_all(self, stride=stride, chunk=chunk)


def read_all(reader, *, stride: int = 1, chunk: int = 64) -> list[np.ndarray]:
    """Every ``stride``-th frame of a reader (``len()`` and ``read(indices)``), decoded in chunks (a truncated file
    raises VideoReadError)."""
    idx = list(range(0, len(reader), stride))
    out: list[np.ndarray] = []
    for start in range(0, len(idx), chunk):
        out.extend(reader.read(idx[start:start + chunk]))
    return out


def fit_frame(frame: np.ndarray, size: tuple[int, int] | None, *, keep_aspect: bool = False) -> np.ndarray:
    """Resize an (H, W, 3) frame to ``size`` = (height, width).

    ``keep_aspect``: scale so the frame covers ``size``, then centre-crop (no distortion).
    """
    if size is None:
        return frame
    th, tw = size
    h, w = frame.shape[:2]
    if (h, w) == (th, tw):
        return frame
    if keep_aspect:
        s = max(th / h, tw / w)
        nh, nw = max(th, round(h * s)), max(tw, round(w * s))
        interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
        frame = cv2.resize(frame, (nw, nh), interpolation=interp)
        y, x = (nh - th) // 2, (nw - tw) // 2
        return np.ascontiguousarray(frame[y:y + th, x:x + tw])
    interp = cv2.INTER_AREA if th * tw < h * w else cv2.INTER_LINEAR
    return cv2.resize(frame, (tw, th), interpolation=interp)
