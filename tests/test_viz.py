import torch

from framegen.viz import error_map, flow_to_color, image_grid, interpolation_sheet


def test_zero_flow_is_white_and_directions_differ():
    flow = torch.zeros(1, 2, 4, 12)
    flow[..., 4:8] = torch.tensor([3.0, 0.0]).view(1, 2, 1, 1)
    flow[..., 8:] = torch.tensor([0.0, 3.0]).view(1, 2, 1, 1)
    col = flow_to_color(flow)
    assert col.shape == (1, 3, 4, 12)
    assert torch.allclose(col[..., :4], torch.ones(1, 3, 4, 4))
    assert not torch.allclose(col[..., 4:8], col[..., 8:])
    assert col.min() >= 0 and col.max() <= 1


def test_error_map_and_grid_shapes():
    a, b = torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
    assert error_map(a, a).abs().sum() == 0
    assert error_map(a, b).shape == (2, 3, 8, 8)
    grid = image_grid([[a[0], b[0]], [a[1]]], pad=2)
    assert grid.shape == (3, 2 * 10 + 2, 2 * 10 + 2)
    sheet = interpolation_sheet(a, b, a, b, torch.zeros(2, 4, 8, 8))
    assert sheet.shape == (3, 2 * 10 + 2, 7 * 10 + 2)
