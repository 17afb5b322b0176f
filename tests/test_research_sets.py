"""The research sets in their official layouts (Vimeo-90K, SNU-FILM, X4K1000FPS, Xiph), each on a tiny fake tree made
from real frames; training from Vimeo-90K and X-TRAIN; the multi-frame video protocol with per-t rows and tOF."""

import json

import cv2
import numpy as np
import pytest
from conftest import SHARED, compose_tool, compose_train, one_error_line
from fake_videos import pan_frames, write_video

from framegen.data.research_sets import XIPH_SEQUENCES, ResearchSetError, centre_half, half_size
from framegen.data.research_sources import VimeoPicks, VimeoSource, X4KPicks, X4KSource
from framegen.evaluation.benchmarks import load_triplets, research_items
from framegen.evaluation.evaluate import evaluate
from framegen.evaluation.temporal import TemporalOF, border_crop

CLIP = SHARED / "clips" / "drift-chicane"


def real_frames(n: int, size=(32, 64), seed: int = 0) -> list[np.ndarray]:
    """``n`` consecutive real frames (h, w): the shared real clip (drift-chicane) shrunk, where it is on this machine,
    else a photo panned by a few pixels a frame (tests/fake_videos.py)."""
    files = sorted(CLIP.glob("*.jpg")) if CLIP.is_dir() else []
    if len(files) < 2:
        return pan_frames(n, size, speed=1.5, seed=seed)
    h, w = size
    out = []
    for i in range(n):  # forwards and back again, as long as n needs
        k = (seed + i) % (2 * len(files) - 2)
        path = files[k if k < len(files) else 2 * len(files) - 2 - k]
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        out.append(cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA))
    return out


def write_png(path, rgb) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def vimeo_tree(root, *, variant="triplet", train=5, test=3, size=(32, 64)):
    """sequences/NNNNN/NNNN/im1..n.png with tri_ (sep_) train and test lists of ``train`` and ``test`` lines."""
    prefix, n = ("tri", 3) if variant == "triplet" else ("sep", 7)
    names = [f"{1 + i // 3:05d}/{1 + i % 3:04d}" for i in range(train + test)]
    for i, name in enumerate(names):
        for j, img in enumerate(real_frames(n, size, seed=5 * i), 1):
            write_png(root / "sequences" / name / f"im{j}.png", img)
    (root / f"{prefix}_trainlist.txt").write_text("\n".join(names[:train]) + "\n")
    (root / f"{prefix}_testlist.txt").write_text("\n".join(names[train:]) + "\n\n")
    return root


def snu_tree(root, size=(32, 64)):
    """test/GOPRO_test/<seq>/NNNNNN.png and test/YouTube_test/<seq>/NNNNN.png with four lists of three lines each,
    written as the official ones are (paths that begin with data/SNU-FILM/)."""
    seqs = {"GOPRO_test/GOPR0384_11_00": "{:06d}.png", "YouTube_test/0000": "{:05d}.png"}
    for k, (seq, pattern) in enumerate(seqs.items()):
        for i, img in enumerate(real_frames(21, size, seed=7 * k)):
            write_png(root / "test" / seq / pattern.format(i), img)
    gaps = {"easy": 1, "medium": 2, "hard": 4, "extreme": 8}
    order = [*seqs.items(), next(iter(seqs.items()))]
    for level, g in gaps.items():
        lines = []
        for k, (seq, pattern) in enumerate(order):
            a = 2 * k  # three triplets: two from GoPro, one from YouTube
            lines.append(" ".join(f"data/SNU-FILM/test/{seq}/{pattern.format(a + d)}" for d in (0, g, 2 * g)))
        (root / f"test-{level}.txt").write_text("\n".join(lines) + "\n")
    return root


def xtest_tree(root, size=(32, 64)):
    """test/Type1/TEST01 and test/Type2/TEST06, 0000..0032.png each."""
    for k, clip in enumerate(("Type1/TEST01", "Type2/TEST06")):
        for i, img in enumerate(real_frames(33, size, seed=11 * k)):
            write_png(root / "test" / clip / f"{i:04d}.png", img)
    return root


def xiph_tree(root, size=(16, 32)):
    """netflix/<Name>-001.png .. <Name>-100.png for the eight sequences (benchmark_xiph.py's files)."""
    base = real_frames(100, size)
    for k, name in enumerate(XIPH_SEQUENCES):
        for i in range(1, 101):
            write_png(root / "netflix" / f"{name}-{i:03d}.png", base[(i + 3 * k) % 100])
    return root


def _cfg(tmp_path, **kw):
    def value(v):
        return "[" + ",".join(map(str, v)) + "]" if isinstance(v, list) else "null" if v is None else str(v).lower() \
            if isinstance(v, bool) else str(v)

    options = {"method": "average", "gallery": 0, "device": "cpu", "lpips": False,
               "paths.benchmarks": str(tmp_path / "bench"), **kw}
    return compose_tool("evaluate", [f"{k}={value(v)}" for k, v in options.items()], tmp_path / "out")


# ------------------------------------------------------------------------------------------------ evaluation
def test_vimeo90k_finds_every_test_triplet(tmp_path):
    vimeo_tree(tmp_path / "bench" / "vimeo_triplet")
    items = research_items("vimeo90k", tmp_path / "bench")
    assert [it.id for it in items] == ["00002/0003", "00003/0001", "00003/0002"] and {it.t for it in items} == {0.5}
    summary = evaluate(_cfg(tmp_path, benchmark="vimeo90k", method=["average", "dis"]))
    assert summary["vimeo90k"]["average"]["n"] == 3 and "per_t" not in summary["vimeo90k"]["average"]
    # one set anywhere: benchmark_root
    moved = vimeo_tree(tmp_path / "elsewhere", test=2)
    summary = evaluate(_cfg(tmp_path, benchmark="vimeo90k", benchmark_root=str(moved)))
    assert summary["vimeo90k"]["average"]["n"] == 2


def test_vimeo90k_septuplet_scores_every_t(tmp_path):
    vimeo_tree(tmp_path / "bench" / "vimeo_septuplet", variant="septuplet", train=2, test=2)
    summary = evaluate(_cfg(tmp_path, benchmark="vimeo90k_septuplet"))["vimeo90k_septuplet"]["average"]
    assert summary["n"] == 10
    assert list(summary["per_t"]) == [f"{j / 6:g}" for j in range(1, 6)]
    assert all(row["n"] == 2 for row in summary["per_t"].values())


def test_snu_film_finds_the_three_lines_of_each_level(tmp_path):
    snu_tree(tmp_path / "bench" / "snu_film")
    levels = ["snu_film_easy", "snu_film_medium", "snu_film_hard", "snu_film_extreme"]
    ids = [it.id for it in research_items("snu_film_hard", tmp_path / "bench")]
    assert ids == ["GOPRO_test/GOPR0384_11_00/000004", "YouTube_test/0000/00006", "GOPRO_test/GOPR0384_11_00/000008"]
    summary = evaluate(_cfg(tmp_path, benchmark=levels))
    assert [summary[lv]["average"]["n"] for lv in levels] == [3, 3, 3, 3]
    # bigger gaps are harder: averaging the frames falls from easy to extreme
    psnr = [summary[lv]["average"]["psnr"] for lv in levels]
    assert psnr[0] > psnr[-1]


def test_xtest_has_seven_in_between_frames_per_clip_at_4k_and_2k(tmp_path):
    xtest_tree(tmp_path / "bench" / "xtest")
    items = research_items("xtest", tmp_path / "bench")
    assert len(items) == 14
    first = [it for it in items if it.id.startswith("Type1/TEST01")]
    assert [it.t for it in first] == [k / 8 for k in range(1, 8)]
    assert [it.gt.name for it in first] == [f"{4 * k:04d}.png" for k in range(1, 8)]
    assert {(it.img0.name, it.img1.name) for it in items} == {("0000.png", "0032.png")}
    summary = evaluate(_cfg(tmp_path, benchmark=["xtest", "xtest_2k"], method=["average", "dis"]))
    for name in ("xtest", "xtest_2k"):
        row = summary[name]["dis"]
        assert row["n"] == 14 and list(row["per_t"]) == [f"{k / 8:g}" for k in range(1, 8)]
        assert all(r["n"] == 2 for r in row["per_t"].values())
    full = next(load_triplets("xtest", tmp_path / "bench"))
    small = next(load_triplets("xtest_2k", tmp_path / "bench"))
    assert full.gt.shape == (32, 64, 3) and small.gt.shape == (16, 32, 3) and small.t == 0.125
    md = (tmp_path / "out" / "summary.md").read_text()
    assert "| dis, t = 0.125 |" in md and "| dis, t = 0.875 |" in md


def test_xiph_2k_and_4k_by_the_softmax_splatting_protocol(tmp_path):
    xiph_tree(tmp_path / "bench" / "xiph")
    items = research_items("xiph_2k", tmp_path / "bench")
    assert len(items) == 8 * 49
    assert (items[0].img0.name, items[0].gt.name, items[0].img1.name) == ("BoxingPractice-001.png",
                                                                          "BoxingPractice-002.png",
                                                                          "BoxingPractice-003.png")
    assert items[-1].gt.name == "Tango-098.png"
    summary = evaluate(_cfg(tmp_path, benchmark=["xiph_2k", "xiph_4k"], limit=2))
    assert summary["xiph_2k"]["average"]["n"] == summary["xiph_4k"]["average"]["n"] == 2
    two_k, four_k = next(load_triplets("xiph_2k", tmp_path / "bench")), next(load_triplets("xiph_4k", tmp_path / "bench"))
    assert two_k.gt.shape == (8, 16, 3) and four_k.gt.shape == (8, 16, 3)
    # the 4K crop is [540:-540, 1024:-1024] of a 4096x2160 frame; the 2K frame is half of it, INTER_AREA
    big = np.zeros((2160, 4096, 3), np.uint8)
    big[540:-540, 1024:-1024] = 7
    assert centre_half(big).shape == (1080, 2048, 3) and (centre_half(big) == 7).all()
    assert half_size(big).shape == (1080, 2048, 3)


@pytest.mark.parametrize("case", ["no list", "missing frame", "wrong layout", "two paths", "xiph gap"])
def test_bad_research_sets_end_with_one_line(case, tmp_path, tool):
    root = tmp_path / "set"
    if case == "no list":
        root = vimeo_tree(root, train=1, test=1)
        (root / "tri_testlist.txt").unlink()
        args, want = ["benchmark=vimeo90k"], "tri_testlist.txt not found"
    elif case == "missing frame":
        root = vimeo_tree(root, train=1, test=2)
        (root / "sequences" / "00001" / "0003" / "im2.png").unlink()
        args, want = ["benchmark=vimeo90k"], "tri_testlist.txt:2: '00001/0003' points to a missing frame"
    elif case == "wrong layout":
        write_png(root / "test" / "TEST01" / "0000.png", real_frames(1)[0])
        args, want = ["benchmark=xtest"], "no Type1..3 folders"
    elif case == "two paths":
        root = snu_tree(root)
        (root / "test-medium.txt").write_text("data/SNU-FILM/test/a.png data/SNU-FILM/test/b.png\n")
        args, want = ["benchmark=snu_film_medium"], "test-medium.txt:1: expected three paths"
    else:
        (root / "netflix").mkdir(parents=True)
        args, want = ["benchmark=xiph_4k"], "missing frame"
    code, _, err = tool("evaluate", *args, f"benchmark_root={root}", "method=average", "lpips=false")
    assert code == 2 and want in one_error_line(err)
    # a set looked up under paths.benchmarks that is not there names the folders it tried
    code, _, err = tool("evaluate", "benchmark=snu_film_easy", f"paths.benchmarks={tmp_path / 'none'}",
                        "method=average", "lpips=false")
    assert code == 2 and "none of snu_film_easy, snu_film, SNU-FILM" in one_error_line(err)


# -------------------------------------------------------------------------------------------------- training
def test_train_runs_on_vimeo90k(tmp_path):
    from framegen.train import train

    root = vimeo_tree(tmp_path / "vimeo_triplet", train=5, test=2, size=(32, 64))
    cfg = compose_train(["data=vimeo90k", f"data.root={root}", "trainer=cpu", "logger=csv", "trainer.max_steps=2",
                         "data.batch_size=2", "data.val_batch_size=2", "data.num_workers=0",
                         "data.persistent_workers=false", "data.prefetch_factor=null", "data.source.val_sequences=1",
                         "data.source.augment.crop_size=[32,32]", "model.net.hidden_dim=16", "model.net.num_layers=1",
                         "callbacks.progress_bar=null"], tmp_path / "run")
    metrics = train(cfg)
    assert "val/psnr" in metrics and (tmp_path / "run" / "checkpoints" / "best_model.pth").is_file()


def test_vimeo_septuplet_and_x4k_training_samples(tmp_path):
    root = vimeo_tree(tmp_path / "vimeo_septuplet", variant="septuplet", train=4, test=1)
    src = VimeoSource(root=str(root), variant="septuplet", val_sequences=1, augment={"crop_size": [16, 16]})
    src.prepare()
    train, val, test = (src.dataset(s) for s in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (3, 1, 1)
    item = train[0]
    assert item["img0"].shape == (3, 16, 16) and 0 < float(item["t"]) < 1
    assert val[0]["img0"].shape == (3, 32, 64) and float(val[0]["t"]) == 0.5
    picks = VimeoPicks(tuple(root / "sequences" / "00001" / f"{i:04d}" for i in (1, 2)), 7)
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b, c, t = picks(0, rng)
        ia, ib, ic = (int(p.stem[2:]) for p in (a, b, c))
        assert ia < ib < ic and t == pytest.approx((ib - ia) / (ic - ia))
    # X-TRAIN: train/<scene>/<clip>/0000..; the last scene validates
    for s, scene in enumerate(("002", "003", "004")):
        for c in range(2):
            for i, img in enumerate(real_frames(9, (32, 32), seed=3 * s + c)):
                write_png(tmp_path / "x4k" / "train" / scene / f"occ{c:03d}.{s}" / f"{i:04d}.png", img)
    x4k = X4KSource(root=str(tmp_path / "x4k"), max_step=8, val_scenes=1, val_span=8, augment={"crop_size": [16, 16]})
    x4k.prepare()
    assert (len(x4k.dataset("train")), len(x4k.dataset("val")), len(x4k.dataset("test"))) == (4, 2, 0)
    assert x4k.dataset("train")[1]["gt"].shape == (3, 16, 16)
    clip = tuple(sorted((tmp_path / "x4k" / "train" / "002" / "occ000.0").glob("*.png")))
    for _ in range(50):
        a, g, b, t = X4KPicks((clip,), 2, 8)(0, rng)
        ia, ig, ib = (int(p.stem) for p in (a, g, b))
        assert ia < ig < ib and 2 <= ib - ia <= 8 and t == pytest.approx((ig - ia) / (ib - ia))
    with pytest.raises(ResearchSetError, match="no train/ folder"):
        X4KSource(root=str(tmp_path / "vimeo_septuplet")).prepare()


# ------------------------------------------------------------------------------------ multi-frame video + tOF
def test_tof_is_zero_for_the_truth_and_grows_with_a_frozen_frame():
    frames = pan_frames(5, (64, 96), speed=4)  # a pan of 4 px a frame
    same, frozen = TemporalOF(), TemporalOF()
    for i, f in enumerate(frames):
        same.add(f, f)
        frozen.add(frames[1] if i == 2 else f, f)  # frame 2 repeats frame 1: a stutter
    assert same.value == 0.0 and len(same.values) == 4
    assert frozen.value > 1.0  # the stutter moves nothing, then 8 px at once
    assert border_crop(np.zeros((48, 64))).shape == (32, 32) and border_crop(np.zeros((20, 20))).shape == (20, 20)


def test_video_protocol_at_4x_rebuilds_three_of_every_four_frames(tmp_path, tool):
    clip = write_video(tmp_path / "clip.mp4", real_frames(13, (48, 64)), codec="libx264")
    summary = evaluate(_cfg(tmp_path, video=str(clip), factor=4, method=["average", "dis"]))
    (name,) = summary
    assert name == "video:clip@4x"
    for m in ("average", "dis"):
        row = summary[name][m]
        assert row["n"] == 9 and row["tof"] is not None and row["tof"] >= 0
        assert list(row["per_t"]) == ["0.25", "0.5", "0.75"] and all(r["n"] == 3 for r in row["per_t"].values())
    assert summary[name]["dis"]["psnr"] > summary[name]["average"]["psnr"]
    ids = [r.split(",")[2] for r in (tmp_path / "out" / "per_triplet.csv").read_text().splitlines()[1:10]]
    assert ids == [f"clip_{i:05d}" for i in range(13) if i % 4]  # every frame but 0, 4, 8, 12
    # the command line, at 8x on a folder of frames
    for i, img in enumerate(real_frames(17, (48, 64))):
        write_png(tmp_path / "frames" / f"{i:05d}.png", img)
    code, out, err = tool("evaluate", f"video={tmp_path / 'frames'}", "factor=8", "method=average", "lpips=false",
                          "gallery=0", f"output_dir={tmp_path / 'cli'}")
    assert code == 0, err
    row = json.loads((tmp_path / "cli" / "summary.json").read_text())["video:frames@8x"]["average"]
    assert row["n"] == 14 and len(row["per_t"]) == 7 and row["tof"] > 0
    assert "tOF" in out and "| average, t = 0.125 |" in out
