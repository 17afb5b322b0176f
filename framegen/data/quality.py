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


def _thumb(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[:2]
    tw = 64
    th = max(1, round(h * tw / w))
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (tw, th), interpolation=cv2.INTER_AREA).astype(np.float32)


def analyse(frames: list[np.ndarray], cfg: QualityConfig) -> VideoStats:
    """Blank frames, cut positions and the median consecutive-frame difference of a video."""
    thumbs = [_thumb(f) for f in frames]
    hists = [np.histogram(t, bins=32, range=(0, 256))[0] / t.size for t in thumbs]
    blank = [i for i, t in enumerate(thumbs) if float(t.std()) < cfg.blank_std]
    diffs = np.array([float(np.abs(a - b).mean()) for a, b in zip(thumbs[:-1], thumbs[1:])]) if len(thumbs) > 1 else np.zeros(0)
    median = float(np.median(diffs)) if diffs.size else 0.0
    hist_d = np.array([float(np.abs(a - b).sum()) for a, b in zip(hists[:-1], hists[1:])])
    cuts = [int(i) for i in np.nonzero((diffs > cfg.cut_threshold) & (hist_d > cfg.cut_hist))[0]] if diffs.size else []
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
