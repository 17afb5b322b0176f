"""What a video source lists: one entry per video."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoEntry:
    """One video: its id (the file stem), class label, group (clips that must share a split) and location.

    ``path`` is a video file or a folder of numbered images; sources whose frames live elsewhere (a parquet
    table) use ``path`` as their own key. ``split`` is set when the source fixes it (train/val/test folders,
    official lists).
    """

    video_id: str
    label: str
    group: str
    path: str
    split: str | None = None
