"""The thread harness around the scheduler: decode (thread) -> schedule + batched inference (caller's thread) ->
encode (thread).

Memory stays bounded: frames flow through small queues and only the current pair and the pending batch are held.
What each output frame gets is decided by :mod:`framegen.inference.schedule`; this module only moves frames.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from framegen.errors import FramegenError
from framegen.image_tensor import to_image, to_tensor
from framegen.inference.interpolator import Interpolator
from framegen.inference.schedule import (
    DUPLICATE,
    FIRST,
    INTERPOLATE,
    SceneSettings,
    Scheduler,
    Slot,
    classify,
)
from framegen.media import signature

log = logging.getLogger(__name__)
_END = object()


class NonFiniteOutput(FramegenError, RuntimeError):
    """The net produced NaN or infinite values (broken weights); nothing of it is written."""


class _Worker(threading.Thread):
    """A daemon thread that runs ``target`` and keeps its exception (and busy seconds) for the main thread."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self.error, self.busy = target, None, 0.0

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            self.error = err


@dataclass
class _Pending:
    """Output slots waiting for the current batch: each a ready frame or an index into ``jobs``."""

    slots: list = field(default_factory=list)
    jobs: list = field(default_factory=list)


class _Harness:
    def __init__(self, frames, sink, interpolator: Interpolator, *, scenes: SceneSettings, queue_size: int,
                 start_index: int, progress_bar) -> None:
        self.frames, self.sink, self.interpolator, self.scenes = frames, sink, interpolator, scenes
        self.start_index, self.bar, self.queue_size = start_index, progress_bar, queue_size
        self.decoded: queue.Queue = queue.Queue(maxsize=queue_size)
        self.encoded: queue.Queue = queue.Queue(maxsize=queue_size)
        self.stop = threading.Event()
        self.decoder = _Worker(self._decode, "framegen-decode")
        self.encoder = _Worker(self._encode, "framegen-encode")
        self.pending = _Pending()
        self.dtype = np.uint8
        self.stats = {"frames_in": 0, "frames_out": 0, "written": 0, "interpolated": 0, "cuts": 0, "duplicates": 0,
                      "duplicates_removed": 0, "resumed_at": start_index}
        self.boundary, self.done = sink.boundary, sink.done

    # ---------------------------------------------------------------- threads
    def _put(self, q: queue.Queue, item, consumer: _Worker | None = None) -> None:
        """Put into a bounded queue; give up when the run stops, or raise the error of a ``consumer`` that died
        (a full disk in the encoder must not leave the main thread waiting on a queue nobody empties)."""
        while not self.stop.is_set():
            if consumer is not None and consumer.error is not None:
                raise consumer.error
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _decode(self) -> None:
        it = iter(self.frames)
        while not self.stop.is_set():
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                break
            finally:
                self.decoder.busy += time.perf_counter() - t0
            self._put(self.decoded, item)
        self._put(self.decoded, _END)

    def _encode(self) -> None:
        while not self.stop.is_set():  # a failed or cancelled run stops it: the sink is aborted after it ends
            try:
                item = self.encoded.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is _END:
                return
            t0 = time.perf_counter()
            self.sink.write(item)
            self.encoder.busy += time.perf_counter() - t0

    def next_frame(self):
        while True:
            try:
                item = self.decoded.get(timeout=0.1)
                break
            except queue.Empty:
                if self.decoder.error:
                    raise self.decoder.error
                if not self.decoder.is_alive() and self.decoded.empty():
                    raise RuntimeError("the decoder stopped without finishing")
        if self.decoder.error and item is _END:
            raise self.decoder.error
        return item

    # --------------------------------------------------------------- slots
    def wanted(self, index: int) -> bool:
        return index >= self.start_index and not self.done(index)

    def add(self, slot: Slot, f0: np.ndarray, f1: np.ndarray, x0, x1) -> None:
        """Queue one output slot (slots before ``start_index``, and those the sink holds already, were written by an
        earlier run: skipped)."""
        if not self.wanted(slot.index):
            return
        if self.boundary(slot.index):
            self.flush()
        if slot.kind == INTERPOLATE:
            self.pending.jobs.append((x0, x1, slot.t))
            self.pending.slots.append(len(self.pending.jobs) - 1)
        else:
            self.pending.slots.append(f0 if slot.kind == FIRST else f1)
        if len(self.pending.jobs) >= self.interpolator.batch_size or len(self.pending.slots) >= 4 * self.queue_size:
            self.flush()

    def flush(self) -> None:
        jobs, results = self.pending.jobs, []
        if jobs:
            out = self.interpolator(torch.stack([j[0] for j in jobs]), torch.stack([j[1] for j in jobs]),
                                    torch.tensor([j[2] for j in jobs]))
            if not torch.isfinite(out).all():
                raise NonFiniteOutput("the model produced NaN/inf frames (its weights are broken); nothing was written")
            results = list(to_image(out, self.dtype))
            self.stats["interpolated"] += len(jobs)
        for slot in self.pending.slots:
            if self.encoder.error:
                raise self.encoder.error
            self._put(self.encoded, results[slot] if isinstance(slot, int) else slot, consumer=self.encoder)
            self.stats["written"] += 1
            if self.bar is not None:
                self.bar.update(1)
        self.pending = _Pending()

    # ----------------------------------------------------------------- run
    def run(self, out_fps: Fraction, frame_duration: Fraction) -> dict:
        self.decoder.start()
        self.encoder.start()
        try:
            first = self.next_frame()
            if first is _END:
                raise ValueError("the input has no frames")
            p0, f0 = first
            self.dtype = f0.dtype
            schedule = Scheduler(out_fps, p0)
            s0, x0 = signature(f0), None
            self.stats["frames_in"] = 1
            while (item := self.next_frame()) is not _END:
                p1, f1 = item
                self.stats["frames_in"] += 1
                if f1.shape != f0.shape:
                    raise ValueError(f"frame size changes mid-stream ({f0.shape[1]}x{f0.shape[0]} -> "
                                     f"{f1.shape[1]}x{f1.shape[0]})")
                s1 = signature(f1)
                kind = classify(s0, s1, self.scenes)
                if kind == DUPLICATE and self.scenes.remove_duplicates:
                    self.stats["duplicates_removed"] += 1
                    continue  # the next different frame spans the gap
                self.stats["cuts"] += int(kind == "cut")
                self.stats["duplicates"] += int(kind == DUPLICATE)
                slots = schedule.pair(p0, p1, kind)
                x1 = None
                if any(s.kind == INTERPOLATE and self.wanted(s.index) for s in slots):
                    x0 = x0 if x0 is not None else to_tensor(f0)[0]
                    x1 = to_tensor(f1)[0]
                for slot in slots:
                    self.add(slot, f0, f1, x0, x1)
                p0, f0, s0, x0 = p1, f1, s1, x1
            for slot in schedule.tail(p0 + frame_duration):
                self.add(slot, f0, f0, None, None)
            self.flush()
            self.stats["frames_out"] = schedule.next_index
            self._put(self.encoded, _END, consumer=self.encoder)
            self.encoder.join()
            if self.encoder.error:
                raise self.encoder.error
        finally:
            self.stop.set()
            self.decoder.join(timeout=5)
            self.encoder.join(timeout=5)
        return self.stats


def run_pipeline(frames: Iterator[tuple[Fraction, np.ndarray]], sink, interpolator: Interpolator, *,
                 out_fps: Fraction, frame_duration: Fraction, scenes: SceneSettings | None = None,
                 total: int | None = None, progress: bool | Callable = True, queue_size: int = 16,
                 start_index: int = 0) -> dict:
    """Interpolate a stream of (time, RGB frame) into ``sink`` (a :class:`~framegen.inference.sinks.Sink`) at
    ``out_fps``.

    ``sink.write(frame)`` receives the output frames in order from ``start_index`` (earlier ones were written by an
    interrupted run and are neither computed nor written, nor are those for which ``sink.done(index)`` is true);
    every inference batch is cut at ``sink.boundary(index)``, so a resumed run computes exactly the same frames.
    Returns counts and timings; exceptions from any stage are raised here (the caller aborts the sink).
    """
    bar = None
    if callable(progress):  # a caller's own bar, made as tqdm is (the web app's): update(n) per frame, close()
        bar = progress(total=total, initial=min(start_index, total or start_index))
    elif progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=min(start_index, total or start_index), unit="frame", desc="interpolating",
                   dynamic_ncols=True)
    wall = time.perf_counter()
    harness = _Harness(frames, sink, interpolator, scenes=scenes or SceneSettings(), queue_size=queue_size, start_index=start_index,
                       progress_bar=bar)
    try:
        stats = harness.run(out_fps, frame_duration)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - wall
    stats.update(seconds=seconds, decode_seconds=harness.decoder.busy, encode_seconds=harness.encoder.busy,
                 fps_processing=stats["written"] / seconds if seconds > 0 else 0.0)
    return stats
