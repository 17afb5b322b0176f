"""Temporal smoothing of still regions (``static_threshold``, issue #25): where the two inputs agree, the new frame is
their blend at t; where anything moves nearby, the net's frame is kept."""

import numpy as np
import pytest
import skimage.data
import torch

from framegen.inference.interpolator import Interpolator, keep_static
from framegen.models import build_net


def _pair():
    """A real photo, its right part still and a 24 px patch in its left part moved by 6 px."""
    img = torch.from_numpy(skimage.data.astronaut()[::4, ::4].copy()).permute(2, 0, 1).float()[None] / 255
    x0, x1 = img.clone(), img.clone()
    x1[..., 40:64, 20:44] = img[..., 40:64, 26:50]
    return x0, x1


def test_still_pixels_take_the_blend_and_moving_ones_keep_the_frame():
    x0, x1 = _pair()
    frame = torch.rand_like(x0)
    out = keep_static(frame, x0, x1, torch.tensor([0.25]), threshold=0.04, radius=2)
    still = (..., slice(0, 30), slice(80, 128))
    assert torch.equal(out[still], (x0 + 0.25 * (x1 - x0))[still])
    moving = (..., slice(42, 62), slice(22, 42))
    assert torch.equal(out[moving], frame[moving])
    # the neighbourhood counts: a still pixel 2 px beside the patch does not take the plain blend
    assert torch.equal(x0[..., 50, 45], x1[..., 50, 45])
    assert not torch.equal(out[..., 50, 45], x0[..., 50, 45])


def test_interpolator_option_changes_only_still_regions_and_is_checked():
    x0, x1 = _pair()
    net = build_net("flow", hidden_dim=16, num_layers=1).eval()
    plain = Interpolator(net, device="cpu")(x0, x1, 0.5)
    smooth = Interpolator(net, device="cpu", static_threshold=0.04)(x0, x1, 0.5)
    still = (..., slice(0, 30), slice(80, 128))
    assert torch.allclose(smooth[still], ((x0 + x1) / 2)[still], atol=1e-6)
    moving = (..., slice(42, 62), slice(22, 42))
    assert torch.equal(smooth[moving], plain[moving])
    assert Interpolator(net, device="cpu").identity() != Interpolator(net, device="cpu", static_threshold=0.04).identity()
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match="static_threshold"):
            Interpolator(net, device="cpu", static_threshold=bad)
    assert np.isfinite(smooth.numpy()).all()
