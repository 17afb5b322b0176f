"""Issue #24 item 6, own footage (data=video_folder): a few long clips give many training windows per epoch (one per
``frames_per_window`` frames of each clip, within a floor and a cap), and clips of one scene (by name, or by the
content of their first frame) land in one split."""

from __future__ import annotations

import cv2
import pytest
from fake_videos import pan_frames, write_video

from framegen.data import VideoFolderSource
from framegen.data.splits import scene_name

SPLIT = {"ratios": [0.5, 0.25, 0.25], "seed": 0}


def source(root, tmp_path, **kwargs) -> VideoFolderSource:
    kwargs = {"split": SPLIT, **kwargs}
    return VideoFolderSource(root=str(root), cache_dir=str(tmp_path / "cache"), frame_size=[32, 64], k=2,
                             progress=False, **kwargs)


def split_of(meta: dict) -> dict[str, str]:
    return {vid: s for s, ids in meta["splits"].items() for vid in ids}


@pytest.mark.parametrize("names", [
    ("carphone_pristine", "carphone_distorted", "Carphone-1080p", "carphone.720p.h264", "carphone_crf28"),
    ("interview_part1", "interview_part2", "interview_pt3", "interview_take2", "interview (1)", "interview copy",
     "interview copy 2", "interview_final_v2"),
    ("beach_1", "beach_02", "beach_1920x1080_60fps", "beach_4k_hdr"),
])
def test_scene_name_strips_variant_suffixes(names):
    assert len({scene_name(n) for n in names}) == 1, {n: scene_name(n) for n in names}


@pytest.mark.parametrize("a, b", [("IMG_1234", "IMG_1235"), ("DSC_0001", "DSC_0002"), ("GOPR0001", "GOPR0002"),
                                  ("VID_20240101_123456", "VID_20240101_130001"), ("carphone", "foreman"),
                                  ("pristine", "distorted")])
def test_scene_name_keeps_camera_counters_and_first_words_apart(a, b):
    assert scene_name(a) != scene_name(b)


PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "cat", "immunohistochemistry")


def test_clips_of_one_scene_by_name_share_a_split(tmp_path):
    root = tmp_path / "videos"
    for i, scene in enumerate(("carphone", "foreman", "akiyo", "news", "mobile", "tempete")):
        frames = pan_frames(12, (32, 64), seed=i, photo=PHOTOS[i])
        write_video(root / f"{scene}_pristine.mp4", frames, codec="libx264")
        # the distorted copy: half size and blurred, so only the name says it is the same scene
        small = [cv2.GaussianBlur(cv2.resize(f, (32, 16)), (3, 3), 0) for f in frames]
        write_video(root / f"{scene}_distorted.mp4", small, codec="libx264")
    meta = source(root, tmp_path, group_by_content=False).prepare()
    where = split_of(meta)
    assert len(where) == 12 and {s for s in where.values()} == {"train", "val", "test"}
    for scene in ("carphone", "foreman", "akiyo", "news", "mobile", "tempete"):
        assert where[f"{scene}_pristine"] == where[f"{scene}_distorted"], where
    # without the name rule each clip is its own group: pairs are split apart (the leak the rule prevents)
    apart = split_of(source(root, tmp_path / "b", group_by_name=False, group_by_content=False).prepare())
    assert any(apart[f"{s}_pristine"] != apart[f"{s}_distorted"]
               for s in ("carphone", "foreman", "akiyo", "news", "mobile", "tempete"))


def test_names_that_give_one_scene_for_every_clip_do_not_collapse_the_split(tmp_path):
    """video_1 ... video_12 all read as the scene 'video': that would put every clip in train, so each clip is its
    own group there and the folder still splits three ways."""
    root = tmp_path / "videos"
    for i in range(8):
        write_video(root / f"video_{i + 1}.mp4", pan_frames(12, (32, 64), seed=i, photo=PHOTOS[i % 6]),
                    codec="libx264")
    where = split_of(source(root, tmp_path, group_by_content=False).prepare())
    assert len(where) == 8 and set(where.values()) == {"train", "val", "test"}


def test_clips_of_one_scene_by_content_share_a_split(tmp_path):
    root = tmp_path / "videos"
    for i in range(6):
        frames = pan_frames(12, (32, 64), seed=i, photo=PHOTOS[i])
        write_video(root / f"scene{i}.mp4", frames, codec="libx264")
        # a re-encode at another size and quality under an unrelated name: the same first frame
        write_video(root / f"upload{i}x.mkv", [cv2.resize(f, (96, 52)) for f in frames], codec="mpeg4")
    meta = source(root, tmp_path).prepare()
    where = split_of(meta)
    assert {s for s in where.values()} == {"train", "val", "test"}
    for i in range(6):
        assert where[f"scene{i}"] == where[f"upload{i}x"], where
    # different scenes are not merged: six groups, spread over the three splits
    assert len(meta["splits"]["train"]) < 12


def test_blank_first_frames_do_not_make_clips_one_scene(tmp_path):
    root = tmp_path / "videos"
    for i in range(4):  # every clip fades in from black: the first frames match, the scenes do not
        frames = pan_frames(12, (32, 64), seed=i, photo=PHOTOS[i])
        frames[0] = frames[0] * 0
        write_video(root / f"shot{chr(97 + i)}.mp4", frames, codec="libx264")
    where = split_of(source(root, tmp_path).prepare())
    assert len(set(where.values())) == 3, where


def test_long_clips_give_windows_by_length(tmp_path):
    root = tmp_path / "videos"
    write_video(root / "long.mp4", pan_frames(300, (32, 64), speed=1.0, photo="astronaut"), codec="libx264")
    write_video(root / "short.mp4", pan_frames(40, (32, 64), seed=1, photo="coffee"), codec="libx264")
    src = source(root, tmp_path, split={"ratios": [1.0, 0.0, 0.0]}, windows_per_video="auto", frames_per_window=25)
    src.prepare()
    train = src.dataset("train")
    # long: 298 window starts -> 11 windows; short: 38 starts -> 1, raised to the floor of 4
    assert train.counts == [11, 4] or train.counts == [4, 11]
    assert len(train) == 15
    assert {train[i]["img0"].shape for i in range(len(train))} == {(3, 32, 64)}
    capped = source(root, tmp_path, split={"ratios": [1.0, 0.0, 0.0]}, windows_per_video="auto",
                    frames_per_window=5, max_windows_per_video=20)
    capped.prepare()
    assert sorted(capped.dataset("train").counts) == [7, 20]
    fixed = source(root, tmp_path, split={"ratios": [1.0, 0.0, 0.0]}, windows_per_video=3)
    fixed.prepare()
    assert fixed.dataset("train").counts == [3, 3] and len(fixed.dataset("train")) == 6


def test_video_folder_config_derives_windows_from_length():
    from hydra import compose, initialize_config_dir

    from framegen import config_dir

    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["data=video_folder"])
    assert cfg.data.source.windows_per_video == "auto"
    assert cfg.data.source.frames_per_window > 0 and cfg.data.source.max_windows_per_video >= 4


def test_bad_windows_setting_is_refused(tmp_path):
    with pytest.raises(ValueError, match="windows_per_video"):
        source(tmp_path, tmp_path, windows_per_video="many")
    with pytest.raises(ValueError, match="frames_per_window"):
        source(tmp_path, tmp_path, windows_per_video="auto", frames_per_window=0)
