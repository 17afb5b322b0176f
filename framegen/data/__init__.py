"""Data sources (synthetic motion, UCF-101, Hugging Face mirrors, video folders, Vimeo-90K and X4K1000FPS) and the
LightningDataModule."""

from framegen.data.cache import CacheError, FrameCache
from framegen.data.datamodule import DataError, InterpolationDataModule, Source
from framegen.data.entries import VideoEntry
from framegen.data.folder_source import VideoFolderSource
from framegen.data.hf import HFUCF101Source
from framegen.data.mixed import MixedDataset, MixedSource
from framegen.data.research_sets import ResearchSetError
from framegen.data.research_sources import VimeoSource, X4KSource
from framegen.data.sources import UCF101Source, VideoSource
from framegen.data.synthetic import MotionConfig, SyntheticMotion, SyntheticSource, load_photos

__all__ = [
    "CacheError",
    "DataError",
    "FrameCache",
    "HFUCF101Source",
    "InterpolationDataModule",
    "MixedDataset",
    "MixedSource",
    "MotionConfig",
    "ResearchSetError",
    "Source",
    "SyntheticMotion",
    "SyntheticSource",
    "UCF101Source",
    "VideoEntry",
    "VideoFolderSource",
    "VideoSource",
    "VimeoSource",
    "X4KSource",
    "load_photos",
]
