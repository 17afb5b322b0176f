"""Live streams: feed frames as they arrive (a camera, ``cv2.VideoCapture(0)``, any iterator) and get back the
frames due so far, in display order. The in-between frames of a pair need its second frame, so the latency is one
input frame interval plus the time to interpolate the pair; memory is one frame."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from framegen.inference.interpolator import Interpolator
from framegen.inference.schedule import FIRST, INTERPOLATE, SceneSettings, classify, pair_slots
from framegen.media import signature

log = logging.getLogger(__name__)


class RealtimeInterpolator:
    """``process_frame(frame)`` -> [in-betweens of (previous, frame)..., frame]; the first call returns [frame].

    Frames are (H, W, 3) uint8 RGB. Across a scene cut the in-betweens repeat the nearest real frame.
    ``latencies`` holds the processing seconds of each call.
    """

    def __init__(self, interpolator: Interpolator, *, factor: int = 2, scenes: SceneSettings = SceneSettings()) -> None:
        if factor < 1:
            raise ValueError(f"factor must be >= 1, got {factor}")
        self.interpolator, self.factor, self.scenes = interpolator, int(factor), scenes
        self._prev: np.ndarray | None = None
        self._prev_sig = None
        self.latencies: list[float] = []

    def reset(self) -> None:
        self._prev, self._prev_sig = None, None

    def process_frame(self, frame: np.ndarray) -> list[np.ndarray]:
        start = time.perf_counter()
        sig = signature(frame)
        out: list[np.ndarray] = []
        if self._prev is not None and self.factor > 1:
            slots = pair_slots([j / self.factor for j in range(1, self.factor)], classify(self._prev_sig, sig, self.scenes))
            wanted = [s.t for s in slots if s.kind == INTERPOLATE]
            made = iter(self.interpolator.between(self._prev, frame, times=wanted) if wanted else [])
            for s in slots:
                out.append(next(made) if s.kind == INTERPOLATE else self._prev if s.kind == FIRST else frame)
        out.append(frame)
        self._prev, self._prev_sig = frame, sig
        self.latencies.append(time.perf_counter() - start)
        return out

    def stream(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in frames:
            yield from self.process_frame(frame)


def capture_frames(capture) -> Iterator[np.ndarray]:
    """RGB frames from an OpenCV capture (``cv2.VideoCapture(0)`` or a file) until it ends; one warning when it gives
    none at all (no camera at that index, a camera another program holds, a missing or unreadable file)."""
    count = 0
    while True:
        ok, bgr = capture.read()
        if not ok:
            if count == 0:
                log.warning("the capture gave no frames (%s): no camera at that index, a camera in use by another "
                            "program or without permission, or a missing or unreadable file",
                            "it did not open" if not capture.isOpened() else "it opened, but the first read failed")
            return
        count += 1
        yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
