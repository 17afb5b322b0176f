"""Image arrays to tensors and back: the one conversion between media's (H, W, 3) RGB arrays and the nets' (3, H, W)
float images in [0, 1].

``to_tensor`` takes one image (H, W, 3) or a stack (N, H, W, 3), uint8, uint16 (scaled by 65535) or float (taken as
it is), and returns (1, 3, H, W) or (N, 3, H, W) float32; ``to_image`` is its inverse for (3, H, W) or (B, 3, H, W).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

_SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def to_tensor(img: np.ndarray) -> Tensor:
    """(H, W, 3) -> (1, 3, H, W), or (N, H, W, 3) -> (N, 3, H, W): float32 in [0, 1] (uint8 / 255, uint16 / 65535,
    a float array unchanged)."""
    if img.ndim not in (3, 4):
        raise ValueError(f"an image must be (H, W, C) or a stack (N, H, W, C), got shape {img.shape}")
    x = torch.from_numpy(np.ascontiguousarray(img))
    x = (x[None] if img.ndim == 3 else x).permute(0, 3, 1, 2).float()
    scale = _SCALES.get(img.dtype)
    return x.div_(scale) if scale is not None else x


def to_image(t: Tensor, dtype=np.uint8) -> np.ndarray:
    """(3, H, W) -> (H, W, 3), or (B, 3, H, W) -> (B, H, W, 3), as ``dtype``: uint8 / uint16 clamped to [0, 1],
    scaled and rounded; a float dtype unchanged in value."""
    x = t.detach().float().cpu().movedim(-3, -1)
    scale = _SCALES.get(np.dtype(dtype))
    if scale is None:
        return x.numpy().astype(dtype)
    return (x.clamp(0, 1) * scale).round().to(torch.int32).numpy().astype(dtype)


__all__ = ["to_image", "to_tensor"]
