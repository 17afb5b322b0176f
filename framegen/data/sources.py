"""The pipeline every video data source shares (:class:`VideoSource`), and the official UCF-101 tree
(:class:`UCF101Source`). Your own folders are :mod:`framegen.data.folder_source`, the Hugging Face mirrors
:mod:`framegen.data.hf`.

Every source: list the videos, drop unreadable/empty/too-short ones cheaply, split them (group-aware and
class-stratified, or as the source fixes), then build the frame cache (or, on the fly, the same index without
stored frames), and serve :class:`~framegen.data.windows.WindowDataset` splits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from framegen.data.cache import CacheError, FrameCache, config_hash
from framegen.data.entries import VideoEntry
from framegen.data.quality import QualityConfig
from framegen.data.splits import SPLITS, group_split, light_selection
from framegen.data.transforms import AugmentConfig
from framegen.data.ucf101 import list_ucf101, read_official_lists
from framegen.data.video import FrameReader, VideoReadError, frame_count_and_fps, read_all
from framegen.data.windows import WindowDataset, make_clips
from framegen.media import user_path

log = logging.getLogger(__name__)

# windows_per_video=auto: one training window per frames_per_window valid window starts of a clip, at least
# WINDOW_FLOOR (the old fixed number) and at most max_windows_per_video
WINDOW_FLOOR = 4


def _pair(v) -> tuple[int, int] | None:
    if v is None:
        return None
    if isinstance(v, int):
        return (v, v)
    return (int(v[0]), int(v[1]))


class VideoSource:
    """The shared pipeline. Subclasses implement :meth:`entries` (and :meth:`open_reader` when frames do not come
    from files) and :meth:`identity` (what makes two sources the same data, for the cache config).

    Args:
        cache_dir: where the frame cache (or the on-the-fly index) and metadata.json go: with ``keyed_cache`` (the
            default) in a sub-folder named after the source and a hash of its config, so other folders or settings
            get caches of their own beside it; else in ``cache_dir`` itself (a different config there is refused).
        mode: 'cache' (decode once, store frames) or 'on_the_fly' (decode sample windows from the videos).
        frame_size: (height, width) or an int; null keeps the native size.
        keep_aspect: scale to cover frame_size and centre-crop, instead of stretching.
        temporal_stride: keep every n-th frame (a larger motion per step).
        k: interpolation factor; a sample is k + 1 consecutive (kept) frames.
        split: {ratios: [train, val, test], seed}.
        light_loading / light_videos: use only that many videos, spread over classes.
        quality: thresholds of :class:`~framegen.data.quality.QualityConfig`.
        augment: :class:`~framegen.data.transforms.AugmentConfig` for training.
        windows_per_video / eval_windows_per_video: samples per video per epoch. ``windows_per_video='auto'``:
            one per ``frames_per_window`` valid window starts of each clip, at least 4, at most
            ``max_windows_per_video`` (a few long clips give many samples, short ones 4).
        eval_targets: 'middle' (t = 1/2 for even k) or 'all' (every j) at validation and test.
        train_as_val: when the split leaves no validation videos (a few clips), validate on evenly spaced windows of
            the training videos, with a warning, so every run still selects and exports a best model.
    """

    def __init__(
        self,
        *,
        cache_dir: str,
        mode: str = "cache",
        frame_size: int | Sequence[int] | None = 256,
        keep_aspect: bool = False,
        temporal_stride: int = 1,
        k: int = 4,
        image_format: str = "jpg",
        jpeg_quality: int = 95,
        split: dict | None = None,
        light_loading: bool = False,
        light_videos: int = 100,
        quality: dict | None = None,
        augment: dict | None = None,
        windows_per_video: int | str = 4,
        eval_windows_per_video: int = 2,
        frames_per_window: int = 25,
        max_windows_per_video: int = 400,
        eval_targets: str = "middle",
        progress: bool = True,
        keyed_cache: bool = True,
        train_as_val: bool = True,
    ) -> None:
        if mode not in ("cache", "on_the_fly"):
            raise ValueError(f"mode must be 'cache' or 'on_the_fly', got {mode!r}")
        if temporal_stride < 1:
            raise ValueError(f"temporal_stride must be >= 1, got {temporal_stride}")
        if windows_per_video != "auto" and (isinstance(windows_per_video, bool) or not isinstance(windows_per_video, int)):
            raise ValueError(f"windows_per_video must be a whole number or 'auto', got {windows_per_video!r}")
        if windows_per_video == "auto" and not (int(frames_per_window) >= 1 and int(max_windows_per_video) >= 1):
            raise ValueError(f"windows_per_video=auto needs frames_per_window >= 1 and max_windows_per_video >= 1, "
                             f"got {frames_per_window} and {max_windows_per_video}")
        self.cache_dir = user_path(cache_dir)
        self.keyed_cache, self.train_as_val = keyed_cache, train_as_val
        self.mode = mode
        self.frame_size = _pair(frame_size)
        self.keep_aspect, self.stride, self.k = keep_aspect, int(temporal_stride), int(k)
        self.image_format, self.jpeg_quality = image_format, int(jpeg_quality)
        split = {"ratios": [0.7, 0.15, 0.15], "seed": 0, **(split or {})}
        self.ratios, self.split_seed = [float(r) for r in split["ratios"]], int(split["seed"])
        self.light_loading, self.light_videos = light_loading, int(light_videos)
        self.quality = QualityConfig(**(quality or {}))
        aug = dict(augment or {})
        for key in ("crop_size", "brightness_range", "contrast_range"):
            if aug.get(key) is not None:
                aug[key] = tuple(aug[key]) if not isinstance(aug[key], int) else (aug[key], aug[key])
        self.augment = AugmentConfig(**aug)
        self.windows_per_video, self.eval_windows_per_video = windows_per_video, eval_windows_per_video
        self.frames_per_window, self.max_windows_per_video = int(frames_per_window), int(max_windows_per_video)
        self.eval_targets, self.progress = eval_targets, progress
        self.metadata: dict | None = None

    # ------------------------------------------------------------ subclasses
    def identity(self) -> dict:
        raise NotImplementedError

    def entries(self) -> list[VideoEntry]:
        raise NotImplementedError

    def open_reader(self, source: str):
        """A reader with ``len()`` and ``read(indices)`` for one video (``VideoEntry.path``)."""
        return FrameReader(source)

    def frame_count(self, entry: VideoEntry) -> int:
        return frame_count_and_fps(entry.path)[0]

    def regroup(self, entries: list[VideoEntry]) -> list[VideoEntry]:
        """The entries with the groups an automatic split must keep together (sources that know more than the
        listing, such as a folder's clips of one scene, join groups here)."""
        return entries

    def fixed_splits(self, entries: list[VideoEntry]) -> dict[str, str] | None:
        """{video_id: split} when the source decides the split (folders, official lists)."""
        if all(e.split for e in entries):
            return {e.video_id: e.split for e in entries}
        return None

    # -------------------------------------------------------------- pipeline
    def cache_config(self) -> dict:
        return {
            "source": self.identity(),
            "mode": self.mode,
            "frame_size": list(self.frame_size) if self.frame_size else None,
            "keep_aspect": self.keep_aspect,
            "temporal_stride": self.stride,
            "image_format": self.image_format,
            "jpeg_quality": self.jpeg_quality,
            "split": {"ratios": self.ratios, "seed": self.split_seed},
            "light_loading": self.light_videos if self.light_loading else False,
            "quality": self.quality.as_dict(),
        }

    def cache(self) -> FrameCache:
        config = self.cache_config()
        root = self.cache_dir
        if self.keyed_cache:
            name = re.sub(r"[^A-Za-z0-9_-]+", "_", self.cache_name())[:40] or "source"
            root = root / f"{name}-{config_hash(config)[:10]}"
        return FrameCache(root, config, store_frames=self.mode == "cache", image_format=self.image_format,
                          jpeg_quality=self.jpeg_quality)

    def cache_name(self) -> str:
        """A readable name for this source's cache folder (its root folder's name)."""
        root = getattr(self, "root", None)
        return Path(root).name if root else type(self).__name__

    def _decode(self, entry: VideoEntry) -> list[np.ndarray]:
        return read_all(self.open_reader(entry.path), stride=self.stride)

    def prepare(self) -> dict:
        """Build (or find) the cache; returns its metadata. Runs in one process (LightningDataModule.prepare_data)."""
        cache = self.cache()
        meta = cache.load()
        if meta is not None:
            log.info("frame cache hit: %s (config %s); nothing to decode", cache.root, cache.hash)
            self.metadata = meta
            return meta
        entries = self.entries()
        if self.light_loading:
            entries = light_selection(entries, self.light_videos, seed=self.split_seed)
            log.info("light_loading: %d videos over %d classes", len(entries), len({e.label for e in entries}))
        prefiltered, usable = {}, []
        for e in entries:
            try:
                n = self.frame_count(e)
            except VideoReadError as err:
                prefiltered[e.video_id] = f"unreadable: {err}"
                continue
            if n // self.stride < self.quality.min_frames_per_video:
                prefiltered[e.video_id] = f"too few frames ({n // self.stride} < {self.quality.min_frames_per_video})"
                continue
            usable.append(e)
        fixed = self.fixed_splits(usable)
        if fixed is None:
            splits = group_split(self.regroup(usable), self.ratios, seed=self.split_seed)
            assignment = {vid: s for s, ids in splits.items() for vid in ids}
        else:
            assignment = fixed
        meta = cache.build(usable, assignment, self._decode, frame_size=self.frame_size, keep_aspect=self.keep_aspect,
                           quality=self.quality, prefiltered=prefiltered, progress=self.progress)
        log.info("split ratios achieved (videos): %s", meta["ratios"])
        self.metadata = meta
        return meta

    def dataset(self, split: str) -> WindowDataset:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if self.metadata is None:
            self.metadata = self.cache().load()
            if self.metadata is None:
                raise CacheError(f"no frame cache in {self.cache_dir}: call prepare() (LightningDataModule.prepare_data) first")
        meta = self.metadata
        cache = self.cache()
        frame_dir = (lambda vid, v: str(cache.frame_dir(v["split"], v["label"], vid))) if meta["store_frames"] else None
        splits = self._usable_splits(meta, frame_dir)
        clips = make_clips(meta["videos"], splits.get(split, []), k=self.k, frame_dir=frame_dir)
        if split == "val" and not clips and self.train_as_val:
            clips = make_clips(meta["videos"], splits.get("train", []), k=self.k, frame_dir=frame_dir)
            if clips:
                log.warning("no validation videos (too few for the split): validating on the training clips' windows; "
                            "add footage, or a root/val folder, for a fair selection")
        train = split == "train"
        windows = self.eval_windows_per_video
        if train:
            windows = self.window_counts(clips) if self.windows_per_video == "auto" else self.windows_per_video
        return WindowDataset(
            clips, k=self.k, train=train, windows_per_video=windows,
            eval_targets=self.eval_targets, augment_cfg=self.augment if train else None,
            image_format=meta.get("image_format", "jpg"), open_reader=self.open_reader,
            frame_size=self.frame_size, keep_aspect=self.keep_aspect, stride=self.stride, seed=self.split_seed,
        )
    def window_counts(self, clips: list) -> list[int]:
        """Training windows per clip for ``windows_per_video=auto``: one per ``frames_per_window`` valid starts,
        within [WINDOW_FLOOR, max_windows_per_video]."""
        floor = min(WINDOW_FLOOR, self.max_windows_per_video)
        counts = [min(self.max_windows_per_video, max(floor, len(c.starts) // self.frames_per_window)) for c in clips]
        if counts:
            log.info("training windows per video (auto: one per %d frames, %d-%d): %d-%d, %d per epoch",
                     self.frames_per_window, floor, self.max_windows_per_video, min(counts), max(counts), sum(counts))
        return counts

    def _usable_splits(self, meta: dict, frame_dir) -> dict[str, list[str]]:
        """The cache's splits, except when no training video survived them (a small folder whose usable video the
        split put in val while the training one was then dropped as near-static or unreadable): with
        ``train_as_val``, every usable video trains (and validation falls back to the training windows)."""
        splits = meta["splits"]
        if not self.train_as_val or make_clips(meta["videos"], splits.get("train", []), k=self.k, frame_dir=frame_dir):
            return splits
        others = sorted(vid for s in SPLITS if s != "train" for vid in splits.get(s, []))
        if not make_clips(meta["videos"], others, k=self.k, frame_dir=frame_dir):
            return splits
        if not getattr(self, "_pooled_warned", False):
            self._pooled_warned = True
            log.warning("the split left no usable training video (%d dropped, see the cache's metadata.json): "
                        "training on all %d usable video(s) %s instead, with no test set; add footage for a fair "
                        "selection", len(meta.get("filtered", {})), len(others), others)
        return {"train": others, "val": [], "test": []}


class UCF101Source(VideoSource):
    """``data=ucf101``: the official distribution, ``<root>/<Class>/v_<Class>_gXX_cYY.avi``.

    ``official_splits``: a folder with ``trainlist0N.txt`` / ``testlist0N.txt``; then test = the official test list
    and val is carved out of the official train list, group-aware, with the val share of ``split.ratios``.
    """

    def __init__(self, *, root: str, official_splits: str | None = None, official_index: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root, self.official_splits, self.official_index = user_path(root), official_splits, int(official_index)

    def identity(self) -> dict:
        return {"kind": "ucf101", "root": str(self.root.resolve()), "official_splits": self.official_splits,
                "official_index": self.official_index}

    def entries(self) -> list[VideoEntry]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"UCF-101 folder not found: {self.root} (set data.root)")
        return list_ucf101(self.root)

    def fixed_splits(self, entries: list[VideoEntry]) -> dict[str, str] | None:
        if not self.official_splits:
            return None
        lists = read_official_lists(self.official_splits, self.official_index)
        train = [e for e in entries if e.video_id in lists["train"]]
        tr, va, _ = self.ratios
        inner = group_split(train, (tr, va, 0.0), seed=self.split_seed)
        out = {vid: s for s, ids in inner.items() for vid in ids}
        out.update({e.video_id: "test" for e in entries if e.video_id in lists["test"]})
        return out
