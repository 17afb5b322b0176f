"""A classical interpolator on the one interface: OpenCV's DIS optical flow (no learning).

``DISFlowNet`` estimates the flows 0->1 and 1->0 with DIS (preset medium) on the grey frames, turns them into the
intermediate flows under linear motion (Super SloMo's approximation), warps both frames backward and blends them by
time. It has no parameters and runs on the CPU (inputs on another device are copied); evaluation's ``dis`` baseline
and the video tool's ``method=dis`` are this module.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch import Tensor, nn

from framegen.image_tensor import to_image
from framegen.models.layers import (
    InterpolationOutput,
    backward_warp,
    check_pair,
    check_scale,
    resize,
    resize_flow,
    time_map,
)
from framegen.models.registry import register

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def _grey_u8(img: Tensor) -> np.ndarray:
    """(3, H, W) float in [0, 1] -> (H, W) uint8 grey, as cv2.cvtColor(RGB2GRAY) of the 8-bit image."""
    return cv2.cvtColor(to_image(img), cv2.COLOR_RGB2GRAY)


# classical optical flow, no weights (a baseline and the video tool's method=dis)
@register("dis")
class DISFlowNet(nn.Module):
    """``net(img0, img1, t, *, scale=1.0) -> InterpolationOutput`` with OpenCV DIS flow; ``preset``: ultrafast, fast
    or medium. ``scale`` < 1 estimates the flow on frames resized by that fraction (faster on large frames); the
    frames are warped at full resolution."""

    def __init__(self, *, preset: str = "medium") -> None:
        super().__init__()
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {preset!r}")
        self.preset = preset

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        check_pair(img0, img1)
        check_scale(scale)
        b, _, h, w = img0.shape
        tt = time_map(t, b, like=img0.float())
        small = (max(8, round(h * scale)), max(8, round(w * scale)))
        a, c = (img0, img1) if scale == 1.0 else (resize(img0.float(), small), resize(img1.float(), small))
        flows = []
        for i in range(b):
            dis = cv2.DISOpticalFlow_create(PRESETS[self.preset])
            g0, g1 = _grey_u8(a[i]), _grey_u8(c[i])
            f01 = torch.from_numpy(dis.calc(g0, g1, None)).permute(2, 0, 1)
            f10 = torch.from_numpy(dis.calc(g1, g0, None)).permute(2, 0, 1)
            flows.append(torch.cat((f01, f10)))
        f = torch.stack(flows).to(img0.device, torch.float32)
        if scale != 1.0:
            f = resize_flow(f, (h, w))
        f01, f10 = f[:, :2], f[:, 2:]
        ft0 = -(1 - tt) * tt * f01 + tt * tt * f10
        ft1 = (1 - tt) ** 2 * f01 - tt * (1 - tt) * f10
        w0, w1 = backward_warp(img0.float(), ft0), backward_warp(img1.float(), ft1)
        frame = ((1 - tt) * w0 + tt * w1).clamp(0, 1)
        mask = (1 - tt).expand(b, 1, *img0.shape[-2:])
        return InterpolationOutput(frame, torch.cat((ft0, ft1), 1), mask)


# no motion at all: baselines, and the video tool's method=average / method=repeat
@register("average")
class AverageNet(nn.Module):
    """The time-weighted blend of the two frames, ``(1 - t) img0 + t img1`` (no motion): a baseline. ``scale`` is
    accepted as by every net and changes nothing (there is no motion to estimate)."""

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        check_pair(img0, img1)
        check_scale(scale)
        tt = time_map(t, img0.shape[0], like=img0)
        b, _, h, w = img0.shape
        return InterpolationOutput((1 - tt) * img0 + tt * img1, img0.new_zeros(b, 4, h, w), (1 - tt).expand(b, 1, h, w))


@register("repeat")
class RepeatNet(nn.Module):
    """The first frame again (frame repetition, what a player does without interpolation): a baseline. ``scale`` is
    accepted as by every net and changes nothing."""

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        check_pair(img0, img1)
        check_scale(scale)
        b, _, h, w = img0.shape
        return InterpolationOutput(img0.clone(), img0.new_zeros(b, 4, h, w), img0.new_ones(b, 1, h, w))
