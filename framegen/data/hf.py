"""UCF-101 from a Hugging Face dataset repository, read offline: parquet files of frames (one row per frame), or a
zip archive of the official ``<Class>/*.avi`` tree."""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from framegen.atomic import atomic_path
from framegen.data.entries import VideoEntry
from framegen.data.sources import VideoSource
from framegen.data.ucf101 import list_ucf101, parse_name
from framegen.data.video import FrameReader, VideoReadError
from framegen.media import VIDEO_SUFFIXES

log = logging.getLogger(__name__)


class HFUCF101Source(VideoSource):
    """``data=ucf101_hf``: UCF-101 mirrors on the Hugging Face hub, read offline from a local copy.

    kind='parquet': rows of ``image``, ``video_id``, ``clip_id``, ``frame``, ``label`` (e.g. flwrlabs/ucf101);
    kind='archive': a zip of the ``<Class>/*.avi`` tree, extracted once into ``<cache_dir>/raw``.
    ``local_path`` (a folder of parquet files, a parquet file or a zip) is used as is; otherwise the snapshot of
    ``repo_id`` at ``revision`` is looked up in ``hf_cache_dir`` (with ``offline`` no network is attempted).
    """

    def __init__(self, *, kind: str = "parquet", repo_id: str = "flwrlabs/ucf101", revision: str = "main",
                 hf_cache_dir: str | None = None, local_path: str | None = None, offline: bool = True,
                 archive_name: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if kind not in ("parquet", "archive"):
            raise ValueError(f"kind must be 'parquet' or 'archive', got {kind!r}")
        self.kind, self.repo_id, self.revision = kind, repo_id, revision
        self.hf_cache_dir, self.local_path, self.offline = hf_cache_dir, local_path, offline
        self.archive_name = archive_name
        self._table = None
        self._rows: dict[str, list[int]] | None = None

    def identity(self) -> dict:
        return {"kind": f"hf_{self.kind}", "repo_id": self.repo_id, "revision": self.revision,
                "local_path": str(Path(self.local_path).resolve()) if self.local_path else None}

    def _snapshot(self) -> Path:
        if self.local_path:
            path = Path(self.local_path)
            if not path.exists():
                raise FileNotFoundError(f"local copy not found: {path}")
            return path
        if self.offline:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # lazy: an optional extra (framegen[hf]), and it reads HF_HUB_OFFLINE (set just above) when imported
        from huggingface_hub import snapshot_download

        try:
            return Path(snapshot_download(self.repo_id, repo_type="dataset", revision=self.revision,
                                          cache_dir=self.hf_cache_dir))
        except Exception as err:  # noqa: BLE001 - offline misses raise several hub error types
            raise FileNotFoundError(
                f"{self.repo_id}@{self.revision} is not in the local Hugging Face cache {self.hf_cache_dir} "
                f"({type(err).__name__}); download it once where there is network "
                f"(huggingface-cli download {self.repo_id} --repo-type dataset), or set data.source.local_path"
            ) from None

    # ---- parquet
    def _load_table(self):
        if self._table is None:
            import datasets  # lazy: an optional extra (framegen[hf])

            path = self._snapshot()
            files = [str(path)] if path.is_file() else sorted(str(p) for p in path.rglob("*.parquet"))
            if not files:
                raise FileNotFoundError(f"no parquet files in {path}")
            ds = datasets.load_dataset("parquet", data_files={"frames": files}, split="frames",
                                       cache_dir=str(self.cache_dir / "hf_datasets"))
            names = ds.features["label"].names if hasattr(ds.features["label"], "names") else None
            self._label_names = names
            rows: dict[str, list[tuple[int, int]]] = {}
            for i, (vid, frame) in enumerate(zip(ds["video_id"], ds["frame"])):
                rows.setdefault(vid, []).append((int(frame), i))
            self._rows = {vid: [i for _, i in sorted(r)] for vid, r in rows.items()}
            self._table = ds
        return self._table

    def entries(self) -> list[VideoEntry]:
        if self.kind == "archive":
            return list_ucf101(self._extract())
        ds = self._load_table()
        first = {vid: r[0] for vid, r in self._rows.items()}
        labels = ds.select_columns(["label"])
        entries = []
        for vid in sorted(first):
            lab = labels[first[vid]]["label"]
            label = self._label_names[lab] if self._label_names and isinstance(lab, int) else str(lab)
            parsed = parse_name(vid)
            group = parsed[1] if parsed else f"{label}:{vid}"
            entries.append(VideoEntry(video_id=vid, label=label, group=group, path=vid))
        return entries

    def frame_count(self, entry: VideoEntry) -> int:
        if self.kind == "archive":
            return super().frame_count(entry)
        self._load_table()
        return len(self._rows[entry.path])

    def open_reader(self, source: str):
        if self.kind == "archive":
            return FrameReader(source)
        self._load_table()
        return _ParquetVideo(self._table, self._rows[source], source)

    # ---- archive
    def _extract(self) -> Path:
        raw = self.cache_dir / "raw"
        done = raw / ".complete"
        if not done.is_file():
            path = self._snapshot()
            archive = path if path.is_file() else self._find_archive(path)
            log.info("extracting %s into %s", archive, raw)
            try:
                with atomic_path(raw) as tmp:
                    tmp.mkdir(parents=True)
                    with zipfile.ZipFile(archive) as zf:
                        zf.extractall(tmp)
            except zipfile.BadZipFile as err:
                raise VideoReadError(f"not a zip archive: {archive} ({err})") from None
            done.write_text(str(archive))
        # the folder that holds the class folders
        for d in [raw, *sorted(p for p in raw.rglob("*") if p.is_dir())]:
            if any(c.is_dir() and any(f.suffix.lower() in VIDEO_SUFFIXES for f in c.iterdir()) for c in d.iterdir()):
                return d
        raise FileNotFoundError(f"no <Class>/*.avi tree inside the archive extracted to {raw}")

    def _find_archive(self, folder: Path) -> Path:
        zips = sorted(folder.rglob(self.archive_name or "*.zip"))
        if not zips:
            raise FileNotFoundError(f"no zip archive in {folder}")
        return zips[0]


class _ParquetVideo:
    """Frames of one video stored as image rows of a Hugging Face dataset."""

    def __init__(self, table, rows: list[int], name: str) -> None:
        self.table, self.rows, self.name = table, rows, name

    def __len__(self) -> int:
        return len(self.rows)

    def read(self, indices: Sequence[int]) -> list[np.ndarray]:
        out = []
        for i in indices:
            if not 0 <= i < len(self.rows):
                raise IndexError(f"frame {i} out of range for {self.name} ({len(self.rows)} frames)")
            img = self.table[self.rows[i]]["image"]
            try:
                out.append(np.asarray(img.convert("RGB")))
            except Exception as err:  # noqa: BLE001
                raise VideoReadError(f"cannot decode frame {i} of {self.name}: {err}") from None
        return out
