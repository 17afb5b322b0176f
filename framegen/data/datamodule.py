"""The LightningDataModule: batches from any data source with ``prepare()`` and ``dataset(split)``."""

from __future__ import annotations

from typing import Protocol

import lightning as L
from torch.utils.data import DataLoader, Dataset


class Source(Protocol):
    """What the DataModule needs of a data source (synthetic motion, UCF-101, a video folder, ...)."""

    def prepare(self) -> None:
        """Download/extract/cache once, in one process (called from ``prepare_data``)."""

    def dataset(self, split: str) -> Dataset:
        """The Dataset of 'train', 'val' or 'test' items: dicts of img0, img1, gt (3, H, W) and t ()."""


class InterpolationDataModule(L.LightningDataModule):
    """Wraps a :class:`Source` with DataLoader settings from the config.

    ``root`` and ``cache_dir`` name where the data lives and where its frame cache goes (the configs'
    ``data.root`` / ``data.cache_dir``, which the source interpolates). Under DDP ``prepare_data`` runs once per
    node and Lightning adds a DistributedSampler to each loader, so every process sees its own shard.
    """

    def __init__(
        self,
        source: Source,
        *,
        root: str | None = None,
        cache_dir: str | None = None,
        batch_size: int = 8,
        val_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        prefetch_factor: int | None = None,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.source = source
        self.root, self.cache_dir = root, cache_dir
        self.batch_size = batch_size
        self.val_batch_size = val_batch_size or batch_size
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
        return DataLoader(self.datasets[split], batch_size=batch_size, shuffle=shuffle,
                          drop_last=shuffle, **self.loader_kwargs)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True, batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False, batch_size=self.val_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False, batch_size=self.val_batch_size)

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()
