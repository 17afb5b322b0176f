"""VFI test sets as triplets (first frame, ground-truth middle frame, last frame), and the video protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from framegen.data.video import FrameReader

# folder -> (first, ground truth, last) file names
LAYOUTS = {
    "ucf101_dvf": ("frame_00.png", "frame_01_gt.png", "frame_02.png"),
    "middlebury_other": ("frame10.png", "frame10i11.png", "frame11.png"),
    "davis": ("frame10.png", "frame10i11.png", "frame11.png"),
}
BENCHMARKS = tuple(LAYOUTS)


@dataclass(frozen=True)
class Triplet:
    """One test case: predict ``gt`` at time t = 0.5 from ``img0`` and ``img1`` ((H, W, 3) uint8 RGB)."""

    id: str
    img0: np.ndarray
    gt: np.ndarray
    img1: np.ndarray


def _read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f"cannot read {path}")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def benchmark_ids(name: str, root: str | Path) -> list[str]:
    if name not in LAYOUTS:
        raise ValueError(f"unknown benchmark {name!r}; available: {', '.join(BENCHMARKS)}")
    folder = Path(root) / name
    if not folder.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {folder} (set paths.benchmarks)")
    first = LAYOUTS[name][0]
    return sorted(p.name for p in folder.iterdir() if (p / first).is_file())


def load_triplets(name: str, root: str | Path, *, limit: int | None = None) -> Iterator[Triplet]:
    """The triplets of one benchmark in sorted order (``limit``: only the first n, for quick runs)."""
    folder = Path(root) / name
    for tid in benchmark_ids(name, root)[:limit]:
        a, g, b = (folder / tid / f for f in LAYOUTS[name])
        yield Triplet(tid, _read(a), _read(g), _read(b))


def video_triplets(path: str | Path, *, limit: int | None = None) -> Iterator[Triplet]:
    """The video protocol: drop every other frame of a real video and predict it from its neighbours
    (frames 2i and 2i + 2 -> frame 2i + 1), as the UCF101 triplets were made."""
    reader = FrameReader(path)
    n = (len(reader) - 1) // 2
    for i in range(n if limit is None else min(n, limit)):
        a, g, b = reader.read([2 * i, 2 * i + 1, 2 * i + 2])
        yield Triplet(f"{Path(path).stem}_{2 * i + 1:05d}", a, g, b)
