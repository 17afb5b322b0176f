"""Output timing: every output timestamp maps to a pair of input frames and a t.

Policy: the output is constant-frame-rate at ``out_fps`` (input rate x factor, or a given fps) and keeps the
input's duration: output frame m is shown at ``start + m / out_fps`` and covers the input from the pair of frames
around that time (by their real timestamps, so variable-frame-rate input keeps its motion timing), with
``t = (time - time_0) / (time_1 - time_0)``. Times that hit an input frame copy it exactly; the last input frame
is held for one input frame duration.
"""

from __future__ import annotations

from fractions import Fraction

# common broadcast rates written as decimals, mapped to their exact NTSC fractions
_NTSC = {23.976: Fraction(24000, 1001), 29.97: Fraction(30000, 1001), 47.952: Fraction(48000, 1001),
         59.94: Fraction(60000, 1001), 119.88: Fraction(120000, 1001)}


def parse_rate(value) -> Fraction:
    """'60', 60, 59.94, '24000/1001' -> an exact Fraction (decimals near NTSC rates become x/1001)."""
    if isinstance(value, Fraction):
        rate = value
    elif isinstance(value, str) and "/" in value:
        num, den = value.split("/")
        rate = Fraction(int(num), int(den))
    else:
        f = float(value)
        rate = next((v for k, v in _NTSC.items() if abs(f - k) < 0.005), Fraction(f).limit_denominator(1001))
    if rate <= 0:
        raise ValueError(f"a frame rate must be positive, got {value}")
    return rate


def output_rate(in_fps: Fraction, *, factor: int | None = None, fps=None) -> Fraction:
    if fps is not None:
        return parse_rate(fps)
    if factor is None or int(factor) < 1:
        raise ValueError(f"factor must be an integer >= 1 (or give fps), got {factor}")
    return Fraction(in_fps) * int(factor)


def output_count(n_frames: int, in_fps: Fraction, out_fps: Fraction) -> int:
    """Frames written for ``n_frames`` constant-rate input frames (the duration is kept)."""
    total = Fraction(n_frames) * out_fps / in_fps
    return int(total) + (1 if total != int(total) else 0)
