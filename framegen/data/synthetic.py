"""A download-free source of interpolation samples with exact ground truth at any t.

Real photos (those that ship inside scikit-image, plus any folder of images you name) are moved by a
random smooth camera motion (translation, small rotation and zoom), with 0-N foreground layers cut
from other photos moving independently on top (occlusions). Every frame, the target included, is
rendered directly at its own time t with the same sampling, so the ground truth is exact.

A share of samples is static or moves by sub-pixel amounts (real video has many), and optional
degradations (JPEG compression, low-resolution blur) are applied to all frames alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import skimage.data
import torch
from torch.utils.data import Dataset

from framegen.image_tensor import to_tensor
from framegen.media import MediaError, image_files, read_image

# Photos that ship inside the scikit-image wheel (no download), each CC0 or public domain by its docstring;
# grey ones are used as textures.
SKIMAGE_PHOTOS = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
    "camera", "brick", "grass", "gravel", "coins", "cell", "clock",
)


def load_photos(names: Sequence[str] = SKIMAGE_PHOTOS, dirs: Sequence[str | Path] = (), *,
                max_side: int | None = 1600) -> list[np.ndarray]:
    """Load the named scikit-image photos and every image in ``dirs`` as (H, W, 3) uint8 RGB arrays.

    Photos whose longer side exceeds ``max_side`` are shrunk to it (INTER_AREA) once, here, so rendering a sample
    never resizes a 5K wallpaper.
    """
    photos = []
    for name in names:
        img = getattr(skimage.data, name)()
        if isinstance(img, tuple):  # stereo pairs
            img = img[0]
        photos.append(_as_rgb(np.asarray(img)))
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise FileNotFoundError(f"image folder not found: {d}")
        for p in image_files(d):
            try:
                photos.append(read_image(p))
            except MediaError as err:
                raise ValueError(str(err)) from None
    if max_side:
        photos = [_shrink(p, max_side) for p in photos]
    if not photos:
        raise ValueError("no photos to render synthetic motion from")
    return photos


def _shrink(img: np.ndarray, max_side: int) -> np.ndarray:
    f = max_side / max(img.shape[:2])
    return img if f >= 1 else cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def _as_rgb(img: np.ndarray) -> np.ndarray:
    if img.dtype != np.uint8:
        img = (255 * (img.astype(np.float64) / max(float(img.max()), 1e-9))).astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


@dataclass(frozen=True)
class MotionConfig:
    """How samples move and degrade. Motions are in output pixels between frame 0 and frame 1."""

    # camera: translation up to max_motion (small ones more likely), rotation and zoom up to these
    max_motion: float = 16.0
    max_rotation_deg: float = 3.0
    max_zoom: float = 0.06
    # 0..max_layers foreground layers cut from other photos, each moving up to layer_motion on its own
    max_layers: int = 3
    layer_motion: float = 24.0
    # shares of still scenes and of sub-pixel to 2-pixel camera motion (real video has many of both)
    static_prob: float = 0.1
    small_motion_prob: float = 0.25
    # degradations applied to all frames alike: JPEG at a quality in jpeg_quality, low-resolution blur
    jpeg_prob: float = 0.3
    jpeg_quality: tuple[int, int] = (40, 95)
    blur_prob: float = 0.15


def _affine(center: np.ndarray, shift: np.ndarray, angle: float, zoom: float, src_center: np.ndarray) -> np.ndarray:
    """2x3 matrix mapping output pixel coordinates to source coordinates."""
    c, s = math.cos(angle) / zoom, math.sin(angle) / zoom
    rot = np.array([[c, -s], [s, c]])
    offset = src_center + shift - rot @ center
    return np.hstack([rot, offset[:, None]])


def _sample_motion(rng: np.random.Generator, cfg: MotionConfig, scale: float) -> tuple[np.ndarray, float, float]:
    """(shift per unit time in px, rotation per unit time, log-zoom per unit time)."""
    u = rng.random()
    if u < cfg.static_prob:
        return np.zeros(2), 0.0, 0.0
    if u < cfg.static_prob + cfg.small_motion_prob:
        mag = rng.uniform(0.0, 2.0)
        rot = zoom = 0.0
    else:
        mag = scale * cfg.max_motion * rng.random() ** 1.5  # more small motions than large
        rot = math.radians(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
        zoom = rng.uniform(-cfg.max_zoom, cfg.max_zoom)
    theta = rng.uniform(0, 2 * math.pi)
    return mag * np.array([math.cos(theta), math.sin(theta)]), rot, zoom


def _blob_mask(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A soft random blob (ellipses unioned and blurred), (h, w) float32 in [0, 1]."""
    mask = np.zeros((h, w), np.float32)
    for _ in range(rng.integers(1, 4)):
        center = (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h))
        axes = (int(rng.uniform(0.15, 0.45) * w), int(rng.uniform(0.15, 0.45) * h))
        cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    k = max(3, (min(h, w) // 24) | 1)
    return cv2.GaussianBlur(mask, (k, k), 0)


class SyntheticMotion(Dataset):
    """Interpolation samples rendered from moving photos.

    Each item is a dict: ``img0``, ``img1``, ``gt`` float tensors (3, H, W) in [0, 1] and ``t`` a float
    tensor (). ``t`` is uniform in (0, 1), or j/k for a random j in 1..k-1 when ``k`` is given, or
    0.5 when ``middle_only`` (and with probability ``middle_prob`` otherwise). With ``deterministic`` every index
    renders the same sample each time (validation/test); otherwise the draw comes from torch's RNG (seeded per worker
    by Lightning). With ``with_flows`` items also hold ``flows`` (4, H, W): the exact F_t->0 and F_t->1 in pixels.
    """

    def __init__(
        self,
        photos: list[np.ndarray],
        *,
        length: int,
        size: int | Sequence[int] = 128,
        motion: MotionConfig = MotionConfig(),
        k: int | None = None,
        middle_only: bool = False,
        middle_prob: float = 0.0,
        deterministic: bool = False,
        seed: int = 0,
        with_flows: bool = False,
    ) -> None:
        if length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        self.photos = photos
        self.length = length
        self.size = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        self.motion = motion
        self.k, self.middle_only, self.middle_prob = k, middle_only, middle_prob
        self.deterministic, self.seed = deterministic, seed
        self.with_flows = with_flows

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        if self.deterministic:
            return np.random.default_rng([self.seed, index])
        return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))

    def _t(self, rng: np.random.Generator) -> float:
        if self.middle_only or (self.middle_prob and rng.random() < self.middle_prob):
            return 0.5
        if self.k:
            return int(rng.integers(1, self.k)) / self.k
        return float(rng.uniform(0.05, 0.95))

    def _layer(self, rng: np.random.Generator, h: int, w: int, base: float):
        photo = self.photos[rng.integers(len(self.photos))]
        ph, pw = photo.shape[:2]
        lh, lw = int(h * rng.uniform(0.2, 0.6)), int(w * rng.uniform(0.2, 0.6))
        y, x = int(rng.integers(0, max(ph - lh, 1))), int(rng.integers(0, max(pw - lw, 1)))
        patch = np.ascontiguousarray(photo[y : y + lh, x : x + lw])
        alpha = _blob_mask(rng, patch.shape[0], patch.shape[1])
        pos = np.array([rng.uniform(0, w), rng.uniform(0, h)])
        theta = rng.uniform(0, 2 * math.pi)
        mag = base * rng.random()
        vel = mag * np.array([math.cos(theta), math.sin(theta)])
        rot = math.radians(rng.uniform(-8, 8))
        return patch, alpha, pos, vel, rot

    def render(self, rng: np.random.Generator, times: Sequence[float]) -> list[np.ndarray]:
        """Render one scene at each time in ``times``: a list of (H, W, 3) uint8 frames."""
        return self._render(rng, times, None)[0]

    def render_with_flows(self, rng: np.random.Generator, times: Sequence[float], flow_time: float
                          ) -> tuple[list[np.ndarray], np.ndarray]:
        """Like :meth:`render`, plus the exact intermediate flows at ``flow_time``: (4, H, W) float32, F_t->0 then
        F_t->1 in pixels (the motion of the surface seen at each pixel: the top layer where it covers the pixel,
        the background elsewhere)."""
        frames, flows = self._render(rng, times, flow_time)
        return frames, flows

    def _render(self, rng: np.random.Generator, times: Sequence[float], flow_time: float | None
                ) -> tuple[list[np.ndarray], np.ndarray | None]:
        h, w = self.size
        cfg = self.motion
        photo = self.photos[rng.integers(len(self.photos))]
        if rng.random() < 0.5:
            photo = photo[:, ::-1]
        # Output pixels per photo pixel: downscale large photos (INTER_AREA, no aliasing), upscale small ones.
        ph, pw = photo.shape[:2]
        zoom = max(rng.uniform(0.5, 1.0), 1.15 * max(h / ph, w / pw))
        if zoom < 1.0:
            src, zoom0 = cv2.resize(photo, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA), 1.0
        else:
            src, zoom0 = np.ascontiguousarray(photo), zoom
        sh, sw = src.shape[:2]
        half = np.array([w, h]) / (2 * zoom0)
        lo, hi = half, np.maximum(np.array([sw, sh]) - half, half)
        src_center = rng.uniform(lo, hi)
        vel, rot, logzoom = _sample_motion(rng, cfg, 1.0)
        layers = []
        if cfg.max_layers and rng.random() > cfg.static_prob:
            for _ in range(int(rng.integers(0, cfg.max_layers + 1))):
                layers.append(self._layer(rng, h, w, cfg.layer_motion))
        center = np.array([(w - 1) / 2, (h - 1) / 2])

        def background(tc: float) -> np.ndarray:
            # The scene moves by +vel per unit time, so the source point seen at a pixel moves by -vel.
            return _affine(center, -vel * tc / zoom0, -rot * tc, zoom0 * math.exp(logzoom * tc), src_center)

        def layer_map(layer, tc: float) -> np.ndarray:
            patch, _, pos, lvel, lrot = layer
            lh, lw = patch.shape[:2]
            lc = np.array([(lw - 1) / 2, (lh - 1) / 2])
            p, ang = pos + lvel * tc, lrot * tc
            # forward map patch -> frame (warpAffine's default convention)
            c, s = math.cos(ang), math.sin(ang)
            return np.array([[c, -s, p[0] - (c * lc[0] - s * lc[1])], [s, c, p[1] - (s * lc[0] + c * lc[1])]])

        frames = []
        for t in times:
            tc = t - 0.5
            frame = cv2.warpAffine(src, background(tc), (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT101)
            frame = frame.astype(np.float32)
            for layer in layers:
                patch, alpha = layer[0], layer[1]
                fwd = layer_map(layer, tc)
                fg = cv2.warpAffine(patch, fwd, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
                al = cv2.warpAffine(alpha, fwd, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)[..., None]
                frame = frame * (1 - al) + fg.astype(np.float32) * al
            frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        flows = None
        if flow_time is not None:
            flows = self._flows(flow_time, background, layers, layer_map)
        return self._degrade(rng, frames), flows

    def _flows(self, t: float, background, layers, layer_map) -> np.ndarray:
        """(4, H, W) F_t->0, F_t->1: where the point seen at each pixel at time t is at times 0 and 1."""
        h, w = self.size
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
        pts = np.stack((xs, ys, np.ones_like(xs)), axis=-1)  # (H, W, 3) homogeneous pixel coordinates
        tc = t - 0.5
        out = np.empty((4, h, w), np.float32)
        src = pts @ background(tc).T  # source coordinates seen at time t
        for i, tau in enumerate((0.0, 1.0)):
            m = background(tau - 0.5)
            a_inv = np.linalg.inv(m[:, :2])
            p_tau = (src - m[:, 2]) @ a_inv.T
            out[2 * i : 2 * i + 2] = (p_tau - pts[..., :2]).transpose(2, 0, 1)
        for layer in layers:
            alpha = layer[1]
            fwd_t = layer_map(layer, tc)
            cover = cv2.warpAffine(alpha, fwd_t, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT) > 0.5
            if not cover.any():
                continue
            inv_t = cv2.invertAffineTransform(fwd_t)
            q = pts @ inv_t.T  # patch coordinates of each pixel at time t
            for i, tau in enumerate((0.0, 1.0)):
                p_tau = q @ layer_map(layer, tau - 0.5)[:, :2].T + layer_map(layer, tau - 0.5)[:, 2]
                f = (p_tau - pts[..., :2]).transpose(2, 0, 1)
                out[2 * i : 2 * i + 2][:, cover] = f[:, cover]
        return out

    def _degrade(self, rng: np.random.Generator, frames: list[np.ndarray]) -> list[np.ndarray]:
        cfg = self.motion
        if rng.random() < cfg.blur_prob:
            h, w = frames[0].shape[:2]
            f = rng.uniform(0.5, 0.8)
            small = (max(8, int(w * f)), max(8, int(h * f)))
            frames = [cv2.resize(cv2.resize(x, small, interpolation=cv2.INTER_AREA), (w, h), interpolation=cv2.INTER_LINEAR)
                      for x in frames]
        if rng.random() < cfg.jpeg_prob:
            q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
            frames = [cv2.imdecode(cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)
                      for x in frames]
        return frames

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = self._rng(index)
        t = self._t(rng)
        if not self.with_flows:
            f0, gt, f1 = self.render(rng, (0.0, t, 1.0))
            return {"img0": to_tensor(f0)[0], "img1": to_tensor(f1)[0], "gt": to_tensor(gt)[0],
                    "t": torch.tensor(t, dtype=torch.float32)}
        (f0, gt, f1), flows = self.render_with_flows(rng, (0.0, t, 1.0), t)
        return {"img0": to_tensor(f0)[0], "img1": to_tensor(f1)[0], "gt": to_tensor(gt)[0],
                "t": torch.tensor(t, dtype=torch.float32), "flows": torch.from_numpy(flows)}


class SyntheticSource:
    """The data source behind ``data=synthetic``: train/val/test splits of :class:`SyntheticMotion`.

    Validation and test are deterministic (fixed seeds, t = 0.5); training draws a fresh scene every time. With
    ``flows`` the training items carry their exact intermediate flows (for flow supervision).
    """

    def __init__(
        self,
        *,
        train_samples: int = 2000,
        val_samples: int = 64,
        test_samples: int = 64,
        size: int | Sequence[int] = 128,
        k: int | None = None,
        middle_prob: float = 0.0,
        image_dirs: Sequence[str] = (),
        photos: Sequence[str] = SKIMAGE_PHOTOS,
        motion: dict | None = None,
        seed: int = 0,
        flows: bool = False,
        max_photo_side: int | None = 1600,
    ) -> None:
        self.lengths = {"train": train_samples, "val": val_samples, "test": test_samples}
        self.size, self.k, self.middle_prob, self.seed = size, k, middle_prob, seed
        self.image_dirs, self.photo_names = list(image_dirs), list(photos)
        self.motion = MotionConfig(**{k_: tuple(v) if isinstance(v, list) else v for k_, v in (motion or {}).items()})
        self._photos: list[np.ndarray] | None = None
        self.flows, self.max_photo_side = flows, max_photo_side

    def prepare(self) -> None:
        """Nothing to download or cache: photos come from installed packages or local folders."""

    def dataset(self, split: str) -> SyntheticMotion:
        if split not in self.lengths:
            raise ValueError(f"split must be one of {sorted(self.lengths)}, got {split!r}")
        if self._photos is None:
            self._photos = load_photos(self.photo_names, self.image_dirs, max_side=self.max_photo_side)
        train = split == "train"
        return SyntheticMotion(
            self._photos,
            length=self.lengths[split],
            size=self.size,
            motion=self.motion,
            k=self.k,
            middle_only=not train,
            middle_prob=self.middle_prob,
            deterministic=not train,
            seed=self.seed + (1 if split == "val" else 2) * 1_000_003,
            with_flows=self.flows and train,
        )
