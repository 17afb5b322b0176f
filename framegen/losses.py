"""The framegen training loss: w_l1 * L1 (or Charbonnier) + w_l2 * L2 + w_perc * LPIPS + w_census * census."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framegen.models.layers import backward_warp
from framegen.perceptual import LPIPS


def charbonnier(pred: Tensor, target: Tensor, *, eps: float = 1e-3) -> Tensor:
    """Mean of sqrt((pred - target)^2 + eps^2): a smooth L1."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def _census_transform(img: Tensor, patch: int) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> (B, patch*patch, H, W) soft ternary signature of the grey image."""
    grey = (img * torch.tensor([0.299, 0.587, 0.114], device=img.device, dtype=img.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
    grey = grey * 255.0
    eye = torch.eye(patch * patch, device=img.device, dtype=img.dtype).view(patch * patch, 1, patch, patch)
    neighbours = F.conv2d(grey, eye, padding=patch // 2)
    diff = neighbours - grey
    return diff / torch.sqrt(0.81 + diff * diff)


def census(pred: Tensor, target: Tensor, *, patch: int = 7) -> Tensor:
    """Ternary census loss (as in UnFlow / IFRNet): robust to brightness changes, sensitive to structure.

    Returns a scalar; zero when pred == target.
    """
    a, b = _census_transform(pred, patch), _census_transform(target, patch)
    d = (a - b) ** 2
    dist = (d / (0.1 + d)).sum(1, keepdim=True)
    # ignore the border, where the patch leaves the image
    valid = torch.zeros_like(dist)
    r = patch // 2
    valid[..., r:-r or None, r:-r or None] = 1.0
    return (dist * valid).sum() / valid.sum().clamp(min=1.0)


class FramegenLoss(nn.Module):
    """Combined reconstruction loss.

    forward(pred, target) with (B, 3, H, W) in [0, 1] -> (total, {"l1": ..., "l2": ..., ...}) where
    only terms with a non-zero weight are computed and reported.
    """

    def __init__(self, *, l1: float = 1.0, l2: float = 0.0, perceptual: float = 0.0, census: float = 0.0,
                 charbonnier: bool = True, perceptual_net: str = "alex", census_patch: int = 7) -> None:
        super().__init__()
        if min(l1, l2, perceptual, census) < 0 or max(l1, l2, perceptual, census) == 0:
            raise ValueError(
                f"loss weights must be >= 0 with at least one > 0, got l1={l1} l2={l2} "
                f"perceptual={perceptual} census={census}"
            )
        self.weights = {"l1": l1, "l2": l2, "perceptual": perceptual, "census": census}
        self.use_charbonnier = charbonnier
        self.census_patch = census_patch
        self.lpips = LPIPS(perceptual_net) if perceptual > 0 else None

    def forward(self, pred: Tensor, target: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        if pred.shape != target.shape:
            raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
        terms: dict[str, Tensor] = {}
        if self.weights["l1"]:
            terms["l1"] = charbonnier(pred, target) if self.use_charbonnier else F.l1_loss(pred, target)
        if self.weights["l2"]:
            terms["l2"] = F.mse_loss(pred, target)
        if self.lpips is not None:
            terms["perceptual"] = self.lpips(pred, target).mean()
        if self.weights["census"]:
            terms["census"] = census(pred, target, patch=self.census_patch)
        total = sum(self.weights[k] * v for k, v in terms.items())
        return total, terms


def flow_supervision(pred: Tensor, target: Tensor, img0: Tensor, img1: Tensor, gt: Tensor, *, beta: float = 20.0,
                     rows: Tensor | None = None, eps: float = 1e-2) -> Tensor:
    """Robust flow loss (as IFRNet's task-oriented flow distillation): the end-point error between predicted and
    target intermediate flows (B, 4, H, W; F_t->0 then F_t->1, pixels), each direction weighted per pixel by how well
    the target flow rebuilds ``gt`` by warping: ``exp(-beta * mean |warp(img, target) - gt|)``. So occluded pixels,
    where no flow can be right, and wrong teacher flows, count little.

    ``rows`` (B,) of 0/1 selects the samples that have a target. Returns a scalar (0 when no row has one).
    """
    if pred.shape != target.shape or pred.shape[1] != 4:
        raise ValueError(f"pred and target flows must both be (B, 4, H, W), got {tuple(pred.shape)} and {tuple(target.shape)}")
    with torch.no_grad():
        weights = [torch.exp(-beta * (backward_warp(img, target[:, 2 * i:2 * i + 2]) - gt).abs().mean(1, keepdim=True))
                   for i, img in enumerate((img0, img1))]
    total = pred.new_zeros(())
    for i, w in enumerate(weights):
        d = pred[:, 2 * i:2 * i + 2] - target[:, 2 * i:2 * i + 2]
        epe = torch.sqrt((d * d).sum(1, keepdim=True) + eps * eps)
        total = total + (w * epe).mean(dim=(1, 2, 3))  # (B,)
    if rows is None:
        return total.mean() / 2
    rows = rows.to(total.dtype)
    return (total * rows).sum() / (2 * rows.sum().clamp(min=1.0))
