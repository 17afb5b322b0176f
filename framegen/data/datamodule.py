"""The LightningDataModule: batches from any data source with ``prepare()`` and ``dataset(split)``."""

from __future__ import annotations

import logging
import os
from typing import Protocol

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset, default_collate

from framegen.errors import FramegenError

log = logging.getLogger(__name__)


class DataError(FramegenError, RuntimeError):
    """The data cannot make batches (no samples, no usable videos); the message is one line."""

    exit_code = 1


def auto_workers(cap: int = 8) -> int:
    """DataLoader workers for this machine: as many as its CPUs, at most ``cap``."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(0, min(cap, cpus))


class Source(Protocol):
    """What the DataModule needs of a data source (synthetic motion, UCF-101, a video folder, ...)."""

    def prepare(self) -> None:
        """Download/extract/cache once, in one process (called from ``prepare_data``)."""

    def dataset(self, split: str) -> Dataset:
        """The Dataset of 'train', 'val' or 'test' items: dicts of img0, img1, gt (3, H, W) and t ()."""


def collate_samples(samples: list[dict]) -> dict:
    """default_collate, plus: when some samples carry exact intermediate ``flows`` (4, H, W) and others do not
    (synthetic and real footage mixed), the others get zeros and ``flows_valid`` (B,) says which rows are real."""
    if any("flows" in s for s in samples):
        filled = []
        for s in samples:
            has = "flows" in s
            flows = s["flows"] if has else s["img0"].new_zeros((4, *s["img0"].shape[-2:]))
            filled.append({**s, "flows": flows, "flows_valid": torch.tensor(1.0 if has else 0.0)})
        samples = filled
    return default_collate(samples)


class InterpolationDataModule(L.LightningDataModule):
    """Wraps a :class:`Source` with DataLoader settings from the config.

    ``root`` and ``cache_dir`` are accepted for the configs' ``data.root`` / ``data.cache_dir`` (which the source
    interpolates); the module itself does not use them. ``num_workers='auto'`` uses as many workers as CPUs (at most
    8). Fewer training samples than ``batch_size`` shrink the batch with a warning; none is a DataError. Under DDP
    ``prepare_data`` runs once per node and Lightning adds a DistributedSampler to each loader, so every process
    sees its own shard.
    """

    def __init__(
        self,
        source: Source,
        *,
        root: str | None = None,
        cache_dir: str | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int | str = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        prefetch_factor: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
        num_workers = auto_workers() if num_workers == "auto" else int(num_workers)
        self.loader_kwargs = {
            "num_workers": num_workers,
            "pin_memory": pin_memory,
            "persistent_workers": persistent_workers and num_workers > 0,
        }
        if num_workers > 0 and prefetch_factor:
            self.loader_kwargs["prefetch_factor"] = prefetch_factor
        self.datasets: dict[str, Dataset] = {}

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage, ("train", "val", "test")):
            if split not in self.datasets:
                self.datasets[split] = self.source.dataset(split)

    def _loader(self, split: str, *, shuffle: bool, batch_size: int) -> DataLoader:
        if split not in self.datasets:
            self.setup({"train": "fit", "val": "validate"}.get(split, "test"))
        n = len(self.datasets[split])
        if split == "train" and n < batch_size:
            if n == 0:
                raise DataError("no training samples: every video is too short for a window of k+1 frames, or was "
                                "filtered out (see the cache's metadata.json); add footage or lower data.source.k")
            log.warning("only %d training samples per epoch, fewer than data.batch_size=%d: batches of %d are used",
                        n, batch_size, n)
            batch_size = n
        return DataLoader(self.datasets[split], batch_size=batch_size, shuffle=shuffle,
                          drop_last=shuffle, collate_fn=collate_samples, **self.loader_kwargs)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True, batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, batch_size=self.val_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self.val_batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
