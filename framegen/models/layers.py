"""Building blocks shared by the interpolation nets: the output structure, input checks,
padding, backward warping and small convolution blocks.

Nothing here keeps state between calls: sampling grids are built per call from the input's
shape, device and dtype.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InterpolationOutput(NamedTuple):
    """What every framegen net returns.

    frame: (B, 3, H, W) the interpolated frame at time t, in [0, 1].
    flows: (B, 4, H, W) intermediate flows in pixels, channels 0-1 = F_t->0, 2-3 = F_t->1 (x, y).
    mask:  (B, 1, H, W) fusion weight of the frame warped from img0, in [0, 1].
    """

    frame: Tensor
    flows: Tensor
    mask: Tensor


def check_scale(scale: float) -> None:
    """Raise a ValueError unless the flow ``scale`` of the one interface is in (0, 1]."""
    if not 0 < scale <= 1:
        raise ValueError(f"scale must be in (0, 1], got {scale}")


def check_pair(img0: Tensor, img1: Tensor) -> None:
    """Raise a ValueError unless img0 and img1 are both (B, 3, H, W) with equal shapes."""
    for name, img in (("img0", img0), ("img1", img1)):
        if not isinstance(img, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(img).__name__}")
        if img.ndim != 4 or img.shape[1] != 3:
            raise ValueError(f"{name} must have shape (B, 3, H, W), got {tuple(img.shape)}")
    if img0.shape != img1.shape:
        raise ValueError(
            f"img0 and img1 must have the same shape, got {tuple(img0.shape)} and {tuple(img1.shape)}"
        )


def time_map(t: Tensor | float, batch: int, *, like: Tensor) -> Tensor:
    """Turn t (a float, (B,), (B, 1) or (B, 1, 1, 1)) into a (B, 1, 1, 1) tensor like ``like``."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.numel() not in (1, batch):
        raise ValueError(f"t must be a scalar or hold one value per sample ({batch}), got shape {tuple(t.shape)}")
    # one code path for both cases, so traced/exported graphs work for any batch size
    return t.reshape(-1, 1, 1, 1).expand(batch, 1, 1, 1)


def time_plane(tmap: Tensor, like: Tensor) -> Tensor:
    """t (B, 1, 1, 1) as a (B, 1, h, w) plane of ``like``'s size and memory layout, so that concatenating it with
    channels-last tensors keeps them channels-last (an expanded view would turn the result contiguous, and the next
    convolution would copy the whole state back)."""
    b, _, h, w = like.shape
    plane = tmap.expand(b, 1, h, w)
    if like.is_contiguous(memory_format=torch.channels_last) and not like.is_contiguous():
        return plane.contiguous(memory_format=torch.channels_last)
    return plane


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Replicate-pad (B, C, H, W) on the bottom/right so H and W are multiples of ``multiple``.

    Returns the padded tensor and the original (H, W) for :func:`crop_to`.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="replicate")
    return x, (h, w)


def crop_to(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop (B, C, H', W') back to the (H, W) given by :func:`pad_to_multiple`."""
    return x[..., : size[0], : size[1]]


def prepare_inputs(img0: Tensor, img1: Tensor, t: Tensor | float, multiple: int) -> tuple[Tensor, Tensor, Tensor, tuple[int, int]]:
    """The nets' common preamble: check the pair, turn t into (B, 1, 1, 1), pad both images to ``multiple``.

    Returns (padded img0, padded img1, t map, original (H, W) for :func:`crop_to`).
    """
    check_pair(img0, img1)
    tmap = time_map(t, img0.shape[0], like=img0)
    x0, size = pad_to_multiple(img0, multiple)
    x1, _ = pad_to_multiple(img1, multiple)
    return x0, x1, tmap, size


def backward_warp(img: Tensor, flow: Tensor) -> Tensor:
    """Sample ``img`` at ``p + flow(p)`` for every pixel p (backward warping).

    img:  (B, C, H, W)
    flow: (B, 2, H, W) in pixels, channel 0 = x, channel 1 = y.
    Returns (B, C, H, W). A zero flow gives ``img`` back and an integer flow shifts it exactly
    (bilinear sampling at pixel centres, ``align_corners=True``); outside samples repeat the border.
    """
    if flow.ndim != 4 or flow.shape[1] != 2 or flow.shape[-2:] != img.shape[-2:] or flow.shape[0] != img.shape[0]:
        raise ValueError(
            f"flow must have shape {(img.shape[0], 2, *img.shape[-2:])} to warp img {tuple(img.shape)}, "
            f"got {tuple(flow.shape)}"
        )
    h, w = img.shape[-2:]
    ys = torch.arange(h, device=img.device, dtype=flow.dtype)
    xs = torch.arange(w, device=img.device, dtype=flow.dtype)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    # (p + flow) in pixels -> [-1, 1]: one stack, then one multiply and one subtract in place (the grid is as large as
    # the frame: every pass over it costs as much as a small convolution)
    grid = torch.stack((gx.unsqueeze(0) + flow[:, 0], gy.unsqueeze(0) + flow[:, 1]), dim=-1)
    scale = torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=img.device, dtype=flow.dtype)
    grid = grid.mul_(scale).sub_(1.0)
    return F.grid_sample(img, grid.to(img.dtype), mode="bilinear", padding_mode="border", align_corners=True)


def memory_format(device: torch.device, channels_last: bool | None = None) -> torch.memory_format:
    """The layout to run a net in: channels-last when asked, or (None) on the CPU, where oneDNN's convolutions run
    15-25 % faster so (docs/benchmarks.md); the default layout elsewhere."""
    if channels_last is None:
        channels_last = device.type == "cpu"
    return torch.channels_last if channels_last else torch.contiguous_format


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of (B, C, H, W) to ``size`` (no-op when already that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def resize_flow(flow: Tensor, size: tuple[int, int]) -> Tensor:
    """Resize a (B, 2k, H, W) pixel flow field to ``size`` and rescale its vectors to match."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    sx, sy = size[1] / w, size[0] / h
    scale = torch.tensor([sx, sy], device=flow.device, dtype=flow.dtype).repeat(flow.shape[1] // 2)
    return out * scale.view(1, -1, 1, 1)


def conv(in_ch: int, out_ch: int, *, kernel_size: int = 3, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """Conv2d + PReLU with 'same' padding (for stride 1)."""
    padding = dilation * (kernel_size // 2)
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, kernel_size, stride=stride, padding=padding, dilation=dilation),
        nn.PReLU(out_ch),
    )


class ResBlock(nn.Module):
    """Two 3x3 convs with a residual connection: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int, *, dropout: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act1 = nn.PReLU(channels)
        self.drop = nn.Dropout2d(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.act2 = nn.PReLU(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.act2(x + self.conv2(self.drop(self.act1(self.conv1(x)))))


def fuse(img0: Tensor, img1: Tensor, flows: Tensor, mask_logit: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Warp both frames with the intermediate flows and blend them.

    Returns (merged, warped0, warped1, mask) with mask = sigmoid(mask_logit), merged = mask * w0 + (1 - mask) * w1.
    """
    warped0 = backward_warp(img0, flows[:, 0:2])
    warped1 = backward_warp(img1, flows[:, 2:4])
    merged, mask = blend(warped0, warped1, mask_logit)
    return merged, warped0, warped1, mask


def blend(warped0: Tensor, warped1: Tensor, mask_logit: Tensor) -> tuple[Tensor, Tensor]:
    """The fusion of two warped frames: (mask * warped0 + (1 - mask) * warped1, mask) with mask = sigmoid(logit)."""
    mask = torch.sigmoid(mask_logit)
    return mask * warped0 + (1.0 - mask) * warped1, mask


# ------------------------------------------------------------------ RIFE v4-style blocks (shared by rife.py and
# flow_net.py's block="rife"), written from the description of Practical-RIFE v4.25's IFNet

# an IFBlock's output after the pixel shuffle: flows (4), mask logit (1), context (8) for the next block
IF_OUT_CHANNELS = 13
CONTEXT_CHANNELS = IF_OUT_CHANNELS - 5


def ifblock_in_channels(*, feature_channels: int, first: bool) -> int:
    """Channels of an IFBlock's state: the first block sees both frames, both feature maps and t; later ones the
    warped frames and features, t, the mask logit, the context and the current flows."""
    base = 3 + 3 + 2 * feature_channels + 1
    return base if first else base + 1 + CONTEXT_CHANNELS + 4


def _conv_lrelu(in_ch: int, out_ch: int, *, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, 3, stride, 1), nn.LeakyReLU(0.2))


def place_precision(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Run the net's convolution blocks in ``dtype`` (bf16 uses the CPU's AMX / AVX-512 BF16 units), in place.

    Only modules that declare ``low_precision_safe = True`` are converted: they cast their input to their weights'
    dtype and hand float32 back, so flows, sampling grids, warping and the blend stay float32 (a bf16 grid moves a
    sample by up to a pixel at 720p: autocast around the whole net costs 13+ dB). Returns ``net``.
    """
    for m in net.modules():
        if getattr(m, "low_precision_safe", False):
            m.to(dtype)
    return net


def compute_dtype(module: nn.Module) -> torch.dtype:
    """The dtype a low-precision-safe block computes in: that of its weights."""
    return next(module.parameters()).dtype


class FeatureEncoder(nn.Module):
    """(B, 3, H, W) -> (B, feature_channels, H, W): two 3x3 convs at 1/2, then a transposed conv back to full size.
    Computes in its weights' dtype (:func:`place_precision`), returns float32."""

    low_precision_safe = True

    def __init__(self, *, width: int = 16, feature_channels: int = 4) -> None:
        super().__init__()
        self.conv0 = nn.Conv2d(3, width, 3, 2, 1)
        self.conv1 = nn.Conv2d(width, width, 3, 1, 1)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1)
        self.conv3 = nn.ConvTranspose2d(width, feature_channels, 4, 2, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        x = self.act(self.conv0(x.to(compute_dtype(self))))
        x = self.act(self.conv1(x))
        x = self.act(self.conv2(x))
        return self.conv3(x).float()


class ScaledResidual(nn.Module):
    """``lrelu(x + beta * conv3x3(x))`` with a learned per-channel ``beta``: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, channels, 1, 1))
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        # beta folded into the convolution (conv(x) * beta = conv with beta-scaled weights and bias): one pass over
        # the feature map less; without autograd the residual and activation run in place
        beta = self.beta.reshape(-1)
        c = self.conv
        y = F.conv2d(x, c.weight * beta.reshape(-1, 1, 1, 1), c.bias * beta, c.stride, c.padding, c.dilation)
        if torch.is_grad_enabled():
            return self.act(y + x)
        return F.leaky_relu_(y.add_(x), 0.2)


class IFBlock(nn.Module):
    """One RIFE v4 coarse-to-fine step. :meth:`estimate` maps a (B, in_channels, h, w) state (h, w multiples of 4)
    to (B, 13, h, w): flow updates (4, in that resolution's pixels), mask logit (1), context (8); inside it works
    at (h/4, w/4).

    ``forward`` is the published net's use: the state given at full resolution (H, W) is brought to H/scale first,
    ``flows`` (B, 4, H, W), when given, appended there in that scale's pixels, and the outputs brought back to
    (H, W): flows (B, 4, H, W) in full-resolution pixels, mask logit (B, 1, H, W), context (B, 8, H, W).

    Computes in its weights' dtype (:func:`place_precision`) and returns float32.
    """

    low_precision_safe = True

    def __init__(self, *, in_channels: int, width: int, num_layers: int = 8) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_lrelu(in_channels, width // 2, stride=2), _conv_lrelu(width // 2, width, stride=2))
        self.body = nn.Sequential(*[ScaledResidual(width) for _ in range(num_layers)])
        self.head = nn.Sequential(nn.ConvTranspose2d(width, 4 * IF_OUT_CHANNELS, 4, 2, 1), nn.PixelShuffle(2))

    def estimate(self, state: Tensor, *, context: bool = True) -> Tensor:
        """(B, in_channels, h, w) -> (B, 13, h, w); ``context=False`` computes only the flows and mask logit
        (B, 5, h, w), as the last block needs (the same values, the head's transposed conv on 20 of its 52 maps)."""
        x = self.body(self.stem(state.to(compute_dtype(self))))
        if context:
            return self.head(x).float()
        up = self.head[0]
        n = 4 * (IF_OUT_CHANNELS - CONTEXT_CHANNELS)
        x = F.conv_transpose2d(x, up.weight[:, :n], up.bias[:n], stride=up.stride, padding=up.padding)
        return F.pixel_shuffle(x, 2).float()

    def forward(self, state: Tensor, flows: Tensor | None, *, scale: float) -> tuple[Tensor, Tensor, Tensor]:
        x = F.interpolate(state, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flows is not None:
            f = F.interpolate(flows, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
            x = torch.cat((x, f), dim=1)
        out = F.interpolate(self.estimate(x), scale_factor=scale, mode="bilinear", align_corners=False)
        return out[:, :4] * scale, out[:, 4:5], out[:, 5:]
