import pytest
import torch

from framegen.checkpoints import CheckpointError, export_net, load_net, read_checkpoint, ship_weights
from framegen.models import build_net
from framegen.lightning_module import InterpolationModule

ARCH = {"name": "flow", "hidden_dim": 16, "num_layers": 2}


def test_export_and_load_round_trip(tmp_path):
    net = build_net(**ARCH).eval()
    path = export_net(tmp_path / "best_model.pth", net, ARCH, metrics={"val/psnr": 30.0})
    loaded, info = load_net(path)
    x0, x1 = torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.allclose(loaded(x0, x1, 0.5).frame, net(x0, x1, 0.5).frame)
    assert info["metrics"] == {"val/psnr": 30.0} and info["arch"] == ARCH
    assert not list(tmp_path.glob("*.tmp"))


def test_fp16_export_is_smaller_and_close(tmp_path):
    net = build_net(**ARCH).eval()
    full = export_net(tmp_path / "a.pth", net, ARCH)
    half = export_net(tmp_path / "b.pth", net, ARCH, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded, _ = load_net(half)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert (loaded(x, x, 0.5).frame - net(x, x, 0.5).frame).abs().max() < 1e-2


def test_ship_weights_keeps_metrics_and_adds_info(tmp_path):
    net = build_net(**ARCH).eval()
    src = export_net(tmp_path / "best_model.pth", net, ARCH, metrics={"val/psnr": 31.5}, global_step=700)
    out = ship_weights(src, tmp_path / "default.pth", recipe="conf/experiment/x.yaml", hardware="cpu")
    arch, state, info = read_checkpoint(out)
    assert arch == ARCH and all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    assert info["metrics"] == {"val/psnr": 31.5} and info["global_step"] == 700 and info["recipe"].endswith("x.yaml")
    assert src.is_file() and src.stat().st_size > out.stat().st_size


def test_lightning_checkpoint_is_readable(tmp_path):
    module = InterpolationModule(net=ARCH, metrics_lpips=None)
    state = {f"net.{k}": v for k, v in module.net.state_dict().items()}
    torch.save({"state_dict": state, "hyper_parameters": dict(module.hparams), "epoch": 3, "global_step": 99},
               tmp_path / "last.ckpt")
    arch, sd, info = read_checkpoint(tmp_path / "last.ckpt")
    assert arch == ARCH and info["global_step"] == 99
    net, _ = load_net(tmp_path / "last.ckpt")
    assert isinstance(net, torch.nn.Module)


def test_bad_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_net(tmp_path / "missing.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_net(tmp_path / "garbage.pth")
    torch.save({"weights": 1}, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match="not a framegen checkpoint"):
        load_net(tmp_path / "other.pth")
    export_net(tmp_path / "mismatch.pth", build_net(**ARCH), {**ARCH, "hidden_dim": 32})
    with pytest.raises(CheckpointError, match="do not match"):
        load_net(tmp_path / "mismatch.pth")
