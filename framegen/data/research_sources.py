"""Training sources from the research sets of :mod:`framegen.data.research_sets`: :class:`VimeoSource` (Vimeo-90K
triplets, or septuplets with t sampled from the seven frames) and :class:`X4KSource` (X4K1000FPS's train split,
XVFI-style random distances). They plug into :class:`~framegen.data.InterpolationDataModule` like the other sources
and use the same augmentation (:mod:`framegen.data.transforms`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from framegen.data.research_sets import (
    VIMEO,
    Item,
    ResearchSetError,
    pngs,
    vimeo_items,
    vimeo_sequences,
    x4k_train_clips,
    xtest_items,
)
from framegen.data.transforms import AugmentConfig, augment
from framegen.image_tensor import to_tensor
from framegen.media import MediaError, read_image, user_path

log = logging.getLogger(__name__)


def _read(path: Path) -> np.ndarray:
    try:
        return read_image(path)
    except MediaError as err:
        raise ResearchSetError(str(err)) from None


def _pair(v) -> tuple[int, int] | None:
    if v is None:
        return None
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _augment_config(augment_cfg: dict | None) -> AugmentConfig:
    aug = dict(augment_cfg or {})
    if aug.get("crop_size") is not None:
        aug["crop_size"] = _pair(aug["crop_size"])
    for key in ("brightness_range", "contrast_range"):
        if aug.get(key) is not None:
            aug[key] = tuple(aug[key])
    return AugmentConfig(**aug)


class FrameTriplets(Dataset):
    """Items ``picker(index, rng) -> (path0, path_gt, path1, t)`` read as img0, gt, img1 (3, H, W) in [0, 1] and t;
    in training the pick is random and the three frames are augmented alike."""

    def __init__(self, picker, length: int, *, train: bool, augment_cfg: AugmentConfig | None = None,
                 seed: int = 0) -> None:
        self.picker, self.length, self.train, self.seed = picker, int(length), train, seed
        self.augment_cfg = augment_cfg if train else None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if self.train:
            rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        else:
            rng = np.random.default_rng([self.seed, index])
        p0, pg, p1, t = self.picker(index, rng)
        frames = [_read(p) for p in (p0, pg, p1)]
        shapes = {f.shape for f in frames}
        if len(shapes) != 1:
            raise ResearchSetError(f"frames of different sizes {sorted(shapes)}: {p0}, {pg}, {p1}")
        x = to_tensor(np.stack(frames))
        if self.augment_cfg is not None:
            x, t = augment(x, t, self.augment_cfg, rng)
        return {"img0": x[0], "gt": x[1], "img1": x[2], "t": torch.tensor(t, dtype=torch.float32)}


@dataclass(frozen=True)
class FixedItems:
    """Picks item ``index`` of a fixed list (evaluation)."""

    items: tuple[Item, ...]

    def __call__(self, index: int, rng) -> tuple[Path, Path, Path, float]:
        it = self.items[index]
        return it.img0, it.gt, it.img1, it.t


@dataclass(frozen=True)
class VimeoPicks:
    """Training picks from Vimeo sequences: triplets give (im1, im2, im3, 1/2); septuplets three of the seven frames
    in order, outer two as inputs and t = (b - a) / (c - a) (arbitrary-time training, as RIFE's septuplet loader)."""

    sequences: tuple[Path, ...]
    frames: int

    def __call__(self, index: int, rng) -> tuple[Path, Path, Path, float]:
        seq = self.sequences[index]
        if self.frames == 3:
            a, b, c = 0, 1, 2
        else:
            a, b, c = sorted(int(i) for i in rng.choice(self.frames, size=3, replace=False))
        return seq / f"im{a + 1}.png", seq / f"im{b + 1}.png", seq / f"im{c + 1}.png", (b - a) / (c - a)


class VimeoSource:
    """``data=vimeo90k`` / ``data=vimeo90k_septuplet``: the official lists of a Vimeo-90K tree.

    Training reads the train list, less its last ``val_sequences`` sequences, which validate (a held-out block:
    neighbouring sequences of the sorted list come from the same videos, so only the block's edges touch training
    footage). The test split is the official test list (``eval_targets``: ``middle`` = t 1/2, or ``all`` = every
    septuplet frame between im1 and im7). Augmentation: :class:`~framegen.data.transforms.AugmentConfig`.
    """

    def __init__(self, *, root: str, variant: str = "triplet", val_sequences: int = 256, augment: dict | None = None,
                 eval_targets: str = "middle", seed: int = 0) -> None:
        if variant not in VIMEO:
            raise ValueError(f"variant must be one of {sorted(VIMEO)}, got {variant!r}")
        if eval_targets not in ("middle", "all"):
            raise ValueError(f"eval_targets must be 'middle' or 'all', got {eval_targets!r}")
        self.root, self.variant, self.val_sequences = user_path(root), variant, int(val_sequences)
        self.augment_cfg = _augment_config(augment)
        self.eval_targets, self.seed = eval_targets, int(seed)
        self._splits: dict[str, list[Path]] | None = None

    def _lists(self) -> dict[str, list[Path]]:
        if self._splits is None:
            train = vimeo_sequences(self.root, self.variant, "train")
            n_val = min(self.val_sequences, max(0, len(train) - 1))
            self._splits = {"train": train[:len(train) - n_val], "val": train[len(train) - n_val:]}
            log.info("Vimeo-90K %s: %d training and %d validation sequences", self.variant,
                     len(self._splits["train"]), n_val)
        return self._splits

    def prepare(self) -> None:
        """Nothing to download or cache: check the layout once (a missing list or frame is one clear error)."""
        self._lists()

    def _eval_items(self, sequences: list[Path]) -> list[Item]:
        n = VIMEO[self.variant][1]
        js = [n // 2] if (n == 3 or self.eval_targets == "middle") else list(range(1, n - 1))
        return [Item(f"{s.parent.name}/{s.name}", s / "im1.png", s / f"im{j + 1}.png", s / f"im{n}.png", j / (n - 1))
                for s in sequences for j in js]

    def dataset(self, split: str) -> Dataset:
        if split == "train":
            seqs = self._lists()["train"]
            return FrameTriplets(VimeoPicks(tuple(seqs), VIMEO[self.variant][1]), len(seqs), train=True,
                                 augment_cfg=self.augment_cfg, seed=self.seed)
        if split == "val":
            items = self._eval_items(self._lists()["val"])
        elif split == "test":
            items = vimeo_items(self.root, self.variant, targets=self.eval_targets)
        else:
            raise ValueError(f"split must be one of train, val, test, got {split!r}")
        return FrameTriplets(FixedItems(tuple(items)), len(items), train=False, seed=self.seed)


@dataclass(frozen=True)
class X4KPicks:
    """Training picks from X-TRAIN clips (XVFI's sampling): a random temporal distance d in [min_step, max_step]
    frames, a random start, a random frame between; t = j / d."""

    clips: tuple[tuple[Path, ...], ...]
    min_step: int
    max_step: int

    def __call__(self, index: int, rng) -> tuple[Path, Path, Path, float]:
        frames = self.clips[index % len(self.clips)]
        d = int(rng.integers(self.min_step, min(self.max_step, len(frames) - 1) + 1))
        s = int(rng.integers(0, len(frames) - d))
        j = int(rng.integers(1, d))
        return frames[s], frames[s + j], frames[s + d], j / d


class X4KSource:
    """``data=x4k``: X4K1000FPS's train split (``<root>/train/<scene>/<clip>/``, 65 frames of 768x768 at 1000 fps).

    Training draws ``samples_per_clip`` picks per clip per epoch (:class:`X4KPicks`); the last ``val_scenes``
    scenes (sorted by name) validate, scene-disjoint, with frames 0 and ``val_span`` around the middle (t = 1/2).
    The test split is X-TEST's 8x protocol when ``<root>/test`` exists (else empty).
    """

    def __init__(self, *, root: str, min_step: int = 2, max_step: int = 32, samples_per_clip: int = 1,
                 val_scenes: int = 2, val_span: int = 32, augment: dict | None = None, seed: int = 0) -> None:
        if not 2 <= int(min_step) <= int(max_step):
            raise ValueError(f"need 2 <= min_step <= max_step, got {min_step} and {max_step}")
        self.root = user_path(root)
        self.min_step, self.max_step, self.samples_per_clip = int(min_step), int(max_step), int(samples_per_clip)
        self.val_scenes, self.val_span = int(val_scenes), int(val_span)
        self.augment_cfg = _augment_config(augment)
        self.seed = int(seed)
        self._splits: dict[str, list[tuple[Path, ...]]] | None = None

    def _clips(self) -> dict[str, list[tuple[Path, ...]]]:
        if self._splits is None:
            scenes = x4k_train_clips(self.root)
            names = list(scenes)
            n_val = min(self.val_scenes, max(0, len(names) - 1))
            out: dict[str, list[tuple[Path, ...]]] = {"train": [], "val": []}
            for i, name in enumerate(names):
                for clip in scenes[name]:
                    frames = tuple(pngs(clip))
                    if len(frames) < self.min_step + 1:
                        raise ResearchSetError(f"X-TRAIN clip {clip} has {len(frames)} frames, fewer than "
                                               f"min_step + 1 = {self.min_step + 1}")
                    out["val" if i >= len(names) - n_val else "train"].append(frames)
            self._splits = out
            log.info("X4K1000FPS: %d training clips, %d validation clips (%d held-out scenes)", len(out["train"]),
                     len(out["val"]), n_val)
        return self._splits

    def prepare(self) -> None:
        self._clips()

    def dataset(self, split: str) -> Dataset:
        if split == "train":
            clips = self._clips()["train"]
            return FrameTriplets(X4KPicks(tuple(clips), self.min_step, self.max_step),
                                 len(clips) * self.samples_per_clip, train=True, augment_cfg=self.augment_cfg,
                                 seed=self.seed)
        if split == "val":
            items = []
            for frames in self._clips()["val"]:
                d = min(self.val_span, len(frames) - 1) // 2 * 2
                items.append(Item(frames[0].parent.name, frames[0], frames[d // 2], frames[d], 0.5))
        elif split == "test":
            items = xtest_items(self.root) if (self.root / "test").is_dir() else []
        else:
            raise ValueError(f"split must be one of train, val, test, got {split!r}")
        return FrameTriplets(FixedItems(tuple(items)), len(items), train=False, seed=self.seed)
