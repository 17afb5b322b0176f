import math

import pytest
import torch

from framegen.metrics import build_metrics, interpolation_error, quantize


def test_quantize_rounds_to_8_bits():
    x = torch.tensor([0.0, 0.4 / 255, 0.6 / 255, 1.2])
    assert torch.allclose(quantize(x), torch.tensor([0.0, 0.0, 1 / 255, 1.0]))


def test_psnr_is_the_mean_of_per_image_values():
    target = torch.zeros(2, 3, 8, 8)
    pred = target.clone()
    pred[0] += 10 / 255  # mse = (10/255)^2
    pred[1] += 20 / 255
    m = build_metrics(lpips_net=None)
    m.update(pred, target)
    out = m.compute()
    expected = (20 * math.log10(255 / 10) + 20 * math.log10(255 / 20)) / 2
    assert out["psnr"].item() == pytest.approx(expected, abs=1e-3)
    assert out["ssim"].item() < 1.0


def test_interpolation_error_in_grey_levels():
    target = torch.zeros(1, 3, 4, 4)
    pred = torch.full((1, 3, 4, 4), 3 / 255)
    assert interpolation_error(pred, target).item() == pytest.approx(3.0)


def test_lpips_metric_included_when_weights_exist():
    m = build_metrics(lpips_net="alex")
    x = torch.rand(2, 3, 64, 64)
    m.update(x, x)
    assert m.compute()["lpips"].item() == pytest.approx(0.0, abs=1e-6)


def test_a_perfect_prediction_scores_the_cap_not_infinity():
    target = torch.rand(2, 3, 8, 8)
    pred = target.clone()
    pred[1] = (pred[1] + 10 / 255).clamp(0, 1)
    m = build_metrics(lpips_net=None)
    m.update(pred, target)
    psnr = m.compute()["psnr"].item()
    assert math.isfinite(psnr) and 100.0 > psnr > 50.0  # (100 + ~28) / 2: a still scene predicted exactly counts 100 dB
