"""Data sources (synthetic motion, ...) and the LightningDataModule that batches them."""

from framegen.data.datamodule import InterpolationDataModule, Source
from framegen.data.synthetic import MotionConfig, SyntheticMotion, SyntheticSource, load_photos

__all__ = ["InterpolationDataModule", "MotionConfig", "Source", "SyntheticMotion", "SyntheticSource", "load_photos"]
