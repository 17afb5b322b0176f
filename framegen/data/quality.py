"""Quality checks on a decoded video: near-static content, blank frames, scene cuts."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from framegen.media import change, is_cut, signature


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


def analyse(frames: list[np.ndarray], cfg: QualityConfig) -> VideoStats:
    """Blank frames, cut positions and the median consecutive-frame difference of a video."""
    sigs = [signature(f) for f in frames]
    blank = [i for i, (t, _) in enumerate(sigs) if float(t.std()) < cfg.blank_std]
    changes = [change(a, b) for a, b in zip(sigs[:-1], sigs[1:])]
    median = float(np.median([d for d, _ in changes])) if changes else 0.0
    cuts = [i for i, (d, h) in enumerate(changes) if is_cut(d, h, cut_threshold=cfg.cut_threshold, cut_hist=cfg.cut_hist)]
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
