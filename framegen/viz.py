"""Visual tools: flow to colour, error maps and image grids (one implementation for the logger,
the video tool's test/demo modes, evaluation galleries and the notebooks)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from framegen.image_tensor import to_image, to_tensor
from framegen.media import write_image

to_uint8 = to_image  # (3, H, W) in [0, 1] -> (H, W, 3) uint8: the name the tests and notebooks know


def flow_to_color(flow: Tensor) -> Tensor:
    """(B, 2, H, W) or (2, H, W) flow -> RGB in [0, 1] of the same leading shape with 3 channels: the Middlebury
    colour wheel of ``torchvision.utils.flow_to_image`` (hue = direction, saturation = magnitude relative to the
    largest in each image; zero motion is white)."""
    # lazy: torchvision takes about 1 s to import, and the video tool (which imports this module) needs none
    from torchvision.utils import flow_to_image

    squeeze = flow.ndim == 3
    if squeeze:
        flow = flow.unsqueeze(0)
    if flow.ndim != 4 or flow.shape[1] != 2:
        raise ValueError(f"flow must be (B, 2, H, W) or (2, H, W), got {tuple(flow.shape)}")
    out = torch.stack([flow_to_image(f.detach().float().cpu()) for f in flow]).float() / 255.0
    return out[0] if squeeze else out


def error_map(pred: Tensor, target: Tensor, *, max_error: float = 0.25) -> Tensor:
    """Absolute error (mean over channels) as a heat map (B, 3, H, W) in [0, 1]: black = 0, yellow = max."""
    err = (pred.float() - target.float()).abs().mean(1, keepdim=True) / max_error
    err = err.clamp(0, 1)
    return torch.cat((err.clamp(0, 1) * 2, (err * 2 - 1).clamp(0, 1), torch.zeros_like(err)), dim=1).clamp(0, 1)


def image_grid(rows: list[list[Tensor]], *, pad: int = 2, columns: list[str] | None = None,
               captions: list[str] | None = None) -> Tensor:
    """Tile rows of (3, H, W) images (one size) into one (3, H', W') image with white padding
    (``torchvision.utils.make_grid``); ``columns`` titles the columns, ``captions`` labels each row."""
    from torchvision.utils import make_grid  # lazy, as in flow_to_color

    if not rows or not rows[0]:
        raise ValueError("image_grid needs at least one image")
    h, w = rows[0][0].shape[-2:]
    ncol = max(len(r) for r in rows)
    cells = []
    for row in rows:
        for img in row:
            if img.shape[-2:] != (h, w):
                raise ValueError(f"all images must be {h}x{w}, got {tuple(img.shape[-2:])}")
            cells.append(img.detach().float().cpu().clamp(0, 1))
        cells += [torch.ones(3, h, w)] * (ncol - len(row))
    grid = make_grid(torch.stack(cells), nrow=ncol, padding=pad, pad_value=1.0)
    return _annotate(grid, columns, captions, cell=(h + pad, w + pad), pad=pad)


def gallery(rows: list[list[Tensor]], *, height: int = 160, pad: int = 2, columns: list[str] | None = None,
            captions: list[str] | None = None) -> Tensor:
    """Like :func:`image_grid` for images of different sizes: each is resized to ``height`` (aspect kept), rows are
    padded to the widest; ``columns`` titles the first row's cells, ``captions`` labels each row."""
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
    cell_w = resized[0][0].shape[-1] + pad if resized and resized[0] else 0
    return _annotate(canvas, columns, captions, cell=(height + pad, cell_w), pad=pad)


def _annotate(grid: Tensor, columns: list[str] | None, captions: list[str] | None, *, cell: tuple[int, int],
              pad: int) -> Tensor:
    """Add a white title band above the grid (column names) and a caption on each row's first cell."""
    if not columns and not captions:
        return grid
    img = to_image(grid)
    # a label never runs off the right edge: column titles shrink to their cell (down to size 0.3), and the image
    # is widened with white where a caption (or a title) is still wider than what is left of it
    titles = []
    for c, text in enumerate(columns or []):
        size = 0.4
        while size > 0.3 and _text_width(text, size, 1) > cell[1] - 4:
            size = round(size - 0.05, 2)
        titles.append((text, pad + c * cell[1] + 2, size))
    needed = max([pad + 4 + _text_width(t, 0.4, 3) + pad + 2 for t in captions or []]
                 + [x + _text_width(t, size, 1) + pad + 2 for t, x, size in titles] + [img.shape[1]])
    if needed > img.shape[1]:
        img = np.concatenate([img, np.full((img.shape[0], needed - img.shape[1], 3), 255, np.uint8)], axis=1)
    if captions:
        for r, text in enumerate(captions):
            img = _put_text(img, text, (pad + 4, pad + r * cell[0] + cell[0] - pad - 6), size=0.4)
    if columns:
        band = np.full((22, img.shape[1], 3), 255, np.uint8)
        for text, x, size in titles:
            band = _put_text(band, text, (x, 15), size=size, dark=True)
        img = np.concatenate([band, img], axis=0)
    return to_tensor(img)[0]


def _text_width(text: str, size: float, thickness: int) -> int:
    """Pixels ``text`` takes in :func:`_put_text`'s font (its outline included)."""
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, thickness)[0][0] + thickness


def _put_text(img: np.ndarray, text: str, org: tuple[int, int], *, size: float, dark: bool = False) -> np.ndarray:
    out = np.ascontiguousarray(img)
    if dark:
        cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 1, cv2.LINE_AA)
        return out
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def save_png(img: Tensor, path) -> None:
    """Write a (3, H, W) image in [0, 1] as PNG (a failed write raises MediaError)."""
    write_image(path, to_image(img))


SHEET_COLUMNS = ["input 0", "input 1", "prediction", "ground truth", "error", "flow t->0", "flow t->1"]


def interpolation_sheet(img0: Tensor, img1: Tensor, pred: Tensor, target: Tensor, flows: Tensor, *, max_rows: int = 4,
                        labels: bool = False, t: Tensor | None = None) -> Tensor:
    """One row per sample: input 0, input 1, prediction, ground truth, error map, flow t->0, flow t->1. With
    ``labels`` the columns are named and each row carries its t and PSNR."""
    rows, captions = [], []
    err = error_map(pred, target)
    f0, f1 = flow_to_color(flows[:, :2]), flow_to_color(flows[:, 2:4])
    for i in range(min(max_rows, img0.shape[0])):
        rows.append([img0[i], img1[i], pred[i], target[i], err[i], f0[i], f1[i]])
        mse = float(((pred[i].detach().float() - target[i].detach().float()) ** 2).mean().clamp(min=1e-10))
        tt = f"t={float(t.reshape(-1)[i]):.2f} " if t is not None and t.numel() > i else ""
        captions.append(f"{tt}PSNR {10 * math.log10(1 / mse):.2f} dB")
    if not labels:
        return image_grid(rows)
    return image_grid(rows, columns=SHEET_COLUMNS, captions=captions)


def label(img: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner of an (H, W, 3) uint8 RGB image (a copy)."""
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


def animation_durations(n: int, fps: float, *, tick_ms: float = 10.0, min_ms: float = 20.0) -> tuple[list[int], list[int]]:
    """(frames to keep, their display times in ms) so an animation plays at its real speed where players only take
    whole ticks (GIF: 10 ms) and clamp very short frames (browsers show frames under 20 ms for 100 ms): frames
    faster than ``min_ms`` are thinned, and each time is rounded from the exact timeline so the total stays exact."""
    step = max(1, math.ceil(min_ms * fps / 1000.0 - 1e-9))
    keep = list(range(0, n, step))
    times = [1000.0 * i / fps for i in keep] + [1000.0 * n / fps]
    ticks = [round(t / tick_ms) for t in times]
    return keep, [max(1, b - a) * int(tick_ms) for a, b in zip(ticks[:-1], ticks[1:])]


def write_animation(frames: list[np.ndarray], path, *, fps: float, max_width: int | None = 640,
                    lossless: bool = False) -> None:
    """An endlessly looping GIF or animated WebP (by ``path``'s suffix) of (H, W, 3) uint8 frames at their real
    frame time (see :func:`animation_durations`), downscaled to ``max_width`` (None keeps the size)."""
    webp = str(path).lower().endswith(".webp")
    keep, durations = animation_durations(len(frames), fps, tick_ms=1.0 if webp else 10.0)
    imgs = [Image.fromarray(frames[i]) for i in keep]
    if max_width and imgs[0].width > max_width:
        size = (max_width, round(imgs[0].height * max_width / imgs[0].width))
        imgs = [im.resize(size, Image.LANCZOS) for im in imgs]
    options = {"lossless": lossless, "quality": 90} if webp else {"optimize": False}
    fmt = "WEBP" if webp else "GIF"
    imgs[0].save(str(path), format=fmt, save_all=True, append_images=imgs[1:], duration=durations, loop=0, **options)


def write_gif(frames: list[np.ndarray], path, *, fps: float, max_width: int = 640) -> None:
    """An endlessly looping GIF of (H, W, 3) uint8 frames at their real frame time, downscaled to ``max_width``."""
    write_animation(frames, path, fps=fps, max_width=max_width)
