"""The streaming video interpolation pipeline: decode (thread) -> schedule + batched inference -> encode (thread).

Memory stays bounded: frames flow through small queues and only the current pair is held.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from framegen.data.quality import QualityConfig, change, is_cut, signature
from framegen.inference.interpolator import Interpolator

log = logging.getLogger(__name__)
_END = object()


@dataclass
class SceneSettings:
    """Scene cuts (no ghost blends across them) and duplicate frames (not treated as motion)."""

    detect_cuts: bool = True
    cut_threshold: float = 20.0
    cut_hist: float = 0.4
    # a pair whose mean grey difference is below this (0-255) is a duplicate: copied, not interpolated
    duplicate_threshold: float = 0.3
    remove_duplicates: bool = False


class _Worker(threading.Thread):
    """A thread that remembers its exception for the main thread to raise."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self.error, self.busy = target, None, 0.0

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            self.error = err


def _to_tensor(frame: np.ndarray) -> torch.Tensor:
    scale = 65535.0 if frame.dtype == np.uint16 else 255.0
    return torch.from_numpy(frame).permute(2, 0, 1).float().div_(scale)


def _to_array(t: torch.Tensor, dtype) -> np.ndarray:
    scale = 65535.0 if dtype == np.uint16 else 255.0
    return (t.clamp(0, 1) * scale).round_().to(torch.int32).permute(1, 2, 0).numpy().astype(dtype)


def run_pipeline(frames: Iterator[tuple[Fraction, np.ndarray]], sink, interpolator: Interpolator, *,
                 out_fps: Fraction, frame_duration: Fraction, scenes: SceneSettings = SceneSettings(),
                 total: int | None = None, progress: bool = True, queue_size: int = 16) -> dict:
    """Interpolate a stream of (time, RGB frame) into ``sink`` (``write(frame)``) at ``out_fps``.

    Returns counts and timings; exceptions from any stage are raised here (the caller aborts the sink).
    """
    decoded: queue.Queue = queue.Queue(maxsize=queue_size)
    encoded: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()

    def put(q: queue.Queue, item) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def decode() -> None:
        it = iter(frames)
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                break
            finally:
                decoder.busy += time.perf_counter() - t0
            put(decoded, item)
        put(decoded, _END)

    def encode() -> None:
        while True:
            item = encoded.get()
            if item is _END:
                return
            t0 = time.perf_counter()
            sink.write(item)
            encoder.busy += time.perf_counter() - t0

    decoder, encoder = _Worker(decode, "framegen-decode"), _Worker(encode, "framegen-encode")
    cfg = QualityConfig(cut_threshold=scenes.cut_threshold, cut_hist=scenes.cut_hist)
    stats = {"frames_in": 0, "frames_out": 0, "interpolated": 0, "cuts": 0, "duplicates": 0, "duplicates_removed": 0}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, unit="frame", desc="interpolating", dynamic_ncols=True)
    pending: list = []  # output slots, in order: np.ndarray (ready) or int (index into jobs)
    jobs: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    dtype = [np.uint8]

    def emit(item) -> None:
        if encoder.error:
            raise encoder.error
        put(encoded, item)
        stats["frames_out"] += 1
        if bar is not None:
            bar.update(1)

    def flush() -> None:
        results = []
        if jobs:
            out = interpolator(torch.stack([j[0] for j in jobs]), torch.stack([j[1] for j in jobs]),
                               torch.tensor([j[2] for j in jobs]))
            results = [_to_array(o, dtype[0]) for o in out]
            stats["interpolated"] += len(jobs)
        for slot in pending:
            emit(results[slot] if isinstance(slot, int) else slot)
        pending.clear()
        jobs.clear()

    def get_decoded():
        while True:
            try:
                item = decoded.get(timeout=0.1)
                break
            except queue.Empty:
                if decoder.error:
                    raise decoder.error
                if not decoder.is_alive() and decoded.empty():
                    raise RuntimeError("the decoder stopped without finishing")
        if decoder.error and item is _END:
            raise decoder.error
        return item

    wall = time.perf_counter()
    decoder.start()
    encoder.start()
    try:
        first = get_decoded()
        if first is _END:
            raise ValueError("the input has no frames")
        p0, f0 = first
        dtype[0] = f0.dtype
        start, m = p0, 0
        x0, s0 = _to_tensor(f0), signature(f0)
        stats["frames_in"] = 1
        while True:
            item = get_decoded()
            if item is _END:
                break
            p1, f1 = item
            stats["frames_in"] += 1
            if f1.shape != f0.shape:
                raise ValueError(f"frame size changes mid-stream ({f0.shape[1]}x{f0.shape[0]} -> {f1.shape[1]}x{f1.shape[0]})")
            s1 = signature(f1)
            diff, hist = change(s0, s1)
            dup = diff < scenes.duplicate_threshold
            if dup and scenes.remove_duplicates:
                stats["duplicates_removed"] += 1
                continue  # the next different frame spans the gap
            cut = scenes.detect_cuts and is_cut(diff, hist, cfg)
            stats["cuts"] += int(cut)
            stats["duplicates"] += int(dup)
            x1 = None if (cut or dup) else _to_tensor(f1)
            span = p1 - p0
            while span > 0 and start + Fraction(m) / out_fps < p1:
                t = (start + Fraction(m) / out_fps - p0) / span
                if t == 0 or dup:
                    pending.append(f0)
                elif cut:
                    pending.append(f0 if t < Fraction(1, 2) else f1)
                else:
                    jobs.append((x0, x1, float(t)))
                    pending.append(len(jobs) - 1)
                m += 1
                if len(jobs) >= interpolator.batch_size or len(pending) >= 4 * queue_size:
                    flush()
            p0, f0, s0 = p1, f1, s1
            x0 = x1 if x1 is not None else _to_tensor(f1)
        end = p0 + frame_duration
        while start + Fraction(m) / out_fps < end:
            pending.append(f0)
            m += 1
        flush()
        put(encoded, _END)
        encoder.join()
        if encoder.error:
            raise encoder.error
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        if bar is not None:
            bar.close()
        decoder.join(timeout=5)
    seconds = time.perf_counter() - wall
    stats.update(seconds=seconds, decode_seconds=decoder.busy, encode_seconds=encoder.busy,
                 fps_processing=stats["frames_out"] / seconds if seconds > 0 else 0.0)
    return stats
