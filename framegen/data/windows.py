"""Samples from videos: a window of k + 1 consecutive frames; inputs are frames 0 and k, the target is frame j
with t = j / k (j random in training; the middle, or every j, at evaluation)."""

from __future__ import annotations

import bisect
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset

from framegen.data.quality import valid_window_starts
from framegen.data.transforms import AugmentConfig, augment
from framegen.data.video import fit_frame
from framegen.image_tensor import to_tensor
from framegen.media import MediaError, read_image


@dataclass(frozen=True)
class VideoClip:
    """One usable video of a split: where its frames are and which windows are valid."""

    video_id: str
    frames: int
    starts: np.ndarray  # valid window starts
    frame_dir: str | None = None  # cached frames (…/000123.jpg)
    source: str | None = None  # on the fly: the video (read through ``open_reader``)


def make_clips(videos: dict[str, dict], ids: list[str], *, k: int, frame_dir: Callable[[str, dict], str] | None) -> list[VideoClip]:
    clips = []
    for vid in ids:
        v = videos[vid]
        starts = valid_window_starts(v["frames"], k, v.get("blank", []), v.get("cuts", []))
        if len(starts):
            clips.append(VideoClip(vid, v["frames"], starts, frame_dir(vid, v) if frame_dir else None, v.get("source")))
    return clips


class WindowDataset(Dataset):
    """Interpolation samples from windows of videos (cached frames or decoded on the fly).

    Training: ``windows_per_video`` random windows per video per epoch, a random target j, augmentation.
    Evaluation: ``windows_per_video`` evenly spaced windows, the middle target (or every j with
    ``eval_targets='all'``), no augmentation. ``windows_per_video`` is one number for every clip, or one per clip
    (``counts``). Items: img0, img1, gt (3, H, W) in [0, 1] and t ().
    """

    def __init__(
        self,
        clips: list[VideoClip],
        *,
        k: int,
        train: bool,
        windows_per_video: int | Sequence[int] = 4,
        eval_targets: str = "middle",
        augment_cfg: AugmentConfig | None = None,
        image_format: str = "jpg",
        open_reader: Callable[[str], object] | None = None,
        frame_size: tuple[int, int] | None = None,
        keep_aspect: bool = False,
        stride: int = 1,
        seed: int = 0,
    ) -> None:
        if k < 2:
            raise ValueError(f"the interpolation factor k must be >= 2, got {k}")
        if eval_targets not in ("middle", "all"):
            raise ValueError(f"eval_targets must be 'middle' or 'all', got {eval_targets!r}")
        self.clips, self.k, self.train = clips, k, train
        if isinstance(windows_per_video, int | np.integer):
            self.counts = [max(1, int(windows_per_video))] * len(clips)
        else:
            if len(windows_per_video) != len(clips):
                raise ValueError(f"{len(windows_per_video)} window counts for {len(clips)} clips")
            self.counts = [max(1, int(n)) for n in windows_per_video]
        self._ends = np.cumsum(self.counts).tolist()  # window index -> clip: the first end above it
        self.targets = [k // 2] if (train or eval_targets == "middle") else list(range(1, k))
        self.augment_cfg = augment_cfg if train else None
        self.image_format = image_format
        self.open_reader, self.frame_size, self.keep_aspect, self.stride = open_reader, frame_size, keep_aspect, stride
        self.seed = seed
        self._readers: OrderedDict = OrderedDict()  # per-worker cache of open videos (on the fly)

    def __len__(self) -> int:
        n = self._ends[-1] if self._ends else 0
        return n if self.train else n * len(self.targets)

    def _rng(self, index: int) -> np.random.Generator:
        if self.train:
            return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        return np.random.default_rng([self.seed, index])

    def _clip(self, window: int) -> tuple[int, int]:
        """(clip position, window number within the clip) of a window index."""
        c = bisect.bisect_right(self._ends, window)
        return c, window - (self._ends[c - 1] if c else 0)

    def _locate(self, index: int, rng: np.random.Generator) -> tuple[VideoClip, int, int]:
        if self.train:
            clip = self.clips[self._clip(index)[0]]
            start = int(clip.starts[rng.integers(len(clip.starts))])
            return clip, start, int(rng.integers(1, self.k))
        window, target = divmod(index, len(self.targets))
        c, w = self._clip(window)
        clip, n = self.clips[c], self.counts[c]
        pos = round(w * (len(clip.starts) - 1) / max(1, n - 1)) if n > 1 else len(clip.starts) // 2
        return clip, int(clip.starts[pos]), self.targets[target]

    def _read(self, clip: VideoClip, indices: list[int]) -> list[np.ndarray]:
        if clip.frame_dir is not None:
            out = []
            for i in indices:
                path = os.path.join(clip.frame_dir, f"{i:06d}.{self.image_format}")
                try:
                    out.append(read_image(path))
                except MediaError:
                    raise FileNotFoundError(f"cached frame missing or unreadable: {path} (rebuild the cache)") from None
            return out
        reader = self._readers.get(clip.source)
        if reader is None:
            reader = self.open_reader(clip.source)
            self._readers[clip.source] = reader
            if len(self._readers) > 8:
                self._readers.popitem(last=False)
        frames = reader.read([i * self.stride for i in indices])
        return [fit_frame(f, self.frame_size, keep_aspect=self.keep_aspect) for f in frames]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = self._rng(index)
        clip, start, j = self._locate(index, rng)
        frames = self._read(clip, [start, start + j, start + self.k])
        x = to_tensor(np.stack(frames))
        t = j / self.k
        if self.augment_cfg is not None:
            x, t = augment(x, t, self.augment_cfg, rng)
        return {"img0": x[0], "gt": x[1], "img1": x[2], "t": torch.tensor(t, dtype=torch.float32)}
