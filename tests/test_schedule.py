"""The pure scheduler: output timing and what each output slot gets, without threads or I/O."""

from fractions import Fraction

import numpy as np
import pytest

from framegen.inference.schedule import (
    CUT,
    DUPLICATE,
    FIRST,
    INTERPOLATE,
    MOTION,
    SECOND,
    SceneSettings,
    Scheduler,
    classify,
    decide,
    output_count,
    output_rate,
    pair_slots,
    parse_factor,
    parse_rate,
)
from framegen.media import signature


def test_two_x_gives_a_copy_and_a_middle_per_pair():
    s = Scheduler(Fraction(50))
    slots = s.pair(Fraction(0), Fraction(1, 25), MOTION) + s.pair(Fraction(1, 25), Fraction(2, 25), MOTION)
    assert [(x.index, x.kind, x.t) for x in slots] == [(0, FIRST, 0.0), (1, INTERPOLATE, 0.5), (2, FIRST, 0.0),
                                                       (3, INTERPOLATE, 0.5)]
    assert [x.kind for x in s.tail(Fraction(3, 25))] == [FIRST, FIRST]  # the last frame held one input interval


def test_cuts_copy_the_nearer_frame_and_duplicates_hold():
    s = Scheduler(Fraction(100))
    cut = s.pair(Fraction(0), Fraction(1, 25), CUT)
    assert [x.kind for x in cut] == [FIRST, FIRST, SECOND, SECOND]
    dup = s.pair(Fraction(1, 25), Fraction(2, 25), DUPLICATE)
    assert all(x.kind == FIRST for x in dup) and [x.index for x in dup] == [4, 5, 6, 7]


def test_a_long_gap_gets_the_slots_its_clock_says():
    s = Scheduler(Fraction(20))
    assert [x.t for x in s.pair(Fraction(0), Fraction(1, 10), MOTION)] == [0.0, 0.5]
    slots = s.pair(Fraction(1, 10), Fraction(3, 10), MOTION)  # a gap of two frame durations
    assert [x.t for x in slots] == [0.0, 0.25, 0.5, 0.75] and [x.index for x in slots] == [2, 3, 4, 5]


def test_non_integer_factor_and_rates_are_exact():
    assert output_rate(Fraction(24), factor=1.5) == 36 and output_rate(Fraction(24), factor="5/2") == 60
    assert output_count(10, Fraction(24), Fraction(36)) == 15
    assert parse_rate("59.94") == Fraction(60000, 1001) and parse_factor(2) == 2
    for bad in ("abc", "60000/0", 0, "nan"):
        with pytest.raises(ValueError, match=r"fps=.* (is not a frame rate|must be positive)"):
            parse_rate(bad)
    with pytest.raises(ValueError, match="factor=-1"):
        parse_factor(-1)


def test_classify_and_the_realtime_slots_agree_with_decide():
    a = np.zeros((32, 48, 3), np.uint8)
    b = a.copy()
    b[:, :24] = 255  # a new scene: mean and histogram both change
    scenes = SceneSettings()
    assert classify(signature(a), signature(a), scenes) == DUPLICATE
    assert classify(signature(a), signature(b), scenes) == CUT
    assert classify(signature(a), signature(b), SceneSettings(detect_cuts=False)) == MOTION
    times = [0.25, 0.5, 0.75]
    assert [(s.kind, s.t) for s in pair_slots(times, CUT)] == [decide(t, CUT) for t in times]
    assert [s.kind for s in pair_slots(times, MOTION)] == [INTERPOLATE] * 3
