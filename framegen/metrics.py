"""Image-quality metrics with the field's protocol: predictions are rounded to 8 bits before scoring.

PSNR is averaged over images (not computed on the pooled error), SSIM uses an 11x11 Gaussian
window (sigma 1.5), IE is the mean absolute grey-level difference (0-255), LPIPS is v0.1 alex.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.image import StructuralSimilarityIndexMeasure

from framegen.perceptual import LPIPS, BackboneWeightsNotFound

log = logging.getLogger(__name__)


def quantize(x: Tensor) -> Tensor:
    """Round images in [0, 1] to the nearest 8-bit level (still in [0, 1])."""
    return (x.clamp(0.0, 1.0) * 255.0).round() / 255.0


def interpolation_error(pred: Tensor, target: Tensor) -> Tensor:
    """IE per image: mean |pred - target| in grey levels 0-255 over pixels and channels -> (B,)."""
    return ((quantize(pred) - quantize(target)).abs() * 255.0).flatten(1).mean(1)


# the PSNR of a perfect prediction (zero error), as the evaluation protocol scores it
PSNR_CAP = 100.0


class PSNRMetric(Metric):
    """Mean over images of each image's PSNR (data range 1), a perfect image counting PSNR_CAP dB instead of inf."""

    higher_is_better = True
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        mse = ((preds.double() - target.double()) ** 2).flatten(1).mean(1)
        psnr = torch.where(mse > 0, -10.0 * torch.log10(mse.clamp(min=1e-30)), torch.full_like(mse, PSNR_CAP))
        self.total += psnr.clamp(max=PSNR_CAP).sum()
        self.count += psnr.numel()

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp(min=1)).float()


class LPIPSMetric(Metric):
    """Mean LPIPS distance over all images seen (lower is better)."""

    higher_is_better = False
    full_state_update = False

    def __init__(self, net: str = "alex", **kwargs) -> None:
        super().__init__(**kwargs)
        self.lpips = LPIPS(net)
        self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: Tensor, target: Tensor) -> None:
        with torch.no_grad():
            d = self.lpips(preds.float(), target.float())
        self.total += d.double().sum()
        self.count += d.numel()

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp(min=1)).float()


def build_metrics(*, lpips_net: str | None = "alex") -> MetricCollection:
    """PSNR, SSIM (and LPIPS when its backbone weights are on this machine) as a MetricCollection.

    Feed it ``quantize(pred)`` and the target, both (B, 3, H, W) in [0, 1].
    """
    metrics = {
        "psnr": PSNRMetric(),
        "ssim": StructuralSimilarityIndexMeasure(data_range=1.0, kernel_size=11, sigma=1.5),
    }
    if lpips_net:
        try:
            metrics["lpips"] = LPIPSMetric(lpips_net)
        except BackboneWeightsNotFound as err:
            log.warning("LPIPS metric disabled: %s", err)
    return MetricCollection(metrics)
