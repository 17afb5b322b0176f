"""What the page shows of a finished job: the first seconds of the input and of the output as two clips a browser
plays (H.264), and the frames of a frame viewer, each output frame beside the two input frames it lies between.

An output frame shows the input at its *position* (in input frames): for frame ``m`` of a constant-rate output,
``m * fps_in / fps_timeline`` (``fps_timeline``: the output's own rate, or for slow motion the rate its frames were
made at); in general its time in the file times ``fps_out / fps_timeline * fps_in`` (a GIF above 50 fps keeps fewer
frames, each at its real time). Position ``i + t``: between input frames ``i`` and ``i + 1`` at ``t``, or input
frame ``i`` itself when whole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from pathlib import Path

import numpy as np

from framegen.inference.encoding import EncodeSettings, write_video
from framegen.inference.video_io import read_frames
from framegen.media import frame_files, read_image, write_image

# the preview clips: H.264 in MP4 (what every browser plays), quick to encode
PREVIEW_ENCODE = EncodeSettings(codec="libx264", crf=20, preset="veryfast")
# the most output frames a viewer keeps (2 s of 120 fps)
MAX_VIEWER_FRAMES = 240


@dataclass(frozen=True)
class Position:
    """Where output frame ``index`` lies in the input: between input frames ``before`` and ``after`` at ``t``
    (``t == 0``: it is input frame ``before``)."""

    index: int
    before: int
    after: int
    t: Fraction

    @property
    def is_copy(self) -> bool:
        return self.t == 0


def locate(index: int, p: Fraction, n_inputs: int | None = None) -> Position:
    """The :class:`Position` of output frame ``index`` at input position ``p``; ``n_inputs`` keeps it inside the
    input's frames."""
    before = math.floor(p)
    t = p - before
    if n_inputs is not None and before >= n_inputs - 1:
        before, t = n_inputs - 1, Fraction(0)
    return Position(index, before, before + 1 if t else before, t)


def position(index: int, fps_in, fps_timeline, n_inputs: int | None = None) -> Position:
    """The :class:`Position` of frame ``index`` of a constant-rate output."""
    return locate(index, Fraction(index) * Fraction(fps_in) / Fraction(fps_timeline), n_inputs)


def inbetweens(n_outputs: int, fps_in, fps_timeline, n_inputs: int) -> list[Position]:
    """The output frames that lie between two input frames (not copies of one)."""
    found = (position(m, fps_in, fps_timeline, n_inputs) for m in range(n_outputs))
    return [p for p in found if not p.is_copy]


def output_frames(path: str | Path, seconds: float, *, fps_in: Fraction, fps_out: Fraction, fps_timeline: Fraction,
                  most: int = MAX_VIEWER_FRAMES) -> tuple[list[np.ndarray], list[Fraction]]:
    """An output's frames showing the input's first ``seconds``, and each one's input position: its time in the
    file (from its first frame) on the input's clock, put on the grid the frames were made on (1 / fps_timeline
    apart: a container's rounded times and a GIF's centiseconds land on the frame that was made there)."""
    step = fps_in / fps_timeline  # input frames between two made frames
    frames, positions, first = [], [], None
    for t, frame in read_frames(path):
        first = t if first is None else first
        source = (t - first) * fps_out / fps_timeline  # seconds of the input
        if source >= Fraction(seconds) or len(frames) >= most:
            break
        frames.append(frame)
        positions.append(round(source * fps_in / step) * step)
    return frames, positions


def first_frames(path: str | Path, kind: str, count: int) -> list[np.ndarray]:
    """The first ``count`` frames (uint8 RGB) of a video or animation, or of a folder of numbered images."""
    if kind == "frames":
        return [read_image(p) for p in frame_files(path)[:count]]
    return [frame for _, frame in islice(read_frames(path), count)]


def save_frames(frames: list[np.ndarray], folder: Path, prefix: str) -> list[str]:
    """Each frame as a PNG ``<prefix>_<n>.png`` in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    return [str(write_image(folder / f"{prefix}_{k:05d}.png", f)) for k, f in enumerate(frames)]


def even(frame: np.ndarray) -> np.ndarray:
    """The frame cropped to an even width and height (what 4:2:0 video holds)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def write_clip(frames: list[np.ndarray], path: Path, fps) -> str:
    """A short H.264 MP4 a browser plays (frames cropped to even sizes); returns its path."""
    return str(write_video(path, (even(f) for f in frames), fps=Fraction(fps), settings=PREVIEW_ENCODE))


def frame_count(seconds: float, fps, *, most: int = MAX_VIEWER_FRAMES) -> int:
    """Frames in the first ``seconds`` at ``fps`` (at least 2, at most ``most``)."""
    return max(2, min(most, math.ceil(seconds * float(fps))))


def _rate(value) -> Fraction:
    return Fraction(value).limit_denominator(1001)


def make_preview(src: Path, kind: str, summary: dict, folder: Path, *, seconds: float = 2.0) -> dict:
    """The before/after clips and the viewer's frames of a finished job (``summary``: the video tool's). Returns
    the viewer's state: {'before', 'after' (clip paths), 'inputs', 'outputs' (frame paths), 'positions' (each
    output frame's input position, as text)}."""
    fps_in, fps_out, fps_timeline = (_rate(summary[k]) for k in ("fps_in", "fps_out", "fps_timeline"))
    inputs = first_frames(src, kind, frame_count(seconds, fps_in))
    outputs, positions = output_frames(summary["output"], seconds, fps_in=fps_in, fps_out=fps_out,
                                       fps_timeline=fps_timeline)
    folder.mkdir(parents=True, exist_ok=True)
    return {"before": write_clip(inputs, folder / "before.mp4", fps_in),
            "after": write_clip(outputs, folder / "after.mp4", fps_out),
            "inputs": save_frames(inputs, folder, "in"), "outputs": save_frames(outputs, folder, "out"),
            "positions": [str(p) for p in positions]}


def viewer_positions(state: dict) -> list[Position]:
    """Every viewer frame's :class:`Position`."""
    n = len(state["inputs"])
    return [locate(m, Fraction(p), n) for m, p in enumerate(state["positions"])]


def first_inbetween(state: dict) -> int:
    """The first output frame of the viewer made between two input frames (0 when none is)."""
    return next((p.index for p in viewer_positions(state) if not p.is_copy), 0)


def viewer_frame(state: dict | None, index: int) -> tuple[str | None, str | None, str | None, str]:
    """(the input frame before, output frame ``index``, the input frame after, a caption) for the viewer."""
    if not state or not state.get("outputs"):
        return None, None, None, ""
    outputs, inputs = state["outputs"], state["inputs"]
    index = max(0, min(int(index or 0), len(outputs) - 1))
    pos = locate(index, Fraction(state["positions"][index]), len(inputs))
    if pos.is_copy:
        caption = f"output frame {index}: input frame {pos.before} as it is"
    else:
        caption = (f"output frame {index}: made between input frames {pos.before} and {pos.after} "
                   f"at t = {float(pos.t):.3g}")
    return inputs[pos.before], outputs[index], inputs[pos.after], caption


def compare_state(result: dict) -> dict:
    """The compare view's state from :meth:`framegen.app.work.Engine.compare`: the in-between frames of both runs
    (the first :data:`MAX_VIEWER_FRAMES`), the input frames they lie between, and each method's time per frame."""
    a, b = result["runs"]
    s = a["summary"]
    fps_in = Fraction(s["fps_in"]).limit_denominator(1001)
    fps_timeline = Fraction(s["fps_timeline"]).limit_denominator(1001)
    frames_a, frames_b = frame_files(a["frames"]), frame_files(b["frames"])
    n_inputs = int(s["frames_in"])
    inputs = save_frames(first_frames(result["src"], result["kind"], n_inputs), Path(result["scratch"]) / "inputs",
                         "in")
    items = inbetweens(min(len(frames_a), len(frames_b)), fps_in, fps_timeline, len(inputs))[:MAX_VIEWER_FRAMES]
    return {"methods": [a["method"], b["method"]], "ms": [a["ms_per_frame"], b["ms_per_frame"]],
            "items": [[p.index, p.before, p.after, float(p.t)] for p in items], "inputs": inputs,
            "a": [str(frames_a[p.index]) for p in items], "b": [str(frames_b[p.index]) for p in items]}


def compare_frame(state: dict | None, k: int) -> tuple[str | None, str | None, str | None, str | None, str]:
    """(input before, method a's frame, method b's frame, input after, caption) of in-between frame ``k``."""
    if not state or not state.get("items"):
        return None, None, None, None, ""
    k = max(0, min(int(k or 0), len(state["items"]) - 1))
    index, before, after, t = state["items"][k]
    caption = (f"in-between frame {k + 1} of {len(state['items'])} (output frame {index}), between input frames "
               f"{before} and {after} at t = {t:.3g}")
    return state["inputs"][before], state["a"][k], state["b"][k], state["inputs"][after], caption


def timing_table(state: dict) -> str:
    """A Markdown table of each method's time per in-between frame."""
    rows = ["| method | ms per in-between frame (the net alone) |", "|---|---|"]
    for method, ms in zip(state["methods"], state["ms"], strict=True):
        rows.append(f"| {method} | {'-' if ms is None else f'{ms:.1f}'} |")
    return "\n".join(rows)
