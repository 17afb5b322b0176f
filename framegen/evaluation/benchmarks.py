"""VFI test sets as triplets (first frame, ground-truth frame, last frame, t), and the video protocol.

The three sets under ``paths.benchmarks`` (UCF101-DVF, Middlebury, DAVIS), a folder of your own triplets, and the
research sets papers report in their official layouts (:mod:`framegen.data.research_sets`): ``vimeo90k``,
``vimeo90k_septuplet``, ``snu_film_easy|medium|hard|extreme``, ``xtest`` (4K), ``xtest_2k``, ``xiph_2k``,
``xiph_4k``. A research set is read from ``benchmark_root`` when given, else from the first of its folder names
(:data:`RESEARCH`) under ``paths.benchmarks``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from framegen.data import research_sets as rs
from framegen.data.research_sets import ResearchSetError
from framegen.data.video import FrameReader
from framegen.media import MediaError, is_frame_folder, read_image, video_files

# folder -> (first, ground truth, last) file names
LAYOUTS = {
    "ucf101_dvf": ("frame_00.png", "frame_01_gt.png", "frame_02.png"),
    "middlebury_other": ("frame10.png", "frame10i11.png", "frame11.png"),
    "davis": ("frame10.png", "frame10i11.png", "frame11.png"),
}
BENCHMARKS = tuple(LAYOUTS)
# research set -> (folder names tried under paths.benchmarks, in order; what its items are; resolution)
RESEARCH = {
    "vimeo90k": (("vimeo90k", "vimeo_triplet"), "vimeo_triplet", None),
    "vimeo90k_septuplet": (("vimeo90k_septuplet", "vimeo_septuplet"), "vimeo_septuplet", None),
    **{f"snu_film_{lv}": ((f"snu_film_{lv}", "snu_film", "SNU-FILM"), f"snu_film:{lv}", None) for lv in rs.SNU_LEVELS},
    "xtest": (("xtest", "x4k1000fps", "X4K1000FPS"), "xtest", None),
    "xtest_2k": (("xtest_2k", "xtest", "x4k1000fps", "X4K1000FPS"), "xtest", "half"),
    "xiph_2k": (("xiph_2k", "xiph", "netflix"), "xiph", "half"),
    "xiph_4k": (("xiph_4k", "xiph", "netflix"), "xiph", "centre"),
}
# layouts recognised in a folder of your own triplets (first, ground truth, last)
KNOWN_LAYOUTS = (("frame_00.png", "frame_01_gt.png", "frame_02.png"), ("frame10.png", "frame10i11.png", "frame11.png"),
                 ("im1.png", "im2.png", "im3.png"), ("0.png", "1.png", "2.png"))


@dataclass(frozen=True)
class Triplet:
    """One test case: predict ``gt`` at time ``t`` from ``img0`` and ``img1`` ((H, W, 3) uint8 RGB). Video items also
    carry the frame numbers of the inputs and the target (``i0``, ``i1``, ``index``), for the temporal metrics."""

    id: str
    img0: np.ndarray
    gt: np.ndarray
    img1: np.ndarray
    t: float = 0.5
    i0: int | None = None
    i1: int | None = None
    index: int | None = None


def _read(path: Path) -> np.ndarray:
    try:
        return read_image(path)
    except MediaError as err:
        raise FileNotFoundError(str(err)) from None


def layout_of(name: str, root: str | Path, folder: str | Path | None = None) -> tuple[str, str, str]:
    """The file names of a set: the standard sets' own, or the first known layout found in a folder of yours."""
    if name in LAYOUTS:
        return LAYOUTS[name]
    folder = Path(folder) if folder is not None else Path(root) / name
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        for layout in KNOWN_LAYOUTS:
            if all((sub / f).is_file() for f in layout):
                return layout
    raise ValueError(
        f"unknown benchmark {name!r}: not one of {', '.join(BENCHMARKS + tuple(RESEARCH))}, and {folder} holds no "
        f"triplet folders laid out as one of {[' / '.join(k) for k in KNOWN_LAYOUTS]}"
    )


def benchmark_ids(name: str, root: str | Path, folder: str | Path | None = None) -> list[str]:
    folder = Path(folder) if folder is not None else Path(root) / name
    if name in LAYOUTS and not folder.is_dir():
        raise FileNotFoundError(f"benchmark folder not found: {folder} (set paths.benchmarks)")
    first = layout_of(name, root, folder)[0]
    return sorted(p.name for p in folder.iterdir() if (p / first).is_file())


def load_triplets(name: str, root: str | Path, *, limit: int | None = None,
                  folder: str | Path | None = None) -> Iterator[Triplet]:
    """The triplets of one benchmark in sorted order (``limit``: only the first n, for quick runs). ``folder``: the
    set's own folder (``benchmark_root``) instead of ``root/name``; research sets (:data:`RESEARCH`) are read by
    :func:`load_research`."""
    if name in RESEARCH:
        yield from load_research(name, root, limit=limit, folder=folder)
        return
    folder = Path(folder) if folder is not None else Path(root) / name
    layout = layout_of(name, root, folder)
    for tid in benchmark_ids(name, root, folder)[:limit]:
        a, g, b = (folder / tid / f for f in layout)
        yield Triplet(tid, _read(a), _read(g), _read(b))


def research_root(name: str, root: str | Path, folder: str | Path | None = None) -> Path:
    """Where a research set lies: ``folder`` (benchmark_root) when given, else the first of its folder names that
    exists under ``root`` (paths.benchmarks)."""
    if folder is not None:
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ResearchSetError(f"{name}: benchmark_root {path} is not a folder")
        return path
    names = RESEARCH[name][0]
    for n in names:
        if (Path(root) / n).is_dir():
            return Path(root) / n
    raise ResearchSetError(f"{name}: none of {', '.join(names)} under {root} (set paths.benchmarks, or give the "
                           f"set's folder as benchmark_root=<dir>; layouts: docs/benchmarks.md)")


def research_items(name: str, root: str | Path, folder: str | Path | None = None) -> list[rs.Item]:
    """Every item of a research set (paths and t), checked against its official layout."""
    base = research_root(name, root, folder)
    kind = RESEARCH[name][1]
    if kind == "vimeo_triplet":
        return rs.vimeo_items(base, "triplet")
    if kind == "vimeo_septuplet":
        return rs.vimeo_items(base, "septuplet", targets="all")
    if kind.startswith("snu_film:"):
        return rs.snu_film_items(base, kind.split(":", 1)[1])
    if kind == "xtest":
        return rs.xtest_items(base)
    return rs.xiph_items(base)


def load_research(name: str, root: str | Path, *, limit: int | None = None,
                  folder: str | Path | None = None) -> Iterator[Triplet]:
    """The items of a research set as triplets, at the resolution its protocol sets (2K: half size, Xiph-4K: the
    central 2048x1080 crop of the 4K frame)."""
    fit = {None: None, "half": rs.half_size, "centre": rs.centre_half}[RESEARCH[name][2]]
    for it in research_items(name, root, folder)[:limit]:
        frames = [_read(p) for p in (it.img0, it.gt, it.img1)]
        if fit is not None:
            frames = [fit(f) for f in frames]
        yield Triplet(it.id, frames[0], frames[1], frames[2], t=it.t)


def is_multi_time(name: str) -> bool:
    """Sets whose items have several t (per-t rows)."""
    return name in ("xtest", "xtest_2k", "vimeo90k_septuplet")


def video_triplets(path: str | Path, *, limit: int | None = None, factor: int = 2) -> Iterator[Triplet]:
    """The video protocol: keep every ``factor``-th frame of a real video (or folder of frames) and rebuild the
    others at their t from the kept neighbours (frames fk and fk + f -> fk + j at t = j/f). ``factor=2`` drops every
    other frame, as the UCF101 triplets were made. ``limit``: only the first n intervals (n (factor - 1) frames)."""
    factor = int(factor)
    if factor < 2:
        raise ValueError(f"factor must be >= 2 (keep every factor-th frame), got {factor}")
    path = Path(path)
    reader = FrameReader(path)
    n = (len(reader) - 1) // factor
    if n < 1:
        raise ValueError(f"{path} has {len(reader)} frames: factor={factor} needs at least {factor + 1}")
    stem = path.stem if path.is_file() else path.name
    for i in range(n if limit is None else min(n, limit)):
        i0 = factor * i
        frames = reader.read(list(range(i0, i0 + factor + 1)))
        for j in range(1, factor):
            yield Triplet(f"{stem}_{i0 + j:05d}", frames[0], frames[j], frames[factor], t=j / factor, i0=i0,
                          i1=i0 + factor, index=i0 + j)


def video_clips(path: str | Path) -> list[Path]:
    """The clips of ``video=``: a video file, a folder of numbered frames (one clip), or a folder of videos."""
    path = Path(path)
    if path.is_dir():
        return [path] if is_frame_folder(path) and not video_files(path) else video_files(path)
    return [path]
