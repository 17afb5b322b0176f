"""The research sets VFI papers train and test on, read in their official layouts (none is downloaded here).

- **Vimeo-90K** (Xue et al., IJCV 2019; toflow.csail.mit.edu): triplets ``<root>/sequences/NNNNN/NNNN/im1..3.png``
  listed in ``tri_trainlist.txt`` / ``tri_testlist.txt``; septuplets ``im1..7.png`` in ``sep_trainlist.txt`` /
  ``sep_testlist.txt``. Each list line is ``NNNNN/NNNN``.
- **SNU-FILM** (Choi et al., AAAI 2020, CAIN's page): ``<root>/test/GOPRO_test|YouTube_test/<seq>/<frame>.png`` and
  ``<root>/test-easy|medium|hard|extreme.txt``, whose lines hold three paths (first, ground truth, last) written
  relative to CAIN's checkout, ``data/SNU-FILM/test/...``; that prefix is taken off and the rest is read under the
  set's root.
- **X4K1000FPS** (Sim et al., ICCV 2021, XVFI): X-TEST is ``<root>/test/Type1..3/<clip>/0000..0032.png`` (4096x2160,
  1000 fps); the 8x protocol predicts frames 4, 8, ..., 28 (t = k/8) from frames 0 and 32. X-TRAIN is
  ``<root>/train/<scene>/<clip>/0000..0064.png`` (768x768 crops).
- **Xiph** (Niklaus and Liu, CVPR 2020, softmax-splatting's ``benchmark_xiph.py``): the first 100 frames of eight
  Netflix 4K sequences as ``<Name>-001.png .. <Name>-100.png``; frames 1/3 -> 2, 3/5 -> 4, ..., 97/99 -> 98 (49
  triplets each, 392 in all). Xiph-2K resizes the frames to half (2048x1080, INTER_AREA); Xiph-4K takes the central
  2048x1080 crop of the 4K frame.

Listing functions return :class:`Item` (paths and t) and check that every frame they name exists: a missing list
file, a line that points to a missing frame, or a wrong layout is a :class:`ResearchSetError` (one line). The
training sources built on these lists are :mod:`framegen.data.research_sources`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from framegen.errors import FramegenError
from framegen.media import user_path

log = logging.getLogger(__name__)

VIMEO = {"triplet": ("tri", 3), "septuplet": ("sep", 7)}
SNU_LEVELS = ("easy", "medium", "hard", "extreme")
SNU_PREFIX = "data/SNU-FILM/"
XIPH_SEQUENCES = ("BoxingPractice", "Crosswalk", "DrivingPOV", "FoodMarket", "FoodMarket2", "RitualDance",
                  "SquareAndTimelapse", "Tango")
# X-TEST: 33 frames per clip, inputs 0 and 32, 8x
XTEST_SPAN, XTEST_FACTOR = 32, 8


class ResearchSetError(FramegenError, FileNotFoundError):
    """A research set is missing or not in its official layout; the message is one line that says where."""


@dataclass(frozen=True)
class Item:
    """One test case: predict ``gt`` at time ``t`` from ``img0`` (t = 0) and ``img1`` (t = 1)."""

    id: str
    img0: Path
    gt: Path
    img1: Path
    t: float = 0.5


def _read_list(path: Path, what: str) -> list[tuple[int, str]]:
    """(line number, text) of the non-empty lines of a list file."""
    if not path.is_file():
        raise ResearchSetError(f"{what}: list file not found: {path}")
    return [(i, ln.strip()) for i, ln in enumerate(path.read_text().splitlines(), 1) if ln.strip()]


def _missing(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if not p.is_file()), None)


# ------------------------------------------------------------------------------------------------ Vimeo-90K
def vimeo_sequences(root: str | Path, variant: str = "triplet", split: str = "test") -> list[Path]:
    """The sequence folders of a Vimeo-90K list (``split``: train or test), each checked for all its frames."""
    if variant not in VIMEO:
        raise ValueError(f"Vimeo-90K variant must be one of {sorted(VIMEO)}, got {variant!r}")
    prefix, n = VIMEO[variant]
    root = user_path(root)
    if not root.is_dir():
        raise ResearchSetError(f"Vimeo-90K {variant} folder not found: {root}")
    lst = root / f"{prefix}_{split}list.txt"
    if not lst.is_file():
        raise ResearchSetError(f"Vimeo-90K {variant}: {lst.name} not found in {root} (the official layout: "
                               f"{prefix}_trainlist.txt, {prefix}_testlist.txt, sequences/NNNNN/NNNN/im1..{n}.png)")
    out = []
    for lineno, line in _read_list(lst, f"Vimeo-90K {variant}"):
        seq = root / "sequences" / line
        gone = _missing([seq / f"im{i}.png" for i in range(1, n + 1)])
        if gone is not None:
            raise ResearchSetError(f"{lst}:{lineno}: {line!r} points to a missing frame {gone}")
        out.append(seq)
    if not out:
        raise ResearchSetError(f"{lst} lists no sequences")
    return out


def vimeo_items(root: str | Path, variant: str = "triplet", *, targets: str = "middle") -> list[Item]:
    """The test list as items: triplets im1, im2, im3 (t = 1/2); septuplets im1 and im7 around im4 (``targets=
    middle``) or around each of im2..im6 at t = j/6 (``targets=all``)."""
    n = VIMEO[variant][1]
    items = []
    for seq in vimeo_sequences(root, variant, "test"):
        sid = f"{seq.parent.name}/{seq.name}"
        js = [n // 2] if (n == 3 or targets == "middle") else list(range(1, n - 1))
        for j in js:
            items.append(Item(sid if len(js) == 1 else f"{sid}/im{j + 1}", seq / "im1.png", seq / f"im{j + 1}.png",
                              seq / f"im{n}.png", j / (n - 1)))
    return items


# ------------------------------------------------------------------------------------------------- SNU-FILM
def snu_film_list(root: Path, level: str) -> Path:
    """``test-<level>.txt`` in the set's root (or in ``eval_modes/``, where some repositories keep it)."""
    for cand in (root / f"test-{level}.txt", root / "eval_modes" / f"test-{level}.txt"):
        if cand.is_file():
            return cand
    raise ResearchSetError(f"SNU-FILM {level}: test-{level}.txt not found in {root} (the official layout: "
                           f"test-easy|medium|hard|extreme.txt beside test/GOPRO_test and test/YouTube_test)")


def _snu_path(root: Path, text: str) -> Path:
    rel = text.replace("\\", "/")
    rel = rel[len(SNU_PREFIX):] if rel.startswith(SNU_PREFIX) else rel.lstrip("./")
    return root / rel


def snu_film_items(root: str | Path, level: str) -> list[Item]:
    """The triplets of one SNU-FILM difficulty (``easy``, ``medium``, ``hard``, ``extreme``)."""
    if level not in SNU_LEVELS:
        raise ValueError(f"SNU-FILM level must be one of {', '.join(SNU_LEVELS)}, got {level!r}")
    root = user_path(root)
    if not root.is_dir():
        raise ResearchSetError(f"SNU-FILM folder not found: {root}")
    lst = snu_film_list(root, level)
    items = []
    for lineno, line in _read_list(lst, f"SNU-FILM {level}"):
        parts = line.split()
        if len(parts) != 3:
            raise ResearchSetError(f"{lst}:{lineno}: expected three paths (first, ground truth, last), got "
                                   f"{len(parts)}: {line[:120]!r}")
        paths = [_snu_path(root, p) for p in parts]
        gone = _missing(paths)
        if gone is not None:
            raise ResearchSetError(f"{lst}:{lineno}: points to a missing frame {gone}")
        rel = paths[1].relative_to(root)
        tid = "/".join(rel.with_suffix("").parts[1:] if rel.parts[0] == "test" else rel.with_suffix("").parts)
        items.append(Item(tid, paths[0], paths[1], paths[2], 0.5))
    if not items:
        raise ResearchSetError(f"{lst} lists no triplets")
    return items


# ----------------------------------------------------------------------------------------------- X4K1000FPS
def pngs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".png")


def xtest_clips(root: str | Path) -> list[Path]:
    """The clip folders of X-TEST: ``<root>/test/Type*/<clip>/`` (or ``<root>/Type*/<clip>/``)."""
    root = user_path(root)
    base = root / "test" if (root / "test").is_dir() else root
    if not base.is_dir():
        raise ResearchSetError(f"X4K1000FPS folder not found: {root}")
    types = sorted(p for p in base.iterdir() if p.is_dir() and re.fullmatch(r"type\d+", p.name.lower()))
    if not types:
        raise ResearchSetError(f"X-TEST: no Type1..3 folders in {base} (the official layout: "
                               f"test/Type1..3/<clip>/0000..0032.png)")
    clips = [c for t in types for c in sorted(p for p in t.iterdir() if p.is_dir())]
    if not clips:
        raise ResearchSetError(f"X-TEST: the Type folders in {base} hold no clip folders")
    return clips


def xtest_items(root: str | Path, *, factor: int = XTEST_FACTOR, span: int = XTEST_SPAN) -> list[Item]:
    """X-TEST's multi-frame protocol (XVFI's, as EMA-VFI's and UPR-Net's scripts read it): in each clip, frames
    0 and ``span`` are the inputs and frames span/factor * k (k = 1 .. factor-1) the targets, at t = k/factor."""
    if span % factor:
        raise ValueError(f"the span {span} is not a multiple of the factor {factor}")
    items = []
    for clip in xtest_clips(root):
        frames = pngs(clip)
        if len(frames) < span + 1:
            raise ResearchSetError(f"X-TEST clip {clip} has {len(frames)} frames; the protocol needs "
                                   f"{span + 1} (0000..{span:04d}.png)")
        cid = f"{clip.parent.name}/{clip.name}"
        for k in range(1, factor):
            items.append(Item(f"{cid}/{k * span // factor:04d}", frames[0], frames[k * span // factor], frames[span],
                              k / factor))
    return items


def x4k_train_clips(root: str | Path) -> dict[str, list[Path]]:
    """{scene: clip folders} of X-TRAIN, ``<root>/train/<scene>/<clip>/0000..0064.png``."""
    root = user_path(root)
    base = root / "train"
    if not base.is_dir():
        raise ResearchSetError(f"X4K1000FPS: no train/ folder in {root} (the official layout: "
                               f"train/<scene>/<clip>/0000..0064.png)")
    scenes = {}
    for scene in sorted(p for p in base.iterdir() if p.is_dir()):
        clips = sorted(c for c in scene.iterdir() if c.is_dir())
        if clips:
            scenes[scene.name] = clips
    if not scenes:
        raise ResearchSetError(f"X4K1000FPS: {base} holds no <scene>/<clip>/ folders")
    return scenes


# ----------------------------------------------------------------------------------------------------- Xiph
def xiph_folder(root: str | Path) -> Path:
    """The folder that holds ``<Name>-NNN.png``: the set's root or its ``netflix/`` (benchmark_xiph.py's name)."""
    root = user_path(root)
    if not root.is_dir():
        raise ResearchSetError(f"Xiph folder not found: {root}")
    sub = root / "netflix"
    return sub if sub.is_dir() and not any(root.glob(f"{XIPH_SEQUENCES[0]}-*.png")) else root


def xiph_items(root: str | Path) -> list[Item]:
    """softmax-splatting's Xiph protocol: frames 2i-1 and 2i+1 -> frame 2i (i = 1..49) of each sequence."""
    folder = xiph_folder(root)
    items = []
    for name in XIPH_SEQUENCES:
        for f in range(2, 99, 2):
            paths = [folder / f"{name}-{i:03d}.png" for i in (f - 1, f, f + 1)]
            gone = _missing(paths)
            if gone is not None:
                raise ResearchSetError(f"Xiph: missing frame {gone} (the protocol reads {name}-001.png .. "
                                       f"{name}-099.png of each of the 8 sequences; see docs/benchmarks.md)")
            items.append(Item(f"{name}-{f:03d}", *paths, 0.5))
    return items


# --------------------------------------------------------------------------------------------- resolutions
def half_size(img: np.ndarray) -> np.ndarray:
    """Half the width and height with INTER_AREA (4096x2160 -> 2048x1080, as the 2K protocols resize)."""
    h, w = img.shape[:2]
    return cv2.resize(img, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def centre_half(img: np.ndarray) -> np.ndarray:
    """The central crop of half the width and height (4096x2160 -> [540:-540, 1024:-1024], Xiph-4K's crop)."""
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[h // 4:h - h // 4, w // 4:w - w // 4])


# ------------------------------------------------------------------------------------------ training data
