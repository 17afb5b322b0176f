"""Output timing and what each output frame gets, decided without threads or I/O.

Timing: the output is constant-frame-rate at ``out_fps`` (input rate x factor, or a given fps) and keeps the
input's duration: output frame m is shown at ``start + m / out_fps`` and covers the input from the pair of frames
around that time (by their real timestamps, so variable-frame-rate input keeps its motion timing), with
``t = (time - time_0) / (time_1 - time_0)``. Times that hit an input frame copy it exactly; the last input frame
is held for one input frame duration.

Slots: for every pair of consecutive input frames the :class:`Scheduler` yields the output slots whose times fall
between them, each one of: a copy of the first frame, a copy of the second, or the pair interpolated at t. Across a
scene cut a slot copies the nearer real frame (no ghost blends); across a duplicate frame it holds the first (still
frames are not motion). The file pipeline and the real-time interpolator both use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from framegen.media import change, is_cut

# common broadcast rates written as decimals, mapped to their exact NTSC fractions
_NTSC = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 47.952: Fraction(48000, 1001),
         59.94: Fraction(60000, 1001), 119.88: Fraction(120000, 1001)}


def parse_rate(value, *, option: str = "fps") -> Fraction:
    """'60', 60, 59.94, '24000/1001' -> an exact Fraction (decimals near NTSC rates become x/1001).

    Raises ValueError naming ``option`` for anything else (text, a zero denominator, zero or negative rates).
    """
    try:
        if isinstance(value, Fraction):
            rate = value
        elif isinstance(value, str) and "/" in value:
            num, den = value.split("/")
            rate = Fraction(int(num), int(den))
        else:
            f = float(value)
            if not math.isfinite(f):
                raise ValueError
            rate = next((v for k, v in _NTSC.items() if abs(f - k) < 0.005), Fraction(f).limit_denominator(1001))
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):
        raise ValueError(f"{option}={value} is not a frame rate (give e.g. 60, 59.94 or 60000/1001)") from None
    if rate <= 0:
        raise ValueError(f"{option}={value}: a frame rate must be positive")
    return rate


def parse_time(value, *, option: str = "start") -> Fraction:
    """A point or length of time as a user writes it: seconds (5, 2.5, '90') or ``[hh:]mm:ss[.ff]`` ('1:30',
    '01:02:03.5') -> exact seconds >= 0. Raises ValueError naming ``option`` for anything else."""
    try:
        text = "" if isinstance(value, bool) else str(value).strip()  # true/false are not times
        parts = text.split(":")
        if len(parts) > 3 or not all(parts):
            raise ValueError
        seconds = Fraction(parts[-1])
        if len(parts) > 1 and not 0 <= seconds < 60:
            raise ValueError
        for k, part in enumerate(reversed(parts[:-1])):
            whole = int(part)
            if whole < 0 or (k == 0 and len(parts) == 3 and whole >= 60):
                raise ValueError
            seconds += whole * 60 ** (k + 1)
    except (ValueError, TypeError, ZeroDivisionError):
        raise ValueError(f"{option}={value} is not a time (give seconds, e.g. 5 or 2.5, or mm:ss such as 1:30)") \
            from None
    if seconds < 0:
        raise ValueError(f"{option}={value}: give a time >= 0 (seconds, or mm:ss)")
    return seconds


def parse_factor(value) -> Fraction:
    """The rate multiplier: 2, 4, or a non-integer such as 1.5 or '5/2' (kept exact: 24 fps x 1.5 = 36 fps)."""
    try:
        factor = Fraction(value) if not isinstance(value, float) else Fraction(value).limit_denominator(1000)
    except (ValueError, TypeError, ZeroDivisionError, OverflowError):  # OverflowError: inf, 1e400
        raise ValueError(f"factor={value} is not a number (give e.g. 2, 4 or 1.5; or a target rate with fps=)") from None
    if factor <= 0:
        raise ValueError(f"factor={value}: the factor must be positive (or give a target rate with fps=)")
    return factor


def output_rate(in_fps: Fraction, *, factor=None, fps=None) -> Fraction:
    """``fps`` when given, else the input rate times ``factor`` (any positive number, kept exact)."""
    if fps is not None:
        return parse_rate(fps)
    if factor is None:
        raise ValueError("give factor= (e.g. 2) or fps= (e.g. 60)")
    return Fraction(in_fps) * parse_factor(factor)


def output_count(n_frames: int, in_fps: Fraction, out_fps: Fraction) -> int:
    """Frames written for ``n_frames`` constant-rate input frames (the duration is kept)."""
    total = Fraction(n_frames) * out_fps / in_fps
    return int(total) + (1 if total != int(total) else 0)


FIRST, SECOND, INTERPOLATE = "first", "second", "interpolate"
MOTION, CUT, DUPLICATE = "motion", "cut", "duplicate"


@dataclass(frozen=True)
class SceneSettings:
    """Scene cuts (no ghost blends across them) and duplicate frames (not treated as motion)."""

    detect_cuts: bool = True
    cut_threshold: float = 20.0
    cut_hist: float = 0.4
    # a pair whose mean grey difference is below this (0-255) is a duplicate: copied, not interpolated
    duplicate_threshold: float = 0.3
    remove_duplicates: bool = False


@dataclass(frozen=True)
class Slot:
    """Output frame ``index``: ``kind`` is FIRST, SECOND or INTERPOLATE (at ``t`` in (0, 1))."""

    index: int
    kind: str
    t: float = 0.0


def classify(sig0, sig1, scenes: SceneSettings) -> str:
    """MOTION, CUT or DUPLICATE for a pair, from the frames' :func:`framegen.media.signature`."""
    diff, hist = change(sig0, sig1)
    if diff < scenes.duplicate_threshold:
        return DUPLICATE
    if scenes.detect_cuts and is_cut(diff, hist, cut_threshold=scenes.cut_threshold, cut_hist=scenes.cut_hist):
        return CUT
    return MOTION


def decide(t: float | Fraction, pair: str) -> tuple[str, float]:
    """(kind, t) of an output slot at time ``t`` of a pair classified as ``pair``."""
    if t == 0 or pair == DUPLICATE:
        return FIRST, 0.0
    if pair == CUT:
        return (FIRST, 0.0) if t < Fraction(1, 2) else (SECOND, 1.0)
    return INTERPOLATE, float(t)


class Scheduler:
    """The output timeline at ``out_fps`` from ``start`` (seconds), handed out pair by pair.

    ``pair(p0, p1, kind)`` returns the slots whose times lie in [p0, p1) and ``tail(end)`` those up to the end of
    the last frame (copies of it). Slot indices count from 0 over the whole output.
    """

    def __init__(self, out_fps: Fraction, start: Fraction = Fraction(0)) -> None:
        if out_fps <= 0:
            raise ValueError(f"out_fps must be positive, got {out_fps}")
        self.out_fps, self.start, self.next_index = Fraction(out_fps), Fraction(start), 0

    def time_of(self, index: int) -> Fraction:
        return self.start + Fraction(index) / self.out_fps

    def pair(self, p0: Fraction, p1: Fraction, kind: str) -> list[Slot]:
        span = p1 - p0
        slots = []
        while span > 0 and self.time_of(self.next_index) < p1:
            slot_kind, t = decide((self.time_of(self.next_index) - p0) / span, kind)
            slots.append(Slot(self.next_index, slot_kind, t))
            self.next_index += 1
        return slots

    def tail(self, end: Fraction) -> list[Slot]:
        slots = []
        while self.time_of(self.next_index) < end:
            slots.append(Slot(self.next_index, FIRST))
            self.next_index += 1
        return slots


def pair_slots(times: list[float], kind: str) -> list[Slot]:
    """Slots for fixed times of one pair (the real-time interpolator's j/k), indexed from 0."""
    return [Slot(i, *decide(t, kind)) for i, t in enumerate(times)]
