"""Other inference runtimes (issue #22): the net exported to ONNX and run by OpenVINO or ONNX Runtime gives the
frames PyTorch gives, through the Interpolator; settings a runtime cannot honour are refused."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fake_videos import pan_frames, write_video

from framegen.inference.interpolator import Interpolator
from framegen.models import build_net

SMALL_FLOW = {"block": "rife", "widths": [24, 16, 16], "scales": [4, 2, 1], "num_layers": 1, "refine_width": 0}


def _pair():
    import skimage.data

    img = torch.from_numpy(skimage.data.astronaut()[::8, ::8].copy()).permute(2, 0, 1).float()[None] / 255
    return img[..., 2:62, 4:60], img[..., 4:64, :56]  # a real photo and the same shifted by (2, 4) px; 60x56


def _compare(runtime: str) -> None:
    torch.manual_seed(0)
    net = build_net("flow", **SMALL_FLOW).eval()
    x0, x1 = _pair()
    x0, x1 = torch.cat((x0, x1)), torch.cat((x1, x0))
    ref = Interpolator(net, device="cpu", precision="fp32", batch_size=2)(x0, x1, torch.tensor([0.5, 0.25]))
    interp = Interpolator(net, device="cpu", precision="auto", batch_size=2, runtime=runtime)
    assert interp.precision == "fp32"
    out = interp(x0, x1, torch.tensor([0.5, 0.25]))
    assert out.shape == ref.shape and (out - ref).abs().max() < 2e-3
    # a second size gets its own graph; a batch of one runs through the same graph as a batch of two
    one = interp(x0[:1, :, :40, :48], x1[:1, :, :40, :48], 0.5)
    assert one.shape == (1, 3, 40, 48) and len(interp.run_net._graphs) == 2
    assert interp.identity() != Interpolator(net, device="cpu").identity()


@pytest.mark.parametrize("runtime", ["openvino", "onnxruntime"])
def test_runtime_gives_pytorchs_frames(runtime):
    """Run in a child process: once the openvino package is imported into pytest's process, a later test's output
    capture fails ("I/O operation on closed file" in pytest's own capture); a program of the user's is not captured
    so. Hence find_spec, not importorskip."""
    if importlib.util.find_spec(runtime) is None:
        pytest.skip(f"{runtime} is not installed (pip install framegen[export])")
    code = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import test_runtimes as t; t._compare({runtime!r})"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_runtime_refuses_what_it_cannot_do():
    net = build_net("flow", **SMALL_FLOW).eval()
    with pytest.raises(ValueError, match="runtime must be one of"):
        Interpolator(net, device="cpu", runtime="tensorrt")
    with pytest.raises(ValueError, match="fp32"):
        Interpolator(net, device="cpu", precision="bf16", runtime="onnxruntime")
    with pytest.raises(ValueError, match="compile=false"):
        Interpolator(net, device="cpu", compile=True, runtime="onnxruntime")
    with pytest.raises(ValueError, match="learned nets"):
        Interpolator(build_net("average"), device="cpu", runtime="onnxruntime")


def test_row_a_runtime_that_is_not_installed_is_one_line(tmp_path, tool, ckpt, monkeypatch):
    """runtime=openvino without the package: one error line naming what to install, exit 2, nothing written. (The
    package is hidden through sys.modules, so it is never imported into pytest's process: see above.)"""
    monkeypatch.setitem(sys.modules, "openvino", None)
    src = write_video(tmp_path / "a.mp4", pan_frames(6))
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}", "runtime=openvino",
                        "progress=false")
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code != 0 and len(lines) == 1 and "pip install openvino" in lines[0], err
    assert not (tmp_path / "b.mp4").exists()


def test_row_settings_a_runtime_cannot_honour_are_one_line(tmp_path, tool, ckpt):
    src = write_video(tmp_path / "a.mp4", pan_frames(6))
    code, _, err = tool("interpolate", f"ckpt={ckpt}", f"input={src}", f"output={tmp_path / 'b.mp4'}",
                        "runtime=onnxruntime", "precision=bf16", "progress=false")
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(lines) == 1 and "fp32" in lines[0], err
    assert not (tmp_path / "b.mp4").exists()
