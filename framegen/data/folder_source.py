"""``data=video_folder``: your own videos or frame folders as a data source, with the grouping that keeps clips
of one scene in one split (by name, by pattern, by the picture of their first frames)."""

from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from framegen.data.entries import VideoEntry
from framegen.data.sources import VideoSource
from framegen.data.splits import SPLITS, merge_groups, scene_name
from framegen.data.ucf101 import parse_name
from framegen.data.video import VideoReadError
from framegen.media import VIDEO_SUFFIXES, is_frame_folder, user_path

log = logging.getLogger(__name__)

# first frames whose 16x16 grey thumbnails (each normalised to mean 0, deviation 1) differ by less than this on
# average show the same scene (a re-encode, another size, a graded copy); flatter thumbnails (a black or blank
# first frame, a fade-in) say nothing about the scene and are not compared
SAME_FIRST_FRAME = 0.3
FLAT_FIRST_FRAME = 8.0


class VideoFolderSource(VideoSource):
    """``data=video_folder``: your own videos (any container decord reads) or folders of numbered images.

    With ``root/train``, ``root/val``, ``root/test`` the folders decide the split; otherwise the videos are split
    automatically. A video's class is its parent folder's name (so class subfolders stratify the split); its group
    is the match of ``group_pattern`` in the file name, else (``group_by_name``) the scene its name says
    (:func:`~framegen.data.splits.scene_name`: ``carphone_pristine`` and ``carphone_distorted`` are ``carphone``),
    else the video itself; with ``group_by_content`` clips of one class whose first frames show the same picture
    (a re-encode under another name) join one group too. Clips of one group land in one split.
    """

    def __init__(self, *, root: str, group_pattern: str | None = None, group_by_name: bool = True,
                 group_by_content: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.root = user_path(root)
        self.group_pattern = group_pattern
        self.group_by_name, self.group_by_content = bool(group_by_name), bool(group_by_content)

    def _automatic_split(self) -> bool:
        """The split is made here (no train/ val/ test folders) and shares the clips among more than one split."""
        return (not any((self.root / s).is_dir() for s in SPLITS)) and sum(r > 0 for r in self.ratios) > 1

    def cache_config(self) -> dict:
        config = super().cache_config()
        if self._automatic_split():  # the grouping decides the split only then; other caches keep their hash
            config["grouping"] = {"rule": "scene_name-2", "by_name": self.group_by_name,
                                  "by_content": self.group_by_content}
        return config

    def regroup(self, entries: list[VideoEntry]) -> list[VideoEntry]:
        if not self.group_by_content or len(entries) < 2:
            return entries
        thumbs = [self._first_frame(e) for e in entries]
        same = []
        for i, a in enumerate(thumbs):
            for j in range(i + 1, len(entries)):
                b = thumbs[j]
                if (a is not None and b is not None and entries[i].label == entries[j].label
                        and entries[i].group != entries[j].group and float(np.abs(a - b).mean()) < SAME_FIRST_FRAME):
                    same.append((i, j))
                    log.info("same first frame: %s and %s share a split", entries[i].video_id, entries[j].video_id)
        return merge_groups(entries, same) if same else entries

    def _first_frame(self, entry: VideoEntry) -> np.ndarray | None:
        """A normalised 16x16 grey thumbnail of a clip's first frame; None when it is flat or unreadable."""
        try:
            frame = self.open_reader(entry.path).read([0])[0]
        except (VideoReadError, IndexError, OSError):
            return None
        grey = cv2.resize(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), (16, 16), interpolation=cv2.INTER_AREA)
        grey = grey.astype(np.float32)
        if grey.std() < FLAT_FIRST_FRAME:
            return None
        return (grey - grey.mean()) / grey.std()

    def identity(self) -> dict:
        return {"kind": "video_folder", "root": str(self.root.resolve()), "group_pattern": self.group_pattern}

    def _scan(self, folder: Path, split: str | None) -> list[VideoEntry]:
        entries = []
        for path in sorted(folder.rglob("*")):
            is_video = path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES
            if not (is_video or is_frame_folder(path)):
                continue
            rel = path.relative_to(folder)
            label = rel.parts[0] if len(rel.parts) > 1 else "default"
            vid = str(rel.with_suffix("")).replace(os.sep, "__") if is_video else str(rel).replace(os.sep, "__")
            m = re.search(self.group_pattern, path.stem) if self.group_pattern else None
            parsed = parse_name(path.stem)
            scene = scene_name(path.stem) if self.group_by_name else vid
            group = f"{label}:{m.group(0)}" if m else (parsed[1] if parsed else f"{label}:{scene}")
            entries.append(VideoEntry(video_id=vid, label=label, group=group, path=str(path), split=split))
        return entries

    def entries(self) -> list[VideoEntry]:
        if not self.root.is_dir():
            raise FileNotFoundError(f"video folder not found: {self.root} (set data.root)")
        split_dirs = [self.root / s for s in SPLITS if (self.root / s).is_dir()]
        if split_dirs:
            entries = [e for d in split_dirs for e in self._scan(d, d.name)]
        else:
            entries = self._scan(self.root, None)
        if not entries:
            raise FileNotFoundError(f"no videos or frame folders under {self.root}")
        return self._names_that_tell_nothing_apart(entries) if self.group_by_name else entries

    def _names_that_tell_nothing_apart(self, entries: list[VideoEntry]) -> list[VideoEntry]:
        """A class of 3 or more clips whose names all give one scene (``video_1`` ... ``video_12``, ``2024_07_01``
        ...) would put every clip in one split: there the name says nothing, and each clip is its own group."""
        by_label: dict[str, list[VideoEntry]] = defaultdict(list)
        for e in entries:
            by_label[e.label].append(e)
        out = []
        for label, group in by_label.items():
            named = [e for e in group if e.group == f"{label}:{scene_name(Path(e.path).stem)}"]
            if len(group) >= 3 and len(named) == len(group) and len({e.group for e in group}) == 1:
                log.warning("every clip of %s has the scene name %r: each clip is its own group instead",
                            self.root / (label if label != "default" else ""), group[0].group.split(":", 1)[1])
                group = [replace(e, group=f"{label}:{e.video_id}") for e in group]
            out += group
        return out
