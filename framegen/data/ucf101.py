"""UCF-101 naming: ``<root>/<Class>/v_<Class>_gXX_cYY.avi``, and the official split lists."""

from __future__ import annotations

import re
from pathlib import Path

from framegen.data.entries import VideoEntry
from framegen.media import VIDEO_SUFFIXES

_NAME = re.compile(r"^v_(?P<label>[A-Za-z0-9]+)_g(?P<group>\d+)_c(?P<clip>\d+)$")


def parse_name(stem: str) -> tuple[str, str] | None:
    """'v_YoYo_g01_c03' -> ('YoYo', 'YoYo_g01'); None for names outside the UCF-101 pattern."""
    m = _NAME.match(stem)
    if not m:
        return None
    return m["label"], f"{m['label']}_g{int(m['group']):02d}"


def list_ucf101(root: str | Path) -> list[VideoEntry]:
    """Every video of an official UCF-101 tree (class folders holding the clips)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"UCF-101 root not found: {root} (set data.source.root to the folder of class folders)")
    entries = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            parsed = parse_name(path.stem)
            label, group = parsed if parsed else (class_dir.name, f"{class_dir.name}_{path.stem}")
            entries.append(VideoEntry(video_id=path.stem, label=label, group=group, path=str(path)))
    if not entries:
        raise FileNotFoundError(f"no videos under {root}: expected <root>/<Class>/v_<Class>_gXX_cYY.avi")
    return entries


def read_official_lists(folder: str | Path, index: int = 1) -> dict[str, set[str]]:
    """{'train': video ids, 'test': video ids} from ``trainlist0N.txt`` / ``testlist0N.txt``."""
    folder = Path(folder)
    out = {}
    for split in ("train", "test"):
        path = folder / f"{split}list{index:02d}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"official split list not found: {path}")
        ids = set()
        for line in path.read_text().splitlines():
            if line.strip():
                ids.add(Path(line.split()[0]).stem)
        out[split] = ids
    return out
