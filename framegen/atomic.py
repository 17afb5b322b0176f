"""Writing a file or a folder so that readers see the old one or the whole new one, never a part: the one helper
every writer of framegen uses (checkpoints, caches, JSON state, frames, videos)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (hidden, unique to this call, with ``path``'s suffix so writers that go by
    the suffix still work). What the block writes there replaces ``path`` in one rename when the block ends without
    an error (a folder written there replaces a folder at ``path``; a file never replaces a folder: that raises
IsADirectoryError and the folder stays); when it raises, the temporary file or folder is removed.

    >>> with atomic_path("summary.json") as tmp:
    ...     tmp.write_text("{}")
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)  # a folder replaces a folder (a cache's); a file never replaces a folder
        os.replace(tmp, path)
    finally:
        if tmp.exists() or tmp.is_symlink():
            _remove(tmp)


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """``path.write_text(text)`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
