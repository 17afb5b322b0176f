"""Class-stratified, group-aware splits: all clips of a group land in one split; every class is in every
split when it has enough groups; deterministic for a seed."""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from framegen.data.entries import VideoEntry

SPLITS = ("train", "val", "test")

# Words a file name ends with that say which version of a scene it is, not which scene (see scene_name).
_VARIANT = re.compile(
    r"(pristine|distorted|original|orig|source|src|ref|reference|compressed|encoded|degraded|clean|noisy|denoised"
    r"|raw|graded|hq|lq|copy|final|edit|edited|export|exported|trim|trimmed|remux|proxy|preview|sdr|hdr|uhd|fhd|hd"
    r"|[248]k|h26[45]|hevc|avc|x26[45]|av1|vp[89]|prores|mpeg4|xvid"
    r"|\d{3,4}[pi]\d*|\d+x\d+|\d+(\.\d+)?fps|(part|pt|take|seg|segment|clip|v|ver|version|crf|qp|q)\d+|\(\d+\)"
    r"|\d{1,2})")
_SEPARATORS = re.compile(r"[\s_.\-]+")


def scene_name(stem: str) -> str:
    """The scene a file name says a clip shows: the name, lower-cased, without the words at its end that name a
    version of it (``carphone_pristine`` / ``carphone_distorted`` / ``Carphone-1080p`` -> ``carphone``).

    The name is cut into words at ``_``, ``-``, ``.`` and spaces; from the end, words that are a version
    (pristine, distorted, original, ref, compressed, copy, final, edit, export, proxy, hdr, 4k, ...), a resolution or
    rate (1080p, 1920x1080, 60fps), a codec or quality (h264, hevc, crf28), a numbered part (part2, pt3, take2, v2,
    ``(1)``) or a number of one or two digits (``beach_02``) are dropped, as long as one word is left. Longer numbers
    stay: they count a camera's shots (``IMG_1234``, ``DSC_0001``, ``VID_20240101_123456`` are different scenes).
    """
    words = [w for w in _SEPARATORS.split(stem.lower().strip()) if w]
    while len(words) > 1 and _VARIANT.fullmatch(words[-1]):
        words.pop()
    return "_".join(words) or stem


def merge_groups(entries: Sequence[VideoEntry], same: Sequence[tuple[int, int]]) -> list[VideoEntry]:
    """``entries`` with the groups of each pair of positions in ``same`` joined into one (named after its first
    group in sorted order), so the clips of both land in one split."""
    parent = {e.group: e.group for e in entries}

    def root(g: str) -> str:
        while parent[g] != g:
            parent[g] = parent[parent[g]]
            g = parent[g]
        return g

    for i, j in same:
        a, b = root(entries[i].group), root(entries[j].group)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [replace(e, group=root(e.group)) for e in entries]


def group_split(entries: Sequence[VideoEntry], ratios: Sequence[float] = (0.7, 0.15, 0.15), *, seed: int = 0,
                names: Sequence[str] = SPLITS) -> dict[str, list[str]]:
    """Assign whole groups to splits, class by class, so clip counts follow ``ratios``.

    In each class, groups are shuffled (seeded); first every split with a positive ratio receives one group
    (largest ratio first, so a class with one group goes to train), then each remaining group goes to the split
    furthest below its target clip count. Returns {split: sorted video ids}.
    """
    if len(ratios) != len(names) or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"ratios must be {len(names)} non-negative numbers with a positive sum, got {list(ratios)}")
    total = sum(ratios)
    ratios = [r / total for r in ratios]
    by_class: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for e in entries:
        by_class[e.label][e.group].append(e.video_id)
    out: dict[str, list[str]] = {n: [] for n in names}
    order = sorted((i for i, r in enumerate(ratios) if r > 0), key=lambda i: -ratios[i])
    for label in sorted(by_class):
        groups = sorted(by_class[label])
        random.Random(f"{seed}:{label}").shuffle(groups)
        n_clips = sum(len(by_class[label][g]) for g in groups)
        counts = [0] * len(names)
        for pos, g in enumerate(groups):
            if pos < len(order):
                i = order[pos]
            else:
                i = max(order, key=lambda j: ratios[j] * n_clips - counts[j])
            counts[i] += len(by_class[label][g])
            out[names[i]].extend(by_class[label][g])
    return {n: sorted(v) for n, v in out.items()}


def light_selection(entries: Sequence[VideoEntry], n: int, *, seed: int = 0) -> list[VideoEntry]:
    """Pick ``n`` videos spread over classes (round robin over shuffled classes, whole groups kept together
    where possible), for quick tests (the original README's ``light_loading``)."""
    by_class: dict[str, list[VideoEntry]] = defaultdict(list)
    for e in sorted(entries, key=lambda e: (e.group, e.video_id)):
        by_class[e.label].append(e)
    rng = random.Random(seed)
    queues = []
    for label in sorted(by_class):
        vids = by_class[label]
        groups: dict[str, list[VideoEntry]] = defaultdict(list)
        for e in vids:
            groups[e.group].append(e)
        names = sorted(groups)
        rng.shuffle(names)
        queues.append([e for g in names for e in groups[g]])
    rng.shuffle(queues)
    picked: list[VideoEntry] = []
    while len(picked) < n and any(queues):
        for q in queues:
            if q and len(picked) < n:
                picked.append(q.pop(0))
    return picked


def achieved_ratios(splits: dict[str, list[str]]) -> dict[str, float]:
    total = sum(len(v) for v in splits.values())
    return {k: (len(v) / total if total else 0.0) for k, v in splits.items()}
