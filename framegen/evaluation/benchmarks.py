"""VFI test sets as triplets (first frame, ground-truth middle frame, last frame), and the video protocol."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framegen.data.video import FrameReader
from framegen.media import MediaError, read_image

# folder -> (first, ground truth, last) file names
LAYOUTS = {
    "ucf101_dvf": ("frame_00.png", "frame_01_gt.png", "frame_02.png"),
    "middlebury_other": ("frame10.png", "frame10i11.png", "frame11.png"),
    "davis": ("frame10.png", "frame10i11.png", "frame11.png"),
}
BENCHMARKS = tuple(LAYOUTS)
# layouts recognised in a folder of your own triplets (first, ground truth, last)
KNOWN_LAYOUTS = (("frame_00.png", "frame_01_gt.png", "frame_02.png"), ("frame10.png", "frame10i11.png", "frame11.png"),
                 ("im1.png", "im2.png", "im3.png"), ("0.png", "1.png", "2.png"))


@dataclass(frozen=True)
class Triplet:
    """One test case: predict ``gt`` at time t = 0.5 from ``img0`` and ``img1`` ((H, W, 3) uint8 RGB)."""

    id: str
    img0: np.ndarray
    gt: np.ndarray
    img1: np.ndarray


def _read(path: Path) -> np.ndarray:
    try:
        return read_image(path)
    except MediaError as err:
        raise FileNotFoundError(str(err)) from None


def layout_of(name: str, root: str | Path) -> tuple[str, str, str]:
    """The file names of a set: the standard sets' own, or the first known layout found in a folder of yours."""
    if name in LAYOUTS:
        return LAYOUTS[name]
    folder = Path(root) / name
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        for layout in KNOWN_LAYOUTS:
            if all((sub / f).is_file() for f in layout):
                return layout
    raise ValueError(
        f"unknown benchmark {name!r}: not one of {', '.join(BENCHMARKS)}, and {folder} holds no triplet folders "
        f"laid out as one of {[' / '.join(k) for k in KNOWN_LAYOUTS]}"
    )


def benchmark_ids(name: str, root: str | Path) -> list[str]:
    folder = Path(root) / name
    if name in LAYOUTS and not folder.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {folder} (set paths.benchmarks)")
    first = layout_of(name, root)[0]
    return sorted(p.name for p in folder.iterdir() if (p / first).is_file())


def load_triplets(name: str, root: str | Path, *, limit: int | None = None) -> Iterator[Triplet]:
    """The triplets of one benchmark in sorted order (``limit``: only the first n, for quick runs)."""
    folder = Path(root) / name
    layout = layout_of(name, root)
    for tid in benchmark_ids(name, root)[:limit]:
        a, g, b = (folder / tid / f for f in layout)
        yield Triplet(tid, _read(a), _read(g), _read(b))


def video_triplets(path: str | Path, *, limit: int | None = None) -> Iterator[Triplet]:
    """The video protocol: drop every other frame of a real video and predict it from its neighbours
    (frames 2i and 2i + 2 -> frame 2i + 1), as the UCF101 triplets were made."""
    reader = FrameReader(path)
    n = (len(reader) - 1) // 2
    for i in range(n if limit is None else min(n, limit)):
        a, g, b = reader.read([2 * i, 2 * i + 1, 2 * i + 2])
        yield Triplet(f"{Path(path).stem}_{2 * i + 1:05d}", a, g, b)
