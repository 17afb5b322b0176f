"""A short sample clip made at run time: photos that ship in scikit-image (BSD/public domain) moved by camera
motion with moving foreground layers, plus a generated stereo tone as its audio track. Nothing downloaded."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from framegen.atomic import atomic_path
from framegen.data.synthetic import MotionConfig, SyntheticMotion, load_photos


def make_sample_clip(path: str | Path, *, seconds: float = 2.0, fps: int = 24, size: tuple[int, int] = (360, 640),
                     seed: int = 7) -> Path:
    """Write an H.264 + AAC sample clip to ``path`` (atomic); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * fps))
    motion = MotionConfig(max_motion=5.0 * n, max_rotation_deg=4.0, max_zoom=0.15, max_layers=3,
                          layer_motion=7.0 * n, static_prob=0.0, small_motion_prob=0.0, jpeg_prob=0.0, blur_prob=0.0)
    renderer = SyntheticMotion(load_photos(("coffee", "chelsea", "rocket", "astronaut")), length=1, size=size, motion=motion, deterministic=True, seed=seed)
    frames = renderer.render(np.random.default_rng(seed), [i / (n - 1) for i in range(n)])
    with atomic_path(path) as tmp, av.open(str(tmp), "w") as c:
        v = c.add_stream("libx264", rate=fps)
        v.width, v.height, v.pix_fmt = size[1], size[0], "yuv420p"
        v.options = {"crf": "16"}
        a = c.add_stream("aac", rate=48000, layout="stereo")
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        rate, chunk = 48000, 1024
        total = int(seconds * rate)
        tt = np.arange(total) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * tt) * np.minimum(1, tt * 8)).astype(np.float32)
        pts = 0
        for s in range(0, total, chunk):
            block = np.stack([tone[s:s + chunk], tone[s:s + chunk]])
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, pts, Fraction(1, rate)
            pts += block.shape[1]
            for p in a.encode(frame):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path
