import pytest
import torch

from framegen.models.layers import backward_warp, check_pair, crop_to, pad_to_multiple, resize_flow, time_map


def test_warp_with_zero_flow_is_identity():
    img = torch.rand(2, 3, 17, 23)
    out = backward_warp(img, torch.zeros(2, 2, 17, 23))
    assert torch.allclose(out, img, atol=1e-6)


@pytest.mark.parametrize("dx,dy", [(3, 0), (0, -2), (2, 5)])
def test_warp_with_integer_flow_is_exact_shift(dx, dy):
    img = torch.rand(1, 3, 20, 24)
    flow = torch.zeros(1, 2, 20, 24)
    flow[:, 0], flow[:, 1] = dx, dy
    out = backward_warp(img, flow)
    # out(y, x) = img(y + dy, x + dx) wherever that lies inside the image
    ys = slice(max(0, -dy), 20 - max(0, dy))
    xs = slice(max(0, -dx), 24 - max(0, dx))
    src = img[..., max(0, dy): 20 + min(0, dy), max(0, dx): 24 + min(0, dx)]
    assert torch.allclose(out[..., ys, xs], src, atol=1e-5)


def test_warp_rejects_wrong_flow_shape():
    with pytest.raises(ValueError, match=r"flow must have shape \(1, 2, 8, 8\)"):
        backward_warp(torch.rand(1, 3, 8, 8), torch.zeros(1, 2, 8, 9))


def test_pad_and_crop_round_trip():
    x = torch.rand(1, 3, 33, 47)
    padded, size = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (48, 48)
    assert torch.equal(crop_to(padded, size), x)


def test_resize_flow_scales_vectors():
    flow = torch.ones(1, 4, 8, 8)
    flow[:, 1::2] = 2.0
    out = resize_flow(flow, (16, 32))
    assert out.shape == (1, 4, 16, 32)
    assert torch.allclose(out[:, 0], torch.full((1, 16, 32), 4.0))  # x scaled by 32/8
    assert torch.allclose(out[:, 1], torch.full((1, 16, 32), 4.0))  # y scaled by 16/8


def test_time_map_forms():
    like = torch.zeros(3, 3, 4, 4)
    assert time_map(0.25, 3, like=like).shape == (3, 1, 1, 1)
    assert torch.equal(time_map(torch.tensor([0.1, 0.2, 0.3]), 3, like=like).flatten(), torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="one value per sample"):
        time_map(torch.tensor([0.1, 0.2]), 3, like=like)


def test_check_pair_errors():
    with pytest.raises(ValueError, match=r"img0 must have shape \(B, 3, H, W\), got \(1, 4, 8, 8\)"):
        check_pair(torch.zeros(1, 4, 8, 8), torch.zeros(1, 3, 8, 8))
    with pytest.raises(ValueError, match="same shape"):
        check_pair(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
