"""Visual tools: flow to colour, error maps and image grids (one implementation for the logger,
the video tool's test/demo modes, evaluation galleries and the notebooks)."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def _colour_wheel() -> np.ndarray:
    """The Middlebury colour wheel (55 hues) as (55, 3) floats in [0, 1]."""
    ry, yg, gc, cb, bm, mr = 15, 6, 4, 11, 13, 6
    wheel = []
    wheel += [(1, i / ry, 0) for i in range(ry)]
    wheel += [(1 - i / yg, 1, 0) for i in range(yg)]
    wheel += [(0, 1, i / gc) for i in range(gc)]
    wheel += [(0, 1 - i / cb, 1) for i in range(cb)]
    wheel += [(i / bm, 0, 1) for i in range(bm)]
    wheel += [(1, 0, 1 - i / mr) for i in range(mr)]
    return np.asarray(wheel, dtype=np.float32)


def flow_to_color(flow: Tensor, *, max_norm: float | None = None) -> Tensor:
    """(B, 2, H, W) or (2, H, W) flow -> RGB in [0, 1] of the same leading shape with 3 channels.

    Hue is the direction, saturation the magnitude relative to ``max_norm`` (default: the largest
    magnitude in each image); zero motion is white.
    """
    squeeze = flow.ndim == 3
    if squeeze:
        flow = flow.unsqueeze(0)
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W) or (2, H, W), got {tuple(flow.shape)}")
    wheel = torch.from_numpy(_colour_wheel()).to(flow.device)
    n = wheel.shape[0]
    u, v = flow[:, 0].float(), flow[:, 1].float()
    mag = torch.sqrt(u * u + v * v)
    norm = mag.flatten(1).amax(1).clamp(min=1e-6).view(-1, 1, 1) if max_norm is None else torch.tensor(max_norm)
    rad = (mag / norm).clamp(max=1.0)
    angle = torch.atan2(-v, -u) / math.pi  # (-1, 1]
    fk = (angle + 1) / 2 * (n - 1)
    k0 = fk.floor().long().clamp(0, n - 1)
    k1 = (k0 + 1) % n
    f = (fk - k0).unsqueeze(-1)
    col = (1 - f) * wheel[k0] + f * wheel[k1]  # (B, H, W, 3)
    col = 1 - rad.unsqueeze(-1) * (1 - col)
    out = col.permute(0, 3, 1, 2)
    return out[0] if squeeze else out


def error_map(pred: Tensor, target: Tensor, *, max_error: float = 0.25) -> Tensor:
    """Absolute error (mean over channels) as a heat map (B, 3, H, W) in [0, 1]: black = 0, yellow = max."""
    err = (pred.float() - target.float()).abs().mean(1, keepdim=True) / max_error
    err = err.clamp(0, 1)
    return torch.cat((err.clamp(0, 1) * 2, (err * 2 - 1).clamp(0, 1), torch.zeros_like(err)), dim=1).clamp(0, 1)


def image_grid(rows: list[list[Tensor]], *, pad: int = 2) -> Tensor:
    """Tile a list of rows of (3, H, W) images (same H, W) into one (3, H', W') image with padding."""
    if not rows or not rows[0]:
        raise ValueError("image_grid needs at least one image")
    h, w = rows[0][0].shape[-2:]
    ncol = max(len(r) for r in rows)
    grid = torch.ones(3, len(rows) * (h + pad) + pad, ncol * (w + pad) + pad)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            if img.shape[-2:] != (h, w):
                raise ValueError(f"all images must be {h}x{w}, got {tuple(img.shape[-2:])}")
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            grid[:, y : y + h, x : x + w] = img.detach().float().cpu().clamp(0, 1)
    return grid


def gallery(rows: list[list[Tensor]], *, height: int = 160, pad: int = 2) -> Tensor:
    """Like :func:`image_grid` for images of different sizes: each is resized to ``height`` (aspect kept)
    and rows are padded to the widest."""
    import torch.nn.functional as F

    resized = []
    for row in rows:
        out = []
        for img in row:
            h, w = img.shape[-2:]
            new_w = max(1, round(w * height / h))
            out.append(F.interpolate(img[None].float(), size=(height, new_w), mode="bilinear", align_corners=False)[0])
        resized.append(out)
    widths = [sum(i.shape[-1] + pad for i in row) + pad for row in resized]
    canvas = torch.ones(3, len(rows) * (height + pad) + pad, max(widths))
    for r, row in enumerate(resized):
        x = pad
        for img in row:
            y = pad + r * (height + pad)
            canvas[:, y : y + height, x : x + img.shape[-1]] = img.detach().cpu().clamp(0, 1)
            x += img.shape[-1] + pad
    return canvas


def save_png(img: Tensor, path) -> None:
    """Write a (3, H, W) image in [0, 1] as PNG."""
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR))


def interpolation_sheet(img0: Tensor, img1: Tensor, pred: Tensor, target: Tensor, flows: Tensor, *, max_rows: int = 4) -> Tensor:
    """One row per sample: input 0, input 1, prediction, ground truth, error map, flow t->0, flow t->1."""
    rows = []
    err = error_map(pred, target)
    f0, f1 = flow_to_color(flows[:, :2]), flow_to_color(flows[:, 2:4])
    for i in range(min(max_rows, img0.shape[0])):
        rows.append([img0[i], img1[i], pred[i], target[i], err[i], f0[i], f1[i]])
    return image_grid(rows)


def to_uint8(img: Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (img.detach().float().cpu().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


def label(img: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of an (H, W, 3) uint8 RGB image (a copy)."""
    import cv2

    out = np.ascontiguousarray(img.copy())
    scale = max(0.4, img.shape[0] / 480)
    thick = max(1, round(scale * 2))
    cv2.putText(out, text, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
    cv2.putText(out, text, (8, int(24 * scale)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def side_by_side(images: list[np.ndarray], *, gap: int = 4) -> np.ndarray:
    """(H, W, 3) uint8 images of one height next to each other with white gaps."""
    h = images[0].shape[0]
    parts = []
    for i, img in enumerate(images):
        if img.shape[0] != h:
            raise ValueError(f"side_by_side needs equal heights, got {img.shape[0]} and {h}")
        if i:
            parts.append(np.full((h, gap, 3), 255, np.uint8))
        parts.append(img)
    return np.concatenate(parts, axis=1)


def write_gif(frames: list[np.ndarray], path, *, fps: float, max_width: int = 640) -> None:
    """An endlessly looping GIF of (H, W, 3) uint8 frames, downscaled to ``max_width``."""
    from PIL import Image

    imgs = [Image.fromarray(f) for f in frames]
    if imgs[0].width > max_width:
        size = (max_width, round(imgs[0].height * max_width / imgs[0].width))
        imgs = [im.resize(size, Image.LANCZOS) for im in imgs]
    imgs[0].save(str(path), save_all=True, append_images=imgs[1:], duration=round(1000 / fps), loop=0, optimize=False)
