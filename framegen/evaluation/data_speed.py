"""Speed of the data pipeline: decord's raw decoding, the frame-cache build, and DataLoader throughput."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from hydra.utils import instantiate

from framegen.data.datamodule import InterpolationDataModule
from framegen.data.sources import VideoSource
from framegen.data.video import FrameReader, VideoReadError


def raw_decode_fps(source: VideoSource) -> tuple[float, int]:
    """Frames per second of decoding every listed video at native size (decord; image folders via OpenCV)."""
    frames, t0 = 0, time.perf_counter()
    for entry in source.entries():
        try:
            frames += len(FrameReader(entry.path).read_all(stride=source.stride))
        except VideoReadError:
            continue
    return frames / max(time.perf_counter() - t0, 1e-9), frames


def cache_build_fps(source: VideoSource, *, fresh: bool = True) -> dict:
    """Build the cache from scratch (deleting ``source.cache_dir`` first when ``fresh``); its processing record."""
    if fresh and Path(source.cache_dir).exists():
        shutil.rmtree(source.cache_dir)
    meta = source.prepare()
    return meta["processing"]


def loader_throughput(source: VideoSource, *, num_workers: int, batch_size: int, batches: int, warmup: int = 2) -> float:
    """Training samples per second delivered by the DataLoader (after ``warmup`` batches)."""
    dm = InterpolationDataModule(source, batch_size=batch_size, num_workers=num_workers,
                                 persistent_workers=False)
    dm.setup("fit")
    it = iter(dm.train_dataloader())
    seen, t0 = 0, None
    for i in range(warmup + batches):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(dm.train_dataloader())
            batch = next(it)
        if i == warmup - 1 or (warmup == 0 and i == 0):
            t0 = time.perf_counter()
        elif i >= warmup:
            seen += batch["img0"].shape[0]
    return seen / max(time.perf_counter() - t0, 1e-9)


def data_speed_report(cfg, argv: list[str]) -> str:
    """The markdown table of :func:`raw_decode_fps`, :func:`cache_build_fps` and :func:`loader_throughput` for the
    source of ``cfg.data`` (``conf/benchmark_data.yaml``), headed by the command that made it (``argv``); appended
    to ``cfg.output`` when set."""
    source = instantiate(cfg.data.source)
    raw, n = raw_decode_fps(source)
    build = cache_build_fps(source)
    rows = [f"| decord decode, native size ({n} frames) | {raw:.0f} frames/s |",
            f"| cache build: decode + resize + checks + write ({build['frames_decoded']} frames) "
            f"| {build['frames_per_second']:.0f} frames/s |"]
    for w in cfg.workers:
        sps = loader_throughput(source, num_workers=int(w), batch_size=int(cfg.batch_size), batches=int(cfg.batches))
        rows.append(f"| DataLoader from the cache, {w} workers, batch {cfg.batch_size} | {sps:.0f} samples/s |")
    text = "\n".join([f"`python scripts/benchmark_data.py {' '.join(argv)}`", "", "| what | speed |",
                      "| --- | --- |", *rows, ""])
    if cfg.output:
        with open(cfg.output, "a") as f:
            f.write(text + "\n")
    return text
