"""AdvancedFrameInterpolationNet: a multi-scale encoder-decoder with windowed cross-frame attention.

A shared encoder extracts features of both frames at 1/1, 1/2 and 1/4. At 1/4, windowed
multi-head attention lets each frame's features attend to the other frame's (alternating
plain and shifted windows, so the cost grows linearly with the number of pixels). A U-Net
decoder then estimates the intermediate flows and fusion mask coarse to fine: at each scale it
backward-warps that scale's encoder features (the skip connections) with the current flows and
predicts an update; the finest level also predicts a residual. Every level is conditioned on t.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framegen.models.layers import (
    InterpolationOutput,
    ResBlock,
    backward_warp,
    conv,
    crop_to,
    fuse,
    prepare_inputs,
    resize,
    resize_flow,
)


class Encoder(nn.Module):
    """(B, 3, H, W) -> features at 1/1 (c1), 1/2 (c2) and 1/4 (c3)."""

    def __init__(self, *, channels: tuple[int, int, int], blocks: int, dropout: float = 0.0) -> None:
        super().__init__()
        c1, c2, c3 = channels
        self.level1 = nn.Sequential(conv(3, c1), ResBlock(c1))
        self.level2 = nn.Sequential(conv(c1, c2, stride=2), *[ResBlock(c2, dropout=dropout) for _ in range(blocks)])
        self.level3 = nn.Sequential(conv(c2, c3, stride=2), *[ResBlock(c3, dropout=dropout) for _ in range(blocks)])

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f1 = self.level1(x)
        f2 = self.level2(f1)
        return f1, f2, self.level3(f2)


class WindowCrossAttention(nn.Module):
    """Multi-head attention from features ``a`` to features ``b`` inside non-overlapping windows.

    a, b: (B, C, H, W) with H and W multiples of ``window``. Returns (B, C, H, W) = a + attention + MLP.
    ``shift`` rolls both maps by half a window first (Swin-style), so windows of successive layers overlap.
    """

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
        if a.shape != b.shape or a.shape[-1] % self.window or a.shape[-2] % self.window:
            raise ValueError(
                f"a and b must have equal shapes with H, W multiples of {self.window}, "
                f"got {tuple(a.shape)} and {tuple(b.shape)}"
            )
        shape = a.shape
        if self.shift:
            a = torch.roll(a, (-self.window // 2, -self.window // 2), dims=(2, 3))
            b = torch.roll(b, (-self.window // 2, -self.window // 2), dims=(2, 3))
        qa, kb = self._windows(a), self._windows(b)  # (N, S, C)
        n, s, c = qa.shape
        d = c // self.heads
        q = self.q(self.norm_q(qa)).view(n, s, self.heads, d).transpose(1, 2)
        k, v = self.kv(self.norm_kv(kb)).view(n, s, 2, self.heads, d).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(n, s, c)
        x = qa + self.proj(att)
        x = x + self.mlp(x)
        out = self._unwindows(x, shape)
        if self.shift:
            out = torch.roll(out, (self.window // 2, self.window // 2), dims=(2, 3))
        return out


class DecoderLevel(nn.Module):
    """One decoder scale: (B, in_ch, h, w) -> flow update (B, 4), mask-logit update (B, 1),
    ``extra`` more channels and a feature map (B, width) handed to the next finer level."""

    def __init__(self, *, in_ch: int, width: int, blocks: int, extra: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        self.extra = extra
        self.inp = conv(in_ch, width)
        self.body = nn.Sequential(*[ResBlock(width, dropout=dropout) for _ in range(blocks)])
        self.out = nn.Conv2d(width, 5 + extra, 3, padding=1)
        # Start from zero updates: flows are rescaled up to 8x on the way to full resolution.
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        feat = self.body(self.inp(x))
        out = self.out(feat)
        return out[:, :4], out[:, 4:5], out[:, 5:], feat


class AdvancedFrameInterpolationNet(nn.Module):
    """Encoder-decoder interpolation with cross-frame attention: ``net(img0, img1, t) -> InterpolationOutput``.

    Args:
        hidden_dim: encoder width at full resolution; 1/2 and 1/4 use 2x and 4x that (``channels``).
        num_layers: residual blocks per encoder and decoder level.
        heads, window, attention_layers: windowed cross-attention at 1/4 (window in 1/4-scale pixels).
        dropout: Dropout2d probability in the residual blocks.

    Inputs of any size: img0, img1 (B, 3, H, W) in [0, 1] (padded inside to ``pad_multiple()``, the outputs cropped
    back); t a float or (B,) in [0, 1].
    """

    def __init__(self, *, hidden_dim: int = 32, num_layers: int = 3, heads: int = 4, window: int = 8,
                 attention_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        c1, c2, c3 = hidden_dim, 2 * hidden_dim, 4 * hidden_dim
        self.channels = (c1, c2, c3)
        self.window = window
        self.encoder = Encoder(channels=self.channels, blocks=num_layers, dropout=dropout)
        self.attention = nn.ModuleList(
            WindowCrossAttention(dim=c3, heads=heads, window=window, shift=bool(i % 2))
            for i in range(attention_layers)
        )
        # Decoder widths: wide where pixels are few, thin at full resolution (where most FLOPs go).
        d3, d2, d1 = 2 * c3, c2, c1
        # Coarsest level works at 1/8 internally (stride-2 in, 2x up out) for a wider motion range.
        self.down3 = conv(2 * c3 + 1, d3, stride=2)
        self.level3 = DecoderLevel(in_ch=d3, width=d3, blocks=num_layers + 2, dropout=dropout)
        self.squeeze3 = nn.Conv2d(d3, d2, 1)  # thin the coarse features before upsampling them 4x
        # Finer levels: warped skip features of both frames, upsampled decoder features, flows, mask, t.
        self.level2 = DecoderLevel(in_ch=2 * c2 + d2 + 4 + 1 + 1, width=d2, blocks=num_layers, dropout=dropout)
        self.level1 = DecoderLevel(
            in_ch=2 * c1 + 2 * 3 + d2 + 4 + 1 + 1, width=d1, blocks=1, extra=3, dropout=dropout
        )

    def pad_multiple(self) -> int:
        """H and W are padded to a multiple of this (1/4 scale windows, then one more stride 2)."""
        return 4 * self.window * 2

    @staticmethod
    def _refine(level: DecoderLevel, skips: tuple[Tensor, Tensor], flows: Tensor, mask_logit: Tensor, feat: Tensor,
                tmap: Tensor, *, frames: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """One decoder step at the skips' scale: bring flows, mask and features there, warp both skips (and
        ``frames``) with the flows, and add the level's update. Returns (flows, mask logit, features, residual)."""
        a, b = skips
        size = a.shape[-2:]
        flows, mask_logit, feat = resize_flow(flows, size), resize(mask_logit, size), resize(feat, size)
        parts = [backward_warp(a, flows[:, :2]), backward_warp(b, flows[:, 2:])]
        if frames is not None:
            parts += [backward_warp(frames[0], flows[:, :2]), backward_warp(frames[1], flows[:, 2:])]
        parts += [feat, flows, mask_logit, tmap.expand(a.shape[0], 1, *size)]
        d_flow, d_mask, residual, feat = level(torch.cat(parts, dim=1))
        return flows + d_flow, mask_logit + d_mask, feat, residual

    def forward(self, img0: Tensor, img1: Tensor, t: Tensor | float = 0.5) -> InterpolationOutput:
        """Returns frame (B, 3, H, W), flows (B, 4, H, W), mask (B, 1, H, W)."""
        x0, x1, tmap, size = prepare_inputs(img0, img1, t, self.pad_multiple())
        b = x0.shape[0]
        feats = self.encoder(torch.cat((x0, x1), dim=0))  # both frames in one pass
        (a1, b1), (a2, b2), (a3, b3) = (f.chunk(2, dim=0) for f in feats)
        for layer in self.attention:
            a3, b3 = layer(a3, b3), layer(b3, a3)

        h4, w4 = a3.shape[-2:]
        d_flow, d_mask, _, feat = self.level3(self.down3(torch.cat((a3, b3, tmap.expand(b, 1, h4, w4)), dim=1)))
        flows, mask_logit = resize_flow(d_flow, (h4, w4)), resize(d_mask, (h4, w4))
        feat = self.squeeze3(feat)

        flows, mask_logit, feat = self._refine(self.level2, (a2, b2), flows, mask_logit, feat, tmap)[:3]
        flows, mask_logit, _, residual = self._refine(self.level1, (a1, b1), flows, mask_logit, feat, tmap,
                                                       frames=(x0, x1))
        merged, _, _, mask = fuse(x0, x1, flows, mask_logit)
        frame = (merged + torch.tanh(residual)).clamp(0.0, 1.0)
        return InterpolationOutput(crop_to(frame, size), crop_to(flows, size), crop_to(mask, size))
