"""The video data pipeline on a small fake UCF-101 tree of real encoded .avi files."""

from __future__ import annotations

import errno
import json

import numpy as np
import pytest
import torch
from fake_videos import make_ucf_tree, pan_frames, write_video

from framegen.data import CacheError, HFUCF101Source, InterpolationDataModule, UCF101Source, VideoFolderSource
from framegen.data.splits import group_split
from framegen.data.transforms import AugmentConfig, augment
from framegen.data.ucf101 import parse_name

CLASSES = ("Archery", "Biking", "YoYo")


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("UCF-101")
    make_ucf_tree(root, classes=CLASSES, groups=5, clips=2, frames=16)
    return root


def ucf(root, cache_dir, **kw):
    kw = {"frame_size": [32, 48], "k": 2, "progress": False, **kw}
    # the cache in cache_dir itself (not in a keyed sub-folder), so the tests can look at its layout
    return UCF101Source(root=str(root), cache_dir=str(cache_dir), keyed_cache=False, **kw)


def test_parse_ucf_names():
    assert parse_name("v_YoYo_g01_c03") == ("YoYo", "YoYo_g01")
    assert parse_name("my_clip") is None


def test_build_splits_filters_and_metadata(ucf_root, tmp_path):
    meta = ucf(ucf_root, tmp_path).prepare()
    splits = meta["splits"]
    # 30 good clips in 15 groups (5 per class); every class in every split; no group in two splits
    assert sum(len(v) for v in splits.values()) == 30
    groups = {s: {parse_name(v)[1] for v in ids} for s, ids in splits.items()}
    assert not (groups["train"] & groups["val"]) and not (groups["train"] & groups["test"]) and not (groups["val"] & groups["test"])
    for s, ids in splits.items():
        assert {parse_name(v)[0] for v in ids} == set(CLASSES), s
    # 5 groups of 2 clips per class: 3/1/1 groups -> 60/20/20 %, the closest to 70/15/15 without splitting a group
    assert meta["ratios"] == {"train": 0.6, "val": 0.2, "test": 0.2}
    filtered = meta["filtered"]
    assert set(filtered) == {"v_Archery_g09_c01", "v_Archery_g09_c02", "v_Archery_g09_c03"}
    assert "unreadable" in filtered["v_Archery_g09_c01"]
    assert "empty file" in filtered["v_Archery_g09_c02"]
    assert "too few frames (5 < 10)" in filtered["v_Archery_g09_c03"]
    assert meta["counts"]["per_class"]["YoYo"] == {"train": 6, "val": 2, "test": 2}
    assert meta["processing"]["frames_per_second"] > 0 and meta["config"]["frame_size"] == [32, 48]
    on_disk = json.loads((tmp_path / "metadata.json").read_text())
    assert on_disk["splits"] == splits
    vid = splits["val"][0]
    label = parse_name(vid)[0]
    frames = sorted((tmp_path / "val" / label / vid).glob("*.jpg"))
    assert len(frames) == 16


def test_second_run_decodes_nothing_and_stale_config_is_refused(ucf_root, tmp_path, monkeypatch, caplog):
    ucf(ucf_root, tmp_path).prepare()
    calls = []
    monkeypatch.setattr(UCF101Source, "_decode", lambda self, e: calls.append(e) or [])
    with caplog.at_level("INFO"):
        ucf(ucf_root, tmp_path).prepare()
    assert calls == [] and "cache hit" in caplog.text
    with pytest.raises(CacheError, match="another config"):
        ucf(ucf_root, tmp_path, frame_size=[40, 40]).prepare()


def test_interrupted_build_resumes(ucf_root, tmp_path, monkeypatch):
    real = UCF101Source._decode
    calls = []

    def flaky(self, entry):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(entry.video_id)
        return real(self, entry)

    monkeypatch.setattr(UCF101Source, "_decode", flaky)
    with pytest.raises(KeyboardInterrupt):
        ucf(ucf_root, tmp_path).prepare()
    assert not (tmp_path / "metadata.json").exists()
    assert not list(tmp_path.rglob(".tmp-*"))  # no half-written video folder
    done = {p.stem for p in (tmp_path / ".build" / "videos").glob("*.json")}
    assert done == set(calls)
    monkeypatch.setattr(UCF101Source, "_decode", lambda self, e: calls.append(e.video_id) or real(self, e))
    first = list(calls)
    meta = ucf(ucf_root, tmp_path).prepare()
    resumed = calls[len(first):]
    assert not set(resumed) & set(first) and len(first) + len(resumed) == 30
    assert sum(len(v) for v in meta["splits"].values()) == 30


def test_full_disk_stops_with_a_clear_error_and_the_cache_stays_consistent(ucf_root, tmp_path, monkeypatch):
    real_open = open
    writes = {"n": 0}

    def full_disk(path, mode="r", *a, **kw):
        if "w" in mode and str(path).endswith(".jpg"):
            writes["n"] += 1
            if writes["n"] > 40:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(CacheError, match="no space left on the device.*run again to resume"):
        ucf(ucf_root, tmp_path).prepare()
    monkeypatch.undo()
    assert not list(tmp_path.rglob(".tmp-*"))
    # every recorded video has all its frames
    for rec in (tmp_path / ".build" / "videos").glob("*.json"):
        r = json.loads(rec.read_text())
        if "filtered" not in r:
            assert len(list((tmp_path / r["split"] / r["label"] / rec.stem).glob("*.jpg"))) == r["frames"]
    assert sum(len(v) for v in ucf(ucf_root, tmp_path).prepare()["splits"].values()) == 30


def test_batches_t_values_and_eval_targets(ucf_root, tmp_path):
    src = ucf(ucf_root, tmp_path, k=4, eval_targets="all", windows_per_video=3, eval_windows_per_video=2)
    dm = InterpolationDataModule(src, batch_size=4, val_batch_size=6)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["img0"].shape == (4, 3, 32, 48) and batch["gt"].shape == (4, 3, 32, 48)
    assert set(np.round(batch["t"].numpy() * 4, 4)) <= {1.0, 2.0, 3.0}
    assert len(dm.datasets["train"]) == 18 * 3
    val = dm.datasets["val"]
    assert len(val) == 6 * 2 * 3  # 6 videos x 2 windows x 3 targets
    assert [round(val[i]["t"].item(), 2) for i in range(3)] == [0.25, 0.5, 0.75]


def test_light_loading_counts(ucf_root, tmp_path):
    meta = ucf(ucf_root, tmp_path, light_loading=True, light_videos=9).prepare()
    kept = [v for ids in meta["splits"].values() for v in ids]
    assert len(kept) + len(meta["filtered"]) == 9
    assert {parse_name(v)[0] for v in kept} == set(CLASSES)


def test_on_the_fly_mode_stores_no_frames(ucf_root, tmp_path):
    src = ucf(ucf_root, tmp_path, mode="on_the_fly")
    meta = src.prepare()
    assert not list(tmp_path.rglob("*.jpg")) and meta["store_frames"] is False
    item = src.dataset("val")[0]
    assert item["img0"].shape == (3, 32, 48) and item["t"].item() == 0.5


def test_same_augmentation_on_every_frame():
    # a known pattern: a bright square in the top-left corner of each frame
    frames = torch.zeros(3, 3, 20, 30)
    frames[:, :, 2:6, 3:9] = 1.0
    cfg = AugmentConfig(crop_size=(16, 24), horizontal_flip=True, temporal_reverse=False,
                        brightness_range=(0.8, 1.2), contrast_range=(0.8, 1.2))
    for seed in range(6):
        out, t = augment(frames, 0.25, cfg, np.random.default_rng(seed))
        assert out.shape == (3, 3, 16, 24) and t == 0.25
        assert torch.equal(out[0], out[1]) and torch.equal(out[1], out[2])


def test_temporal_reversal_swaps_inputs_and_t():
    frames = torch.stack([torch.full((3, 4, 4), v) for v in (0.0, 0.5, 1.0)])
    cfg = AugmentConfig(horizontal_flip=False, temporal_reverse=True)
    seen = set()
    for seed in range(10):
        out, t = augment(frames, 0.25, cfg, np.random.default_rng(seed))
        seen.add(t)
        if t == 0.75:
            assert out[0].mean() == 1.0 and out[2].mean() == 0.0
    assert seen == {0.25, 0.75}


def test_group_split_is_deterministic_and_keeps_groups():
    from framegen.data.entries import VideoEntry

    entries = [VideoEntry(f"v_C{c}_g{g:02d}_c{k:02d}", f"C{c}", f"C{c}_g{g:02d}", "x")
               for c in range(4) for g in range(1, 26) for k in range(1, 5)]
    a, b = group_split(entries, seed=3), group_split(entries, seed=3)
    assert a == b and group_split(entries, seed=4) != a
    total = sum(len(v) for v in a.values())
    assert abs(len(a["train"]) / total - 0.7) < 0.03 and abs(len(a["test"]) / total - 0.15) < 0.03


def test_video_folder_with_split_folders_and_frame_folders(tmp_path):
    root = tmp_path / "mine"
    write_video(root / "train" / "walk.mp4", pan_frames(14, seed=1), codec="libx264")
    write_video(root / "train" / "run.mkv", pan_frames(14, seed=2), codec="libx264")
    frames_dir = root / "val" / "drone"
    frames_dir.mkdir(parents=True)
    import cv2

    for i, f in enumerate(pan_frames(12, seed=3)):
        cv2.imwrite(str(frames_dir / f"{i:05d}.png"), f[..., ::-1])
    write_video(root / "test" / "swim.webm", pan_frames(12, seed=4), codec="libvpx-vp9")
    src = VideoFolderSource(root=str(root), cache_dir=str(tmp_path / "cache"), frame_size=[32, 32], k=2, progress=False)
    meta = src.prepare()
    assert meta["splits"] == {"train": ["run", "walk"], "val": ["drone"], "test": ["swim"]}
    assert src.dataset("train")[0]["img0"].shape == (3, 32, 32)


def test_hf_parquet_source_offline(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    rows = {"image": [], "video_id": [], "clip_id": [], "frame": [], "label": []}
    for ci, label in enumerate(("Archery", "Biking")):
        for g in (1, 2, 3):
            vid = f"v_{label}_g{g:02d}_c01"
            for i, f in enumerate(pan_frames(12, seed=ci * 10 + g)):
                rows["image"].append(Image.fromarray(f))
                rows["video_id"].append(vid)
                rows["clip_id"].append(f"{vid}_clip0")
                rows["frame"].append(i)
                rows["label"].append(ci)
    features = datasets.Features({"image": datasets.Image(), "video_id": datasets.Value("string"),
                                  "clip_id": datasets.Value("string"), "frame": datasets.Value("int64"),
                                  "label": datasets.ClassLabel(names=["Archery", "Biking"])})
    ds = datasets.Dataset.from_dict(rows, features=features).shuffle(seed=0)  # rows out of order
    (tmp_path / "snap" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "snap" / "data" / "train-00000.parquet"))
    src = HFUCF101Source(kind="parquet", local_path=str(tmp_path / "snap"), cache_dir=str(tmp_path / "cache"),
                         frame_size=[32, 48], k=2, progress=False)
    meta = src.prepare()
    assert sum(len(v) for v in meta["splits"].values()) == 6
    for ids in meta["splits"].values():
        assert {parse_name(v)[0] for v in ids} == {"Archery", "Biking"}
    # frames were put back in order: the cached first frame is the parquet's frame 0
    vid = meta["splits"]["train"][0]
    label = parse_name(vid)[0]
    first = np.asarray(Image.open(src.cache().root / "train" / label / vid / "000000.jpg"), dtype=np.float32)
    assert first.shape == (32, 48, 3)


def test_hf_archive_source_offline(ucf_root, tmp_path):
    import zipfile

    archive = tmp_path / "UCF101.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(ucf_root.rglob("*.avi"))[:12]:
            zf.write(p, f"UCF-101/{p.parent.name}/{p.name}")
    src = HFUCF101Source(kind="archive", local_path=str(archive), cache_dir=str(tmp_path / "cache"),
                         frame_size=[32, 48], k=2, progress=False)
    meta = src.prepare()
    assert sum(len(v) for v in meta["splits"].values()) + len(meta["filtered"]) == 12
    assert (tmp_path / "cache" / "raw" / ".complete").is_file()


def test_static_blank_and_cut_videos(tmp_path):
    root = tmp_path / "clips"
    write_video(root / "static.mp4", [pan_frames(1)[0]] * 14, codec="libx264")
    blank = [np.zeros((48, 64, 3), np.uint8)] * 10 + pan_frames(6, seed=5)
    write_video(root / "blank.mp4", blank, codec="libx264")
    cut = pan_frames(10, seed=1, photo="astronaut") + pan_frames(10, seed=2, photo="coffee")
    write_video(root / "cut.mp4", cut, codec="libx264")
    src = VideoFolderSource(root=str(root), cache_dir=str(tmp_path / "cache"), frame_size=[48, 64], k=2,
                            split={"ratios": [1.0, 0.0, 0.0]}, progress=False)
    meta = src.prepare()
    assert meta["filtered"]["static"].startswith("near-static")
    assert meta["filtered"]["blank"].startswith("blank (10 of 16 frames are blank)")
    assert meta["splits"]["train"] == ["cut"]
    assert meta["videos"]["cut"]["cuts"] == [9]
    ds = src.dataset("train")
    starts = set(ds.clips[0].starts.tolist())
    assert starts == set(range(8)) | set(range(10, 18))  # no window holds frames 9 and 10 together


def test_train_fast_dev_run_on_ucf101_tree(ucf_root, tmp_path):
    from conftest import compose_train

    from framegen.train import train

    cfg = compose_train(["data=ucf101", f"data.root={ucf_root}", f"data.cache_dir={tmp_path / 'cache'}", "debug=fdr",
                         "data.source.frame_size=64", "model.net.hidden_dim=16"], tmp_path)
    metrics = train(cfg)
    assert "val/psnr" in metrics
    assert len(list((tmp_path / "cache").glob("*/metadata.json"))) == 1  # keyed: <folder>-<config hash>/


def test_permission_error_is_one_clear_message(ucf_root, tmp_path, monkeypatch):
    from pathlib import Path

    real_mkdir = Path.mkdir

    def denied(self, *a, **kw):
        if "cache" in str(self):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", denied)
    with pytest.raises(CacheError, match="permission denied writing .*writable data.source.cache_dir"):
        ucf(ucf_root, tmp_path / "cache").prepare()
