"""Per-triplet scores with the field's protocol (RIFE, IFRNet, EMA-VFI benchmark scripts).

The prediction is rounded to 8 bits first. PSNR on RGB in [0, 1]; SSIM with an 11x11 Gaussian window
(sigma 1.5) per channel, averaged; ``ssim_matlab``: the 3-D Gaussian-window SSIM (11x11x11 over channel, height and
width, replicate padding) that those scripts report; IE: mean absolute difference in grey levels (0-255) over all
pixels and channels (Middlebury's interpolation error as RIFE/IFRNet compute it; Baker et al. define an RMS).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import structural_similarity_index_measure

from framegen.image_tensor import to_tensor
from framegen.metrics import interpolation_error, quantize


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _channel_mixing(channels: int, g: torch.Tensor) -> torch.Tensor:
    """The 1-D Gaussian along the channel axis with replicate padding, as a (C, C) matrix."""
    r = len(g) // 2
    m = torch.zeros(channels, channels, dtype=g.dtype)
    for i in range(channels):
        for k in range(len(g)):
            m[i, min(max(i + k - r, 0), channels - 1)] += g[k]
    return m


def ssim_matlab(pred: torch.Tensor, gt: torch.Tensor) -> float:
    """SSIM with a 3-D Gaussian window over (channel, H, W); pred, gt (1, C, H, W) in [0, 1].

    The 11x11x11 window (replicate padding on every axis) is separable: a 2-D Gaussian per channel, then the
    channel-axis Gaussian, which for 3 channels is a fixed 3x3 mixing matrix. Same values as the 3-D convolution.
    """
    g = _gaussian()
    c = pred.shape[1]
    mix = _channel_mixing(c, g).float().to(pred.device)
    gx = g.float().to(pred.device).view(1, 1, 1, -1).repeat(c, 1, 1, 1)
    gy = g.float().to(pred.device).view(1, 1, -1, 1).repeat(c, 1, 1, 1)
    a, b = pred.float(), gt.float()

    def filt(x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (5, 5, 5, 5), mode="replicate")
        x = F.conv2d(F.conv2d(x, gx, groups=c), gy, groups=c)
        return torch.einsum("ij,bjhw->bihw", mix, x)

    mu1, mu2 = filt(a), filt(b)
    s11, s22, s12 = filt(a * a) - mu1**2, filt(b * b) - mu2**2, filt(a * b) - mu1 * mu2
    c1, c2 = 0.01**2, 0.03**2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1**2 + mu2**2 + c1) * (s11 + s22 + c2))
    return float(ssim_map.mean())


def score(pred: torch.Tensor, gt: np.ndarray, *, lpips=None) -> dict[str, float]:
    """Scores of one prediction (1, 3, H, W) in [0, 1] against the uint8 ground truth."""
    p = quantize(pred.detach().float().cpu())
    g = to_tensor(gt)
    if p.shape != g.shape:
        raise ValueError(f"prediction {tuple(p.shape)} and ground truth {tuple(g.shape)} differ in shape")
    mse = float(((p - g) ** 2).mean())
    out = {
        "psnr": 10 * math.log10(1.0 / mse) if mse > 0 else 100.0,
        "ssim": float(structural_similarity_index_measure(p, g, data_range=1.0, kernel_size=11, sigma=1.5)),
        "ssim_matlab": ssim_matlab(p, g),
        "ie": float(interpolation_error(p, g).mean()),
        "lpips": None,
    }
    if lpips is not None:
        with torch.no_grad():
            out["lpips"] = float(lpips(p, g).item())
    return out
