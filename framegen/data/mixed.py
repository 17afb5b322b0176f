"""Several data sources as one: training samples are drawn from each with given weights; validation and test
concatenate the sources' own splits (empty ones are skipped)."""

from __future__ import annotations

import torch
from torch.utils.data import ConcatDataset, Dataset


class MixedDataset(Dataset):
    """``length`` samples per epoch; each one comes from dataset k with probability ``weights[k]`` and a random index."""

    def __init__(self, datasets: list[Dataset], weights: list[float], *, length: int) -> None:
        if len(datasets) != len(weights) or not datasets:
            raise ValueError("give one weight per dataset")
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {weights}")
        empty = [i for i, d in enumerate(datasets) if len(d) == 0 and weights[i] > 0]
        if empty:
            raise ValueError(f"datasets {empty} are empty but have a positive weight")
        self.datasets, self.length = datasets, int(length)
        self.cum = torch.tensor(weights, dtype=torch.float64).cumsum(0) / sum(weights)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        k = int(torch.searchsorted(self.cum, torch.rand((), dtype=torch.float64)).clamp(max=len(self.datasets) - 1))
        d = self.datasets[k]
        return d[int(torch.randint(len(d), ()))]


class MixedSource:
    """``sources`` {name: source}; ``weights`` {name: share of training samples}; ``train_samples`` per epoch."""

    def __init__(self, *, sources: dict, weights: dict[str, float], train_samples: int = 4000) -> None:
        missing = set(weights) - set(sources)
        if missing:
            raise ValueError(f"weights name unknown sources: {sorted(missing)}")
        self.sources, self.weights, self.train_samples = dict(sources), dict(weights), int(train_samples)

    def prepare(self) -> None:
        for source in self.sources.values():
            source.prepare()

    def dataset(self, split: str) -> Dataset:
        if split == "train":
            names = [n for n in self.sources if self.weights.get(n, 0) > 0]
            return MixedDataset([self.sources[n].dataset("train") for n in names],
                                [self.weights[n] for n in names], length=self.train_samples)
        parts = [d for d in (s.dataset(split) for s in self.sources.values()) if len(d) > 0]
        return ConcatDataset(parts) if parts else ConcatDataset([])
