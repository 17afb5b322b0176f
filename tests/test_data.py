import pytest
import torch

from framegen.data import InterpolationDataModule, SyntheticSource


def test_synthetic_items_shapes_and_ranges():
    ds = SyntheticSource(size=64, train_samples=8).dataset("train")
    for i in range(8):
        item = ds[i]
        assert set(item) == {"img0", "img1", "gt", "t"}
        for key in ("img0", "img1", "gt"):
            assert item[key].shape == (3, 64, 64) and item[key].dtype == torch.float32
            assert 0 <= item[key].min() and item[key].max() <= 1
        assert 0 < item["t"].item() < 1


def test_validation_is_deterministic_and_training_is_not():
    src = SyntheticSource(size=48, val_samples=4, train_samples=4)
    a, b = src.dataset("val"), src.dataset("val")
    assert torch.equal(a[2]["gt"], b[2]["gt"]) and a[2]["t"].item() == 0.5
    train = src.dataset("train")
    assert not torch.equal(train[0]["img0"], train[0]["img0"])


def test_static_scenes_have_identical_frames():
    src = SyntheticSource(size=48, motion={"static_prob": 1.0, "small_motion_prob": 0.0})
    item = src.dataset("val")[0]
    assert torch.equal(item["img0"], item["gt"]) and torch.equal(item["gt"], item["img1"])


def test_moving_scenes_differ_from_the_average():
    src = SyntheticSource(size=64, val_samples=16, motion={"static_prob": 0.0, "small_motion_prob": 0.0})
    ds = src.dataset("val")
    errors = [((ds[i]["img0"] + ds[i]["img1"]) / 2 - ds[i]["gt"]).abs().mean().item() for i in range(16)]
    assert sum(e > 1e-3 for e in errors) >= 12


def test_k_gives_t_on_the_grid():
    ds = SyntheticSource(size=32, k=4, train_samples=20).dataset("train")
    assert {round(ds[i]["t"].item() * 4, 6) for i in range(20)} <= {1.0, 2.0, 3.0}


def test_datamodule_batches():
    dm = InterpolationDataModule(SyntheticSource(size=32, train_samples=6, val_samples=3), batch_size=2, val_batch_size=3)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["img0"].shape == (2, 3, 32, 32) and batch["t"].shape == (2,)
    assert len(dm.train_dataloader()) == 3
    assert next(iter(dm.val_dataloader()))["gt"].shape == (3, 3, 32, 32)
    with pytest.raises(ValueError, match="batch_size"):
        InterpolationDataModule(SyntheticSource(), batch_size=0)


def test_missing_image_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="image folder not found"):
        SyntheticSource(image_dirs=[str(tmp_path / "nope")]).dataset("val")


def test_mixed_source_draws_by_weight():
    from torch.utils.data import Dataset

    from framegen.data import MixedDataset

    class Const(Dataset):
        def __init__(self, v):
            self.v = v

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.v

    torch.manual_seed(0)
    mixed = MixedDataset([Const(0), Const(1)], [0.25, 0.75], length=2000)
    share = sum(mixed[i] for i in range(2000)) / 2000
    assert len(mixed) == 2000 and abs(share - 0.75) < 0.04
    with pytest.raises(ValueError, match="empty but have a positive weight"):
        MixedDataset([Const(0), []], [0.5, 0.5], length=4)
