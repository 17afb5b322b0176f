"""The frame cache: decode every video once, in one process, into
``<cache_dir>/{train,val,test}/<Class>/<video_id>/000000.jpg ...`` plus ``<cache_dir>/metadata.json``.

- A second build with the same config decodes nothing (cache hit); a different config is refused, never reused.
- Each video is written to a temporary folder and renamed when complete; its result is then recorded in
  ``.build/videos/<video_id>.json``. An interrupted build resumes with the videos not yet recorded.
- A full disk or a permission error stops the build with a :class:`CacheError`; completed videos stay valid.
- In on-the-fly mode the same checks run and the same metadata is written, but no frames are stored.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from framegen.atomic import atomic_path, write_text_atomically
from framegen.data.entries import VideoEntry
from framegen.data.quality import QualityConfig, analyse, reject_reason
from framegen.data.splits import SPLITS, achieved_ratios
from framegen.data.video import VideoReadError, fit_frame
from framegen.errors import FramegenError

log = logging.getLogger(__name__)
FORMAT = "framegen.cache/1"


class CacheError(FramegenError, RuntimeError):
    """The cache cannot be built or used (stale config, full disk, no permission)."""

    exit_code = 1


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, obj) -> None:
    write_text_atomically(path, json.dumps(obj, indent=1, sort_keys=True))


def _os_error(err: OSError, path: Path) -> CacheError:
    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        return CacheError(f"no space left on the device while writing {path}; the videos completed so far are kept: "
                          f"free some space and run again to resume")
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CacheError(f"permission denied writing {path}: choose a writable data.source.cache_dir")
    return CacheError(f"cannot write {path}: {err.strerror or err}")


class FrameCache:
    """Builds and reads one cache folder for one config."""

    def __init__(self, root: str | os.PathLike, config: dict, *, store_frames: bool = True,
                 image_format: str = "jpg", jpeg_quality: int = 95) -> None:
        if image_format not in ("jpg", "png"):
            raise ValueError(f"image_format must be 'jpg' or 'png', got {image_format!r}")
        self.root = Path(root)
        self.config = config
        self.hash = config_hash(config)
        self.store_frames = store_frames
        self.image_format, self.jpeg_quality = image_format, int(jpeg_quality)

    @property
    def metadata_path(self) -> Path:
        return self.root / "metadata.json"

    def frame_dir(self, split: str, label: str, video_id: str) -> Path:
        return self.root / split / label / video_id

    def load(self) -> dict | None:
        """The metadata of a complete build with this config; None when there is none; CacheError when stale."""
        if not self.metadata_path.is_file():
            return None
        meta = json.loads(self.metadata_path.read_text())
        if meta.get("config_hash") != self.hash:
            raise CacheError(
                f"{self.root} holds a cache built with another config (hash {meta.get('config_hash')} != {self.hash}); "
                f"use another data.source.cache_dir, or delete that folder to rebuild"
            )
        return meta

    # ----------------------------------------------------------------- build
    def _start(self) -> Path:
        build = self.root / ".build"
        try:
            (build / "videos").mkdir(parents=True, exist_ok=True)
            state = build / "config.json"
            if state.is_file():
                old = json.loads(state.read_text()).get("config_hash")
                if old != self.hash:
                    raise CacheError(
                        f"{self.root} holds an unfinished build with another config (hash {old} != {self.hash}); "
                        f"use another data.source.cache_dir, or delete that folder"
                    )
            else:
                _write_json(state, {"config_hash": self.hash, "config": self.config})
        except OSError as err:
            raise _os_error(err, build) from None
        return build

    def _write_frames(self, frames: Sequence[np.ndarray], split: str, label: str, video_id: str) -> None:
        final = self.frame_dir(split, label, video_id)
        try:
            with atomic_path(final) as tmp:
                tmp.mkdir(parents=True)
                params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality] if self.image_format == "jpg" else []
                for i, frame in enumerate(frames):
                    ok, buf = cv2.imencode(f".{self.image_format}", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
                    if not ok:
                        raise CacheError(f"cannot encode frame {i} of {video_id}")
                    with open(tmp / f"{i:06d}.{self.image_format}", "wb") as f:
                        f.write(buf.tobytes())
        except OSError as err:
            raise _os_error(err, final) from None

    def build(
        self,
        entries: Sequence[VideoEntry],
        assignment: dict[str, str],
        decode: Callable[[VideoEntry], list[np.ndarray]],
        *,
        frame_size: tuple[int, int] | None,
        keep_aspect: bool,
        quality: QualityConfig,
        prefiltered: dict[str, str] | None = None,
        progress: bool = True,
    ) -> dict:
        """Decode, check and store every entry not yet done; write and return the metadata.

        ``assignment`` maps video ids to splits; ``prefiltered`` holds videos already rejected (with reasons).
        """
        meta = self.load()
        if meta is not None:
            log.info("frame cache hit: %s (%d videos, built with config %s); nothing to decode",
                     self.root, sum(len(v) for v in meta["splits"].values()), self.hash)
            return meta
        build = self._start()
        results_dir = build / "videos"
        todo = [e for e in entries if e.video_id in assignment and not (results_dir / f"{e.video_id}.json").is_file()]
        done_before = sum(1 for e in entries if e.video_id in assignment) - len(todo)
        if done_before:
            log.info("resuming the frame cache build in %s: %d videos done, %d to go", self.root, done_before, len(todo))
        t0, frames_decoded = time.perf_counter(), 0
        bar = tqdm(todo, desc="frame cache", unit="video", disable=not progress or not todo)
        for entry in bar:
            split = assignment[entry.video_id]
            result: dict = {"split": split, "label": entry.label, "group": entry.group, "source": entry.path}
            try:
                frames = [fit_frame(f, frame_size, keep_aspect=keep_aspect) for f in decode(entry)]
            except VideoReadError as err:
                result["filtered"] = f"unreadable: {err}"
                frames = []
            if frames:
                frames_decoded += len(frames)
                stats = analyse(frames, quality)
                result.update(frames=stats.frames, blank=stats.blank, cuts=stats.cuts,
                              median_diff=round(stats.median_diff, 3))
                reason = reject_reason(stats, quality)
                if reason:
                    result["filtered"] = reason
                elif self.store_frames:
                    self._write_frames(frames, split, entry.label, entry.video_id)
            elif "filtered" not in result:
                result["filtered"] = "no frames decoded"
            try:
                _write_json(results_dir / f"{entry.video_id}.json", result)
            except OSError as err:
                raise _os_error(err, results_dir) from None
        seconds = time.perf_counter() - t0
        meta = self._collect(entries, assignment, prefiltered or {}, seconds, frames_decoded, len(todo))
        try:
            _write_json(self.metadata_path, meta)
        except OSError as err:
            raise _os_error(err, self.metadata_path) from None
        log.info("frame cache built in %s: %s videos kept, %d filtered, %.1f s, %.0f frames/s",
                 self.root, {k: len(v) for k, v in meta["splits"].items()}, len(meta["filtered"]), seconds,
                 meta["processing"]["frames_per_second"])
        return meta

    def _collect(self, entries, assignment, prefiltered, seconds, frames_decoded, decoded_videos) -> dict:
        results_dir = self.root / ".build" / "videos"
        splits: dict[str, list[str]] = {s: [] for s in SPLITS}
        filtered = dict(prefiltered)
        videos = {}
        per_class: dict[str, Counter] = defaultdict(Counter)
        frames_per_split: Counter = Counter()
        for e in entries:
            if e.video_id not in assignment:
                continue
            r = json.loads((results_dir / f"{e.video_id}.json").read_text())
            if "filtered" in r:
                filtered[e.video_id] = r["filtered"]
                continue
            splits.setdefault(r["split"], []).append(e.video_id)
            videos[e.video_id] = r
            per_class[e.label][r["split"]] += 1
            frames_per_split[r["split"]] += r["frames"]
        splits = {k: sorted(v) for k, v in splits.items()}
        return {
            "format": FORMAT,
            "config_hash": self.hash,
            "config": self.config,
            "store_frames": self.store_frames,
            "image_format": self.image_format,
            "splits": splits,
            "ratios": {k: round(v, 4) for k, v in achieved_ratios(splits).items()},
            "filtered": dict(sorted(filtered.items())),
            "counts": {
                "videos_per_split": {k: len(v) for k, v in splits.items()},
                "frames_per_split": dict(frames_per_split),
                "per_class": {c: dict(v) for c, v in sorted(per_class.items())},
            },
            "videos": videos,
            "processing": {
                "seconds": round(seconds, 3),
                "videos_decoded": decoded_videos,
                "frames_decoded": frames_decoded,
                "frames_per_second": round(frames_decoded / seconds, 1) if seconds > 0 else 0.0,
            },
        }
