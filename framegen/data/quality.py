"""Quality checks on a decoded video: near-static content, blank frames, scene cuts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class QualityConfig:
    """Thresholds, in grey levels (0-255) measured on 64-pixel-wide grey thumbnails."""

    min_frames_per_video: int = 10
    # a video whose median difference between consecutive frames is below this is near-static
    static_threshold: float = 0.5
    # a frame whose grey standard deviation is below this is blank (black, white or flat)
    blank_std: float = 2.0
    # a cut: the mean difference to the previous frame exceeds cut_threshold and the grey histograms of the two
    # frames (32 bins, each summing to 1) differ by more than cut_hist in L1 distance (0-2); camera motion keeps
    # the histogram, a cut changes it
    cut_threshold: float = 20.0
    cut_hist: float = 0.4

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class VideoStats:
    frames: int
    median_diff: float
    blank: list[int]
    cuts: list[int]  # i: a cut between frame i and frame i + 1


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


def is_cut(diff: float, hist: float, cfg: QualityConfig) -> bool:
    return diff > cfg.cut_threshold and hist > cfg.cut_hist


def analyse(frames: list[np.ndarray], cfg: QualityConfig) -> VideoStats:
    """Blank frames, cut positions and the median consecutive-frame difference of a video."""
    sigs = [signature(f) for f in frames]
    blank = [i for i, (t, _) in enumerate(sigs) if float(t.std()) < cfg.blank_std]
    changes = [change(a, b) for a, b in zip(sigs[:-1], sigs[1:])]
    median = float(np.median([d for d, _ in changes])) if changes else 0.0
    cuts = [i for i, (d, h) in enumerate(changes) if is_cut(d, h, cfg)]
    return VideoStats(frames=len(frames), median_diff=median, blank=blank, cuts=cuts)


def reject_reason(stats: VideoStats, cfg: QualityConfig) -> str | None:
    """Why a decoded video is dropped, or None to keep it."""
    if stats.frames < cfg.min_frames_per_video:
        return f"too few frames ({stats.frames} < {cfg.min_frames_per_video})"
    usable = stats.frames - len(stats.blank)
    if usable < cfg.min_frames_per_video:
        return f"blank ({len(stats.blank)} of {stats.frames} frames are blank)"
    if stats.median_diff < cfg.static_threshold:
        return f"near-static (median frame difference {stats.median_diff:.2f} < {cfg.static_threshold})"
    return None


def valid_window_starts(frames: int, span: int, blank: list[int], cuts: list[int]) -> np.ndarray:
    """Starts s such that frames s..s+span are all non-blank and no cut lies between them."""
    if frames <= span:
        return np.zeros(0, dtype=np.int64)
    bad = np.zeros(frames, dtype=bool)
    bad[list(blank)] = True
    cut = np.zeros(frames, dtype=bool)
    cut[list(cuts)] = True
    starts = []
    # prefix sums make each window check O(1)
    bad_cum = np.concatenate([[0], np.cumsum(bad)])
    cut_cum = np.concatenate([[0], np.cumsum(cut)])
    s = np.arange(frames - span)
    ok = (bad_cum[s + span + 1] - bad_cum[s] == 0) & (cut_cum[s + span] - cut_cum[s] == 0)
    starts = s[ok]
    return starts.astype(np.int64)
