"""The interpolation nets and their registry (:mod:`framegen.models.registry`; each net registers itself).

Every net has the one interface ``net(img0, img1, t) -> InterpolationOutput(frame, flows, mask)``.
"""

from __future__ import annotations

from torch import nn

# importing each model module registers its nets (``@register`` where each is defined)
from framegen.models.advanced_net import AdvancedFrameInterpolationNet
from framegen.models.classical import AverageNet, DISFlowNet, RepeatNet
from framegen.models.flow_net import FrameInterpolationNet
from framegen.models.layers import InterpolationOutput, backward_warp
from framegen.models.registry import available, build_net, normalize_arch, register
from framegen.models.rife import RIFE425


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


__all__ = [
    "RIFE425",
    "AdvancedFrameInterpolationNet",
    "AverageNet",
    "DISFlowNet",
    "FrameInterpolationNet",
    "InterpolationOutput",
    "RepeatNet",
    "available",
    "backward_warp",
    "build_net",
    "count_parameters",
    "normalize_arch",
    "register",
]
