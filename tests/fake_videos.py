"""Real encoded videos for tests: textured pans of a photo, written with PyAV."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data


def pan_frames(n: int, size: tuple[int, int] = (48, 64), *, speed: float = 2.0, seed: int = 0,
               photo: str = "astronaut") -> list[np.ndarray]:
    """``n`` frames (h, w, 3) of a photo panned by ``speed`` pixels per frame."""
    img = getattr(skimage.data, photo)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    h, w = size
    side = max(256, h + 16)
    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    y0, x0 = int(rng.integers(0, side - h - 1)), int(rng.integers(0, 100))
    out = []
    for i in range(n):
        x = x0 + speed * i
        m = np.float32([[1, 0, -x], [0, 1, -y0]])
        out.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def write_video(path: Path, frames: list[np.ndarray], *, fps: int = 25, codec: str = "mpeg4") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_frames(path: Path, frames: list[np.ndarray], *, codec: str, pix_fmt: str, fmt: str = "rgb24",
                 fps: int = 25) -> Path:
    """Encode arrays given in ``fmt`` (rgb24, rgba, rgb48le) with any codec and pixel format."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, pix_fmt
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=fmt)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_ucf_tree(root: Path, *, classes=("Archery", "Biking", "YoYo"), groups: int = 5, clips: int = 2,
                  frames: int = 16) -> dict[str, Path]:
    """A small UCF-101 tree of real .avi files, plus a truncated file, an empty file and a too-short clip."""
    made = {}
    for ci, label in enumerate(classes):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                vid = f"v_{label}_g{g:02d}_c{c:02d}"
                made[vid] = write_video(root / label / f"{vid}.avi",
                                        pan_frames(frames, seed=ci * 100 + g * 10 + c, speed=1.5 + c))
    good = made[f"v_{classes[0]}_g01_c01"].read_bytes()
    bad = root / classes[0]
    (bad / f"v_{classes[0]}_g09_c01.avi").write_bytes(good[: len(good) // 2])  # truncated
    (bad / f"v_{classes[0]}_g09_c02.avi").write_bytes(b"")  # empty
    write_video(bad / f"v_{classes[0]}_g09_c03.avi", pan_frames(5))  # too short
    return made


if __name__ == "__main__":
    # python tests/fake_videos.py <root> [classes] [groups] [clips] [frames] [HxW]: a UCF-101-like tree for benchmarks
    import sys

    args = sys.argv[1:]
    root = Path(args[0])
    n_classes, groups, clips, n_frames = (int(a) for a in (args[1:5] + ["10", "5", "4", "100"][len(args[1:5]):]))
    h, w = (int(v) for v in (args[5] if len(args) > 5 else "240x320").split("x"))
    photos = ["astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass", "gravel"]
    for ci in range(n_classes):
        label = f"Class{ci:03d}"
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                frames = pan_frames(n_frames, (h, w), seed=ci * 1000 + g * 10 + c, speed=1 + c,
                                    photo=photos[(ci + g) % len(photos)])
                write_video(root / label / f"v_{label}_g{g:02d}_c{c:02d}.avi", frames)
    print(f"wrote {n_classes * groups * clips} videos under {root}")
