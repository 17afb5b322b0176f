"""Class-stratified, group-aware splits: all clips of a group land in one split; every class is in every
split when it has enough groups; deterministic for a seed."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from framegen.data.entries import VideoEntry

SPLITS = ("train", "val", "test")


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
