"""AdvancedFrameInterpolationNet: the quality model, a multi-scale encoder-decoder on top of the light net's flows.

Published nets get their gains after the flow estimate (RIFE's ContextNet + UNet, EMA-VFI's and UPR-Net's
synthesis, AMT's refinement): good intermediate flows first, then a network that sees features of both frames
aligned at t and decides how to fuse and correct them. This net is built that way:

1. **Flows**: the light net's coarse-to-fine RIFE-style blocks (:class:`FrameInterpolationNet`, ``block="rife"``,
   started from the shipped default's weights) give the intermediate flows F_t->0, F_t->1 and a fusion mask.
2. **Context encoder**: a shared encoder of residual blocks extracts features of each frame at 1/2, 1/4 and 1/8;
   each is backward-warped to t with that scale's flows.
3. **Cross-frame attention**: at 1/8, windowed multi-head attention lets each frame's warped features attend to
   the other's (plain then shifted windows), so misaligned or occluded regions find their match.
4. **U-Net decoder**: from the frames, warps, flows and masks (pooled to 1/2) down to 1/8 and back, with skips of
   the warped context at every scale, it predicts a correction of the fusion mask's logit and an RGB residual
   (at 1/2, brought to full resolution by a pixel shuffle).
5. **Two passes** (``passes=2``, the recipe's): the flows are also estimated on the mirrored pair, in the same batch;
   the decoder sees both candidates and predicts per pixel how to mix their blends. At its start this is the light
   net's mirrored test-time augmentation (+0.11 dB over one pass on the held-out clips); the decoder learns where
   one candidate is right and the other wrong.

With ``out_gain=0`` the decoder's output layer starts at zero and the untrained net computes exactly the light
net's frame (``passes=1``; tested) or the mean of its frames on the pair and the mirrored pair (``passes=2``); the default, 0.1, starts with a small residual, because through a zero layer the decoder's
body gets almost no gradient and does not learn. With ``train_flow=False`` (the default) the flow blocks stay as
loaded and run without gradients: training costs the decoder's share only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framegen.models.flow_net import FrameInterpolationNet
from framegen.models.layers import (
    InterpolationOutput,
    ResBlock,
    backward_warp,
    blend,
    compute_dtype,
    conv,
    crop_to,
    prepare_inputs,
    resize_flow,
    time_plane,
)
from framegen.models.registry import register

# the light default's architecture (conf/model/flow_rife.yaml without the refinement U-Net)
DEFAULT_FLOW: dict[str, Any] = {
    "block": "rife", "widths": [192, 128, 96, 64, 32], "scales": [16, 8, 4, 2, 1], "num_layers": 8,
    "feature_channels": 4, "refine_width": 0,
}


class ContextEncoder(nn.Module):
    """(B, 3, H, W) -> features at 1/2 (c), 1/4 (2c) and 1/8 (4c); H, W multiples of 8. Computes in its weights'
    dtype, returns float32."""

    low_precision_safe = True

    def __init__(self, *, width: int, blocks: int) -> None:
        super().__init__()
        c1, c2, c3 = width, 2 * width, 4 * width
        self.level1 = nn.Sequential(conv(3, c1, stride=2), *[ResBlock(c1) for _ in range(max(1, blocks - 1))])
        self.level2 = nn.Sequential(conv(c1, c2, stride=2), *[ResBlock(c2) for _ in range(blocks)])
        self.level3 = nn.Sequential(conv(c2, c3, stride=2), *[ResBlock(c3) for _ in range(blocks)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f1 = self.level1(x.to(compute_dtype(self)))
        f2 = self.level2(f1)
        return f1.float(), f2.float(), self.level3(f2).float()


class WindowCrossAttention(nn.Module):
    """Multi-head attention from features ``a`` to features ``b`` inside non-overlapping windows.

    a, b: (B, C, H, W) of equal shapes (any H, W: padded inside to multiples of ``window``). Returns (B, C, H, W) =
    a + attention + MLP. ``shift`` rolls both maps by half a window first (Swin-style), so the windows of successive
    layers overlap. Computes in its weights' dtype, returns float32.
    """

    low_precision_safe = True

    def __init__(self, *, dim: int, heads: int, window: int, shift: bool, mlp_ratio: float = 2.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads, self.window, self.shift = heads, window, shift
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim)
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def _windows(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        s = self.window
        x = x.view(b, c, h // s, s, w // s, s).permute(0, 2, 4, 3, 5, 1)
        return x.reshape(-1, s * s, c)

    def _unwindows(self, x: Tensor, shape: torch.Size) -> Tensor:
        b, c, h, w = shape
        s = self.window
        x = x.view(b, h // s, w // s, s, s, c).permute(0, 5, 1, 3, 2, 4)
        return x.reshape(b, c, h, w)

    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        if a.shape != b.shape:
            raise ValueError(f"a and b must have equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
        h, w = a.shape[-2:]
        s = self.window
        a, b = a.to(compute_dtype(self)), b.to(compute_dtype(self))
        ph, pw = (-h) % s, (-w) % s
        if ph or pw:
            a, b = (F.pad(x, (0, pw, 0, ph), mode="replicate") for x in (a, b))
        shape = a.shape
        if self.shift:
            a = torch.roll(a, (-s // 2, -s // 2), dims=(2, 3))
            b = torch.roll(b, (-s // 2, -s // 2), dims=(2, 3))
        qa, kb = self._windows(a), self._windows(b)  # (N, S, C)
        n, length, c = qa.shape
        d = c // self.heads
        q = self.q(self.norm_q(qa)).view(n, length, self.heads, d).transpose(1, 2)
        k, v = self.kv(self.norm_kv(kb)).view(n, length, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, length, c)
        x = qa + self.proj(att)
        x = x + self.mlp(x)
        out = self._unwindows(x, shape)
        if self.shift:
            out = torch.roll(out, (s // 2, s // 2), dims=(2, 3))
        return out[..., :h, :w].float()


class Decoder(nn.Module):
    """A U-Net over the fused state at 1/2, 1/4 and 1/8 with the warped context as skips.

    ``forward(state, ctx)``: state (B, in_channels, H/2, W/2), the frames, warps, flows and masks pooled to 1/2; ctx
    the warped context of both frames at 1/2, 1/4, 1/8 (each (B, 2 x that level's encoder channels, ...)), the 1/8 one
    already mixed by attention. Returns (B, out_channels, H, W): its last layer works at 1/2 and a pixel shuffle
    brings it to full resolution, so nothing of the decoder's runs on full-resolution feature maps (the output layer
    starts at ``out_gain`` times the default initialisation). Computes in its weights' dtype, returns float32.
    """

    low_precision_safe = True

    def __init__(self, *, in_channels: int, out_channels: int, width: int, blocks: int, out_gain: float = 0.0) -> None:
        super().__init__()
        e1, e2, e3 = 2 * width, 4 * width, 8 * width  # both frames' context per level
        d1, d2, d3 = 2 * width, 4 * width, 8 * width
        self.inp = conv(in_channels, d1)  # at 1/2
        self.down2 = conv(d1 + e1, d2, stride=2)  # -> 1/4
        self.down3 = conv(d2 + e2, d3, stride=2)  # -> 1/8
        self.bottleneck = nn.Sequential(conv(d3 + e3, d3), *[ResBlock(d3) for _ in range(blocks)])
        self.up3 = nn.Sequential(nn.ConvTranspose2d(d3, d2, 4, stride=2, padding=1), nn.PReLU(d2))  # -> 1/4
        self.fuse2 = nn.Sequential(conv(2 * d2, d2), ResBlock(d2))
        self.up2 = nn.Sequential(nn.ConvTranspose2d(d2, d1, 4, stride=2, padding=1), nn.PReLU(d1))  # -> 1/2
        self.fuse1 = nn.Sequential(conv(2 * d1, d1), ResBlock(d1))
        self.out = nn.Conv2d(d1, 4 * out_channels, 3, padding=1)  # -> pixel shuffle -> 1/1
        with torch.no_grad():  # PyTorch's default initialisation scaled by out_gain (0: exactly zero)
            self.out.weight.mul_(out_gain)
        nn.init.zeros_(self.out.bias)

    def forward(self, state: Tensor, ctx: Sequence[Tensor]) -> Tensor:
        c1, c2, c3 = (c.to(compute_dtype(self)) for c in ctx)
        s1 = self.inp(state.to(compute_dtype(self)))
        s2 = self.down2(torch.cat((s1, c1), dim=1))
        s3 = self.down3(torch.cat((s2, c2), dim=1))
        x = self.bottleneck(torch.cat((s3, c3), dim=1))
        x = self.fuse2(torch.cat((self.up3(x), s2), dim=1))
        x = self.fuse1(torch.cat((self.up2(x), s1), dim=1))
        return F.pixel_shuffle(self.out(x), 2).float()


def mirror_flows(flows: Tensor) -> Tensor:
    """Flows (B, 2k, H, W) estimated on horizontally mirrored frames, brought back to the frames' orientation: the
    maps mirrored back and the x components negated."""
    sign = torch.ones(flows.shape[1], device=flows.device, dtype=flows.dtype)
    sign[0::2] = -1.0
    return flows.flip(-1) * sign.view(1, -1, 1, 1)


@register("advanced")
class AdvancedFrameInterpolationNet(nn.Module):
    """The quality net: ``net(img0, img1, t, *, scale=1.0) -> InterpolationOutput``.

    Args:
        hidden_dim: context width at 1/2 (1/4 and 1/8 have 2x and 4x that); the decoder's widths follow it.
        num_layers: residual blocks per context level and in the decoder's bottleneck.
        heads, window, attention_layers: windowed cross-frame attention at 1/8 (window in 1/8-scale pixels).
        flow: keyword arguments of the :class:`FrameInterpolationNet` that estimates the flows (default: the
            shipped light model's architecture, so ``init_from=default`` loads its weights into ``flow.``).
        passes: 1 = one flow estimate; 2 = also one on the horizontally mirrored pair (one batched call), mirrored
            back. The decoder then sees both candidates (their warps, flows and masks) and predicts, per pixel, how
            to mix their two blends (plus a mask correction for each and the residual); at its zero start the mix is
            half and half, the light net's mirrored test-time augmentation (``tta=true``).
        train_flow: also train the flow blocks (False: they keep their weights and run without gradients).
        out_gain: the decoder's output layer starts at PyTorch's default initialisation times this. 0 makes the
            untrained net give exactly the flow net's frames (``passes=1``) or their mirrored average
            (``passes=2``), but then the decoder hardly learns: its body's gradients pass through the zero layer
            (about 1e-9, under Adam's eps, after 1,000 steps of session 6's run); 0.1 starts with a small residual
            that training removes first.

    Inputs of any size: img0, img1 (B, 3, H, W) in [0, 1] (padded inside to ``pad_multiple(scale)``, outputs cropped
    back); t a float or (B,) in [0, 1]; ``scale`` < 1 estimates the flows at that fraction of the resolution.
    Returns frame (B, 3, H, W), flows (B, 4, H, W) (with two passes, their mean), mask (B, 1, H, W) (the weight of
    img0's warp in the frame).
    """

    def __init__(self, *, hidden_dim: int = 8, num_layers: int = 2, heads: int = 4, window: int = 8,
                 attention_layers: int = 2, flow: dict[str, Any] | None = None, passes: int = 2,
                 train_flow: bool = False, out_gain: float = 0.1) -> None:
        super().__init__()
        if hidden_dim < 4 or (4 * hidden_dim) % heads:
            raise ValueError(f"hidden_dim must be >= 4 with 4 x hidden_dim divisible by heads ({heads}), got {hidden_dim}")
        if passes not in (1, 2):
            raise ValueError(f"passes must be 1 or 2 (2: also the mirrored pair), got {passes}")
        self.flow = FrameInterpolationNet(**dict(DEFAULT_FLOW if flow is None else flow))
        if self.flow.refine is not None:
            raise ValueError("the flow net of the advanced net has no refinement U-Net of its own: set refine_width: 0")
        self.passes = passes
        self.train_flow = bool(train_flow)
        self.flow.requires_grad_(self.train_flow)
        self.context = ContextEncoder(width=hidden_dim, blocks=num_layers)
        self.attention = nn.ModuleList(
            WindowCrossAttention(dim=4 * hidden_dim, heads=heads, window=window, shift=bool(i % 2))
            for i in range(attention_layers)
        )
        # state: img0, img1, per pass (2 warps, 4 flows, 1 mask logit), t; output: per pass a mask-logit correction,
        # with two passes their mix logit, and the RGB residual
        self.decoder = Decoder(in_channels=7 + 11 * passes, out_channels=3 + passes + (passes - 1), width=hidden_dim,
                               blocks=num_layers, out_gain=out_gain)

    def pad_multiple(self, scale: float = 1.0) -> int:
        """H and W are padded to a multiple of this: the flow net's (so its flows equal the light net's), at least 8
        (the decoder's three halvings below 1/1)."""
        return max(8, self.flow.pad_multiple(scale))

    def _candidates(self, x0: Tensor, x1: Tensor, tmap: Tensor, scale: float) -> list[tuple[Tensor, Tensor]]:
        """(flows, mask logit) per pass; the mirrored pass runs in the same batch as the first."""
        with torch.set_grad_enabled(self.train_flow and torch.is_grad_enabled()):
            if self.passes == 1:
                return [self.flow.estimate(x0, x1, tmap, scale=scale)]
            flows, logit = self.flow.estimate(torch.cat((x0, x0.flip(-1))), torch.cat((x1, x1.flip(-1))),
                                              torch.cat((tmap, tmap)), scale=scale)
        (fa, fb), (la, lb) = flows.chunk(2), logit.chunk(2)
        return [(fa, la), (mirror_flows(fb), lb.flip(-1))]

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5, *, scale: float = 1.0) -> InterpolationOutput:
        x0, x1, tmap, size = prepare_inputs(img0, img1, t, self.pad_multiple(scale))
        cands = self._candidates(x0, x1, tmap, scale)
        warps = [(backward_warp(x0, f[:, :2]), backward_warp(x1, f[:, 2:])) for f, _ in cands]
        flows = sum(f for f, _ in cands) / len(cands)
        parts = [x0, x1] + [x for (f, m), w in zip(cands, warps) for x in (*w, f, m)] + [time_plane(tmap, x0)]
        state = torch.cat([F.avg_pool2d(x, 2) for x in parts], dim=1)  # the decoder starts at 1/2

        feats = self.context(torch.cat((x0, x1), dim=0))  # both frames in one pass
        ctx = []
        for f in feats:
            f0, f1 = f.chunk(2, dim=0)
            fl = resize_flow(flows, f.shape[-2:])
            ctx.append((backward_warp(f0, fl[:, :2]), backward_warp(f1, fl[:, 2:])))
        a, c = ctx[-1]
        for layer in self.attention:
            a, c = layer(a, c), layer(c, a)
        ctx[-1] = (a, c)
        out = self.decoder(state, [torch.cat(pair, dim=1) for pair in ctx])

        blends = [blend(w0, w1, m + out[:, i:i + 1]) for i, ((_, m), (w0, w1)) in enumerate(zip(cands, warps))]
        if self.passes == 1:
            (merged, mask), = blends
        else:
            mix = torch.sigmoid(out[:, 2:3])
            merged = mix * blends[0][0] + (1.0 - mix) * blends[1][0]
            mask = mix * blends[0][1] + (1.0 - mix) * blends[1][1]
        frame = (merged + torch.tanh(out[:, -3:])).clamp(0.0, 1.0)
        return InterpolationOutput(crop_to(frame, size), crop_to(flows, size), crop_to(mask, size))
