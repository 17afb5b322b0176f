"""The one atomic-write helper: whole or nothing, and never a folder replaced by a file."""

from __future__ import annotations

import pytest

from framegen.atomic import atomic_path, write_text_atomically


def test_a_file_appears_whole_and_a_failed_write_leaves_the_old_one(tmp_path):
    path = write_text_atomically(tmp_path / "state.json", "old")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]
    write_text_atomically(path, "new")
    assert path.read_text() == "new" and len(list(tmp_path.iterdir())) == 1


def test_a_folder_replaces_a_folder(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in folder.iterdir()] == ["new.txt"] and len(list(tmp_path.iterdir())) == 1


def test_a_file_never_replaces_a_folder(tmp_path):
    folder = tmp_path / "model.pth"  # a folder of the user's where a file is to be written
    folder.mkdir()
    (folder / "mine.txt").write_text("mine")
    with pytest.raises(IsADirectoryError), atomic_path(folder) as tmp:
        tmp.write_text("weights")
    assert (folder / "mine.txt").read_text() == "mine" and len(list(tmp_path.iterdir())) == 1
