"""tOF, the temporal optical-flow difference of TecoGAN (Chu et al., "Learning Temporal Coherence via
Self-Supervision for GAN-based Video Generation", ACM TOG 2020; thunil/TecoGAN ``metrics.py``), as XVFI reports it
for multi-frame interpolation.

For each pair of consecutive frames of a rebuilt video, the dense optical flow between them (OpenCV Farneback on
the grey frames with TecoGAN's parameters: pyramid scale 0.5, 3 levels, window 15, 3 iterations, poly_n 5, sigma
1.2) is compared with the flow between the same two ground-truth frames: the per-pixel Euclidean norm of the
difference, averaged over the frame after TecoGAN's border crop (:func:`border_crop`). tOF is the mean over all
pairs, in pixels (lower = motion closer to the real one; a rebuilt frame that flickers or stutters raises it). Kept
input frames are the ground truth itself, so a pair only counts through its rebuilt frame(s).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from framegen.image_tensor import to_image

# calcOpticalFlowFarneback(prev, next, flow, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags)
FARNEBACK = (0.5, 3, 15, 3, 5, 1.2, 0)


def border_crop(a: np.ndarray) -> np.ndarray:
    """TecoGAN's crop: the centred region whose sides are multiples of 32 that leave at least 8 px on each side
    (the whole array when the frame is too small for that)."""
    h0, w0 = a.shape[:2]

    def side(n: int) -> int:
        s = (n // 32) * 32
        while s > n - 16:
            s -= 32
        return s if s > 0 else n

    h, w = side(h0), side(w0)
    y, x = (h0 - h) // 2, (w0 - w) // 2
    return a[y:y + h, x:x + w]


def to_uint8(frame) -> np.ndarray:
    """(H, W, 3) uint8 from a uint8 array or a (1, 3, H, W) / (3, H, W) tensor in [0, 1] (rounded, as saved)."""
    if isinstance(frame, torch.Tensor):
        return to_image(frame[0] if frame.ndim == 4 else frame)
    return np.asarray(frame, dtype=np.uint8)


def flow(prev_grey: np.ndarray, grey: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(prev_grey, grey, None, *FARNEBACK)


def tof_pair(prev_out: np.ndarray, out: np.ndarray, prev_gt: np.ndarray, gt: np.ndarray) -> float:
    """tOF of one pair of consecutive frames, given as grey uint8 (H, W)."""
    diff = border_crop(flow(prev_out, out)) - border_crop(flow(prev_gt, gt))
    return float(np.sqrt((diff * diff).sum(-1)).mean())


class TemporalOF:
    """Accumulates tOF over a rebuilt sequence fed in order: ``add(output, ground_truth)`` per frame (kept input
    frames as ``add(frame, frame)``); ``value`` is the mean over the pairs seen (None before the second frame)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self._prev: tuple[np.ndarray, np.ndarray] | None = None

    @staticmethod
    def _grey(frame) -> np.ndarray:
        return cv2.cvtColor(np.ascontiguousarray(to_uint8(frame)), cv2.COLOR_RGB2GRAY)

    def add(self, output, ground_truth) -> None:
        out, gt = self._grey(output), self._grey(ground_truth)
        if self._prev is not None:
            self.values.append(tof_pair(self._prev[0], out, self._prev[1], gt))
        self._prev = (out, gt)

    def break_sequence(self) -> None:
        """The next frame does not follow the last one (another clip): no pair across."""
        self._prev = None

    @property
    def value(self) -> float | None:
        return float(np.mean(self.values)) if self.values else None
