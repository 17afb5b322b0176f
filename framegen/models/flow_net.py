"""FrameInterpolationNet: a light, real-time, optical-flow based interpolation net.

Coarse-to-fine: each block looks at the two frames (and at both frames warped with the current estimate) at its
own, coarser scale and updates the intermediate flows F_t->0, F_t->1 and the fusion mask; the frames are then
backward-warped and blended, and a small U-Net adds a residual correction. Every block is conditioned on t by a
constant input channel.

Two kinds of block: ``block="plain"`` (:class:`FlowBlock`: conv + PReLU layers, the state of 18 channels) and
``block="rife"`` (RIFE v4's :class:`~framegen.models.layers.IFBlock`: scaled residual layers, per-frame encoder
features, 8 context channels handed from block to block), which can start from RIFE 4.25's published weights
(:func:`load_rife_weights`). Unlike the published IFNet (``framegen.models.rife``), which builds every block's
state at full resolution and resizes it, every block here builds its state at its own scale: the same
computation up to the order of resizing and warping, at 0.4x the CPU time at 1280x720 (docs/model_card.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from framegen.models.layers import (
    FeatureEncoder,
    IFBlock,
    InterpolationOutput,
    backward_warp,
    conv,
    crop_to,
    fuse,
    ifblock_in_channels,
    prepare_inputs,
    resize,
    resize_flow,
    time_plane,
)
from framegen.models.registry import register

# img0, img1, warped0, warped1 (4 x 3), t (1), mask logit (1), flows (4)
_STATE_CHANNELS = 18
# inputs are padded to at most this multiple (4 x the 1/8 block's factor)
_MAX_PAD = 32
BLOCKS = ("plain", "rife")


def block_size(h: int, w: int, scale: float) -> tuple[int, int]:
    """A block's working size at 1/scale of (h, w), rounded to multiples of 4 (its stem halves twice)."""
    return max(4, 4 * round(h / scale / 4)), max(4, 4 * round(w / scale / 4))


class FlowBlock(nn.Module):
    """One coarse-to-fine step at 1/scale of the input resolution (internally 1/(4 scale)).

    Builds its (B, 18, h, w) state at its own scale (h, w = H/scale, W/scale, rounded to multiples of 4 where
    they are not: the stem halves twice and the head upsamples 4x): both frames, both frames backward-warped with
    the current flows, t, the mask logit and the flows (given at any resolution, e.g. the previous block's).
    Returns the flows and mask logit refined, at (h, w), in that scale's pixels.
    """

    def __init__(self, *, width: int, num_layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            conv(_STATE_CHANNELS, width // 2, stride=2),
            conv(width // 2, width, stride=2),
        )
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers.append(conv(width, width))
            if dropout > 0 and i < num_layers - 1:
                layers.append(nn.Dropout2d(dropout))
        self.body = nn.Sequential(*layers)
        # 4x upsampling back to the block's input scale: transposed conv (2x) + pixel shuffle (2x).
        self.head = nn.Sequential(nn.ConvTranspose2d(width, 5 * 4, 4, stride=2, padding=1), nn.PixelShuffle(2))

    def forward(self, img0: Tensor, img1: Tensor, flows: Tensor, mask_logit: Tensor, t: Tensor, *,
                scale: float) -> tuple[Tensor, Tensor]:
        small = block_size(int(img0.shape[-2]), int(img0.shape[-1]), scale)
        x0, x1 = resize(img0, small), resize(img1, small)
        f, m = resize_flow(flows, small), resize(mask_logit, small)
        state = torch.cat((x0, x1, backward_warp(x0, f[:, :2]), backward_warp(x1, f[:, 2:]),
                           time_plane(t, x0), m, f), dim=1)
        x = self.stem(state)
        x = self.body(x) + x
        out = self.head(x)
        return f + out[:, :4], m + out[:, 4:5]


class RefineNet(nn.Module):
    """A small U-Net that predicts a residual (B, 3, H, W) from the (B, 18, H, W) fused state.

    It works at 1/2, 1/4 and 1/8 resolution and upsamples its output, so its cost is a fraction of a
    full-resolution net's (H and W must be multiples of 8).
    """

    def __init__(self, *, width: int) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 3 * width
        self.enc1 = conv(_STATE_CHANNELS, c1, stride=2)
        self.enc2 = conv(c1, c2, stride=2)
        self.enc3 = nn.Sequential(conv(c2, c3, stride=2), conv(c3, c3))
        self.up3 = nn.Sequential(nn.ConvTranspose2d(c3, c2, 4, stride=2, padding=1), nn.PReLU(c2))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(2 * c2, c1, 4, stride=2, padding=1), nn.PReLU(c1))
        self.out = nn.ConvTranspose2d(2 * c1, 3, 4, stride=2, padding=1)

    def forward(self, state: Tensor) -> Tensor:
        e1 = self.enc1(state)
        e2 = self.enc2(e1)
        d = self.up3(self.enc3(e2))
        d = self.up2(torch.cat((d, e2), dim=1))
        return torch.tanh(self.out(torch.cat((d, e1), dim=1)))


@register("flow")
class FrameInterpolationNet(nn.Module):
    """Light flow-based interpolation: ``net(img0, img1, t) -> InterpolationOutput``.

    Args:
        hidden_dim: width of the finest flow block; coarser blocks are wider (see ``widths``).
        num_layers: 3x3 conv layers in each flow block's body.
        dropout: Dropout2d probability inside the flow blocks (0 = off; plain blocks only).
        scales: downsampling factor of each coarse-to-fine block, coarsest first.
        refine_width: base width of the residual refinement U-Net (0 disables it).
        block: ``"plain"`` (:class:`FlowBlock`) or ``"rife"`` (RIFE v4's IFBlock with encoder features and context).
        widths: the blocks' widths, coarsest first; None derives them from ``hidden_dim``.
        feature_channels: channels of the per-frame encoder features (``block="rife"`` only).
        feature_scale: the frames and their encoder features are taken at 1/feature_scale of the input before the
            blocks resize them to their scales (``block="rife"`` only; at most the finest scale). 1 (the default's
            setting) reads them at full resolution; the fast net, whose finest block is at 1/4, reads them at 1/4,
            which saves most of the full-resolution data movement.

    Inputs of any size: img0, img1 (B, 3, H, W) in [0, 1] are padded inside to ``pad_multiple(scale)`` and the
    outputs cropped back; t is a float or (B,) in [0, 1].
    """

    def __init__(self, *, hidden_dim: int = 48, num_layers: int = 6, dropout: float = 0.0,
                 scales: Sequence[int] = (8, 4, 2, 1), refine_width: int = 16, block: str = "plain",
                 widths: Sequence[int] | None = None, feature_channels: int = 4, feature_scale: int = 1) -> None:
        super().__init__()
        if not 1 <= int(feature_scale) <= min(scales):
            raise ValueError(f"feature_scale must be from 1 to the finest scale {min(scales)}, got {feature_scale}")
        self.feature_scale = int(feature_scale)
        if hidden_dim < 8 or hidden_dim % 4:
            raise ValueError(f"hidden_dim must be a multiple of 4 and >= 8, got {hidden_dim}")
        if block not in BLOCKS:
            raise ValueError(f"block must be one of {', '.join(BLOCKS)}, got {block!r}")
        self.scales = tuple(int(s) for s in scales)
        self.block = block
        n = len(self.scales)
        if widths is None:
            # Coarser blocks see more context and get more channels: hidden_dim * (1 + i/2) from fine to coarse.
            widths = [int(hidden_dim * (1 + 0.5 * (n - 1 - i))) // 4 * 4 for i in range(n)]
        elif len(widths) != n:
            raise ValueError(f"give one width per scale, got widths {list(widths)} and scales {list(scales)}")
        self.widths = tuple(int(w) for w in widths)
        if block == "plain":
            self.encoder = None
            self.blocks = nn.ModuleList(
                FlowBlock(width=w, num_layers=num_layers, dropout=dropout) for w in self.widths
            )
        else:
            self.encoder = FeatureEncoder(feature_channels=feature_channels)
            self.blocks = nn.ModuleList(
                IFBlock(in_channels=ifblock_in_channels(feature_channels=feature_channels, first=i == 0), width=w,
                        num_layers=num_layers)
                for i, w in enumerate(self.widths)
            )
        self.refine = RefineNet(width=refine_width) if refine_width > 0 else None

    def pad_multiple(self, scale: float = 1.0) -> int:
        """The multiple H and W are padded to for a given flow ``scale``: blocks down to 1/8 work at exact fractions
        of the padded input; coarser ones round their own size (so a 1/16 block does not pad 720 rows to 768)."""
        ratios = [s / scale for s in self.scales]
        if any(abs(math.log2(r) - round(math.log2(r))) > 1e-6 for r in ratios):
            raise ValueError(f"scale must make every block scale {self.scales} a power of two, got {scale}")
        return max(8, min(_MAX_PAD, int(round(4 * max(ratios)))))

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        """Interpolate the frame at time t.

        ``scale`` < 1 estimates flow at a lower resolution (for 4K, as RIFE's ``--scale``).
        Returns frame (B, 3, H, W), flows (B, 4, H, W), mask (B, 1, H, W).
        """
        x0, x1, tmap, size = prepare_inputs(img0, img1, t, self.pad_multiple(scale))
        flows, mask_logit = self.estimate(x0, x1, tmap, scale=scale)
        merged, warped0, warped1, mask = fuse(x0, x1, flows, mask_logit)
        frame = merged
        if self.refine is not None:
            state = torch.cat((x0, x1, warped0, warped1, time_plane(tmap, x0), mask, flows), dim=1)
            frame = frame + self.refine(state)
        frame = frame.clamp(0.0, 1.0)
        return InterpolationOutput(crop_to(frame, size), crop_to(flows, size), crop_to(mask, size))

    def estimate(self, x0: Tensor, x1: Tensor, tmap: Tensor, *, scale: float = 1.0) -> tuple[Tensor, Tensor]:
        """The coarse-to-fine flow estimate on padded inputs (x0, x1 (B, 3, H, W), H and W multiples of
        ``pad_multiple(scale)``; tmap (B, 1, 1, 1)): flows (B, 4, H, W) in pixels and the mask logit (B, 1, H, W)."""
        h, w = x0.shape[-2], x0.shape[-1]
        if self.encoder is None:
            flows, mask_logit = self._plain_flows(x0, x1, tmap, scale)
        else:
            flows, mask_logit = self._rife_flows(x0, x1, tmap, scale)
        return resize_flow(flows, (h, w)), resize(mask_logit, (h, w))

    def _plain_flows(self, x0: Tensor, x1: Tensor, tmap: Tensor, scale: float) -> tuple[Tensor, Tensor]:
        # flows and mask start at zero at the coarsest scale and are refined (and upsampled) block by block
        flows = x0.new_zeros(x0.shape[0], 4, 1, 1)
        mask_logit = x0.new_zeros(x0.shape[0], 1, 1, 1)
        for block, s in zip(self.blocks, self.scales):
            flows, mask_logit = block(x0, x1, flows, mask_logit, tmap, scale=s / scale)
        return flows, mask_logit

    def _rife_flows(self, x0: Tensor, x1: Tensor, tmap: Tensor, scale: float) -> tuple[Tensor, Tensor]:
        """RIFE v4's coarse-to-fine loop with each block's state built at its own size: (x0, x1, features, t) for the
        first block; the frames and features warped with the current flows, t, mask logit, context and flows for the
        others. Returns flows (B, 4, h, w) and mask logit (B, 1, h, w) at the finest block's size."""
        h, w = x0.shape[-2:]
        if self.feature_scale / scale > 1:  # the pyramid starts below full resolution
            base = block_size(int(h), int(w), self.feature_scale / scale)
            x0, x1 = resize(x0, base), resize(x1, base)
        # frames and features travel together: one resize and one warp per direction and block
        p0 = torch.cat((x0, self.encoder(x0)), dim=1)
        p1 = torch.cat((x1, self.encoder(x1)), dim=1)
        flows = mask_logit = context = None
        last = len(self.blocks) - 1
        for i, (block, s) in enumerate(zip(self.blocks, self.scales)):
            small = block_size(int(h), int(w), s / scale)
            q0, q1 = resize(p0, small), resize(p1, small)
            ts = time_plane(tmap, q0)
            if flows is None:
                out = block.estimate(torch.cat((q0[:, :3], q1[:, :3], q0[:, 3:], q1[:, 3:], ts), dim=1))
                flows = out[:, :4]
            else:
                flows, mask_logit, context = resize_flow(flows, small), resize(mask_logit, small), resize(context, small)
                w0, w1 = backward_warp(q0, flows[:, :2]), backward_warp(q1, flows[:, 2:])
                state = torch.cat((w0[:, :3], w1[:, :3], w0[:, 3:], w1[:, 3:], ts, mask_logit, context, flows), dim=1)
                out = block.estimate(state, context=i < last)  # nothing follows the last block
                flows = flows + out[:, :4]
            mask_logit, context = out[:, 4:5], out[:, 5:]
        return flows, mask_logit


def load_with_added_scales(net: FrameInterpolationNet, state: dict, *, scales: Sequence[int]) -> list[int]:
    """Load the weights of a flow net with fewer blocks (``scales``, e.g. (8, 4, 2, 1)) into ``net`` (e.g. scales
    (16, 8, 4, 2, 1), same widths per scale): each old block goes to the block of its scale, and the added blocks
    start with a zero head, so they pass zero flows on and ``net`` first computes exactly what the old net did.

    Returns the indices of the added blocks. Raises ValueError when an old scale is missing from ``net``.
    """
    old = [int(x) for x in scales]
    missing = [x for x in old if x not in net.scales]
    if missing:
        raise ValueError(f"scales {missing} of the weights are not among the net's {list(net.scales)}")
    moved = {}
    for key, value in state.items():
        if key.startswith("blocks."):
            i, rest = key[len("blocks."):].split(".", 1)
            key = f"blocks.{net.scales.index(old[int(i)])}.{rest}"
        moved[key] = value
    added = [j for j, x in enumerate(net.scales) if x not in old]
    result = net.load_state_dict(moved, strict=False)
    allowed = tuple(f"blocks.{j}." for j in added)
    if result.unexpected_keys or any(not k.startswith(allowed) for k in result.missing_keys):
        raise ValueError(f"weights do not fit: missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}")
    with torch.no_grad():
        for j in added:
            for p in net.blocks[j].head.parameters():
                p.zero_()
    return added


def load_coarse_blocks(net: FrameInterpolationNet, state: dict, *, scales: Sequence[int]) -> list[int]:
    """Load the weights of a flow net with more, finer blocks (``scales``, e.g. (16, 8, 4, 2, 1)) into ``net``, whose
    scales are its coarsest ones (e.g. (16, 8, 4)): the encoder and those blocks take their weights, the finer blocks
    are left out (a faster net that estimates motion at its finest scale and upsamples it).

    Returns the scales left out. Raises ValueError when ``net``'s scales are not the first of ``scales``.
    """
    old, kept = [int(x) for x in scales], [int(x) for x in net.scales]
    if old[:len(kept)] != kept:
        raise ValueError(f"the net's scales {kept} are not the coarsest of the weights' {old}")
    dropped = tuple(f"blocks.{i}." for i in range(len(kept), len(old)))
    result = net.load_state_dict({k: v for k, v in state.items() if not k.startswith(dropped)}, strict=False)
    if result.unexpected_keys or result.missing_keys:
        raise ValueError(f"weights do not fit: missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}")
    return old[len(kept):]


def load_rife_weights(net: FrameInterpolationNet, state: dict) -> None:
    """Start a ``block="rife"`` flow net from RIFE v4.25's weights (``rife425``'s state dict, e.g. the published
    file converted by :func:`framegen.models.rife.convert_published_state`): the encoder and blocks take them as they
    are, and the refinement U-Net, which RIFE 4.25 lacks, starts with a zero output layer, so the net first computes
    RIFE's flows and blend (with each block's state at its own scale).

    Raises ValueError when the weights do not fit (another width, scale count or block kind).
    """
    if net.block != "rife":
        raise ValueError(f"RIFE's weights need a flow net with block='rife', not block={net.block!r}")
    try:
        result = net.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ValueError(f"RIFE's weights do not fit this flow net: {str(err).splitlines()[-1].strip()}") from None
    if result.unexpected_keys or any(not k.startswith("refine.") for k in result.missing_keys):
        raise ValueError(f"RIFE's weights do not fit: missing {result.missing_keys[:3]}, "
                         f"unexpected {result.unexpected_keys[:3]}")
    if net.refine is not None:
        with torch.no_grad():
            net.refine.out.weight.zero_()
            net.refine.out.bias.zero_()
