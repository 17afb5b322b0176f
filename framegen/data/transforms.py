"""Augmentation applied identically to every frame of a sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF


@dataclass(frozen=True)
class AugmentConfig:
    """The original README's knobs, plus temporal reversal. ``crop_size`` = (height, width) or None."""

    crop_size: tuple[int, int] | None = None
    horizontal_flip: bool = True
    vertical_flip: bool = False
    rotation_range: float = 0.0
    brightness_range: tuple[float, float] = (1.0, 1.0)
    contrast_range: tuple[float, float] = (1.0, 1.0)
    temporal_reverse: bool = True


def augment(frames: torch.Tensor, t: float, cfg: AugmentConfig, rng: np.random.Generator) -> tuple[torch.Tensor, float]:
    """frames (3 frames: img0, gt, img1) as (N, 3, H, W) in [0, 1] -> the same transform on all, and t.

    Temporal reversal swaps the inputs and maps t to 1 - t.
    """
    if frames.ndim != 4:
        raise ValueError(f"frames must be (N, 3, H, W), got {tuple(frames.shape)}")
    h, w = frames.shape[-2:]
    if cfg.crop_size is not None:
        ch, cw = cfg.crop_size
        if ch > h or cw > w:
            raise ValueError(f"crop_size {cfg.crop_size} is larger than the frames ({h}x{w})")
        y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        frames = frames[..., y:y + ch, x:x + cw]
    if cfg.horizontal_flip and rng.random() < 0.5:
        frames = frames.flip(-1)
    if cfg.vertical_flip and rng.random() < 0.5:
        frames = frames.flip(-2)
    if cfg.rotation_range > 0:
        angle = float(rng.uniform(-cfg.rotation_range, cfg.rotation_range))
        frames = TF.rotate(frames, angle, interpolation=TF.InterpolationMode.BILINEAR)
    b = float(rng.uniform(*cfg.brightness_range))
    c = float(rng.uniform(*cfg.contrast_range))
    if b != 1.0:
        frames = TF.adjust_brightness(frames, b)
    if c != 1.0:
        # one contrast reference (the mean grey of all frames) so the frames stay consistent with each other
        mean = TF.rgb_to_grayscale(frames).mean()
        frames = ((frames - mean) * c + mean).clamp(0, 1)
    if cfg.temporal_reverse and rng.random() < 0.5:
        frames = frames.flip(0)
        t = 1.0 - t
    return frames.contiguous(), t
