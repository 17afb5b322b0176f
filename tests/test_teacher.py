"""Flow supervision: the targets (exact flows where a sample has them, a frozen teacher's elsewhere) and the loss."""

from __future__ import annotations

import torch
from conftest import compose_train

from framegen.losses import flow_supervision
from framegen.teacher import FlowTargets
from framegen.train import train


def _batch(b: int = 3, size: int = 16, *, exact: list[int] | None = None) -> dict:
    img0 = torch.rand(b, 3, size, size)
    batch = {"img0": img0, "img1": torch.roll(img0, 2, dims=-1), "gt": torch.roll(img0, 1, dims=-1),
             "t": torch.full((b,), 0.5)}
    if exact is not None:
        batch["flows"] = torch.randn(b, 4, size, size)
        batch["flows_valid"] = torch.tensor([1.0 if i in exact else 0.0 for i in range(b)])
    return batch


def test_exact_flows_are_kept_and_the_teacher_fills_the_rest():
    batch = _batch(exact=[0])
    flows, rows = FlowTargets(teacher="dis").targets(batch)
    assert torch.equal(rows, torch.ones(3))
    assert torch.equal(flows[0], batch["flows"][0])  # the sample's own flows
    dis_flows = FlowTargets(teacher="dis").teacher(batch["img0"][1:], batch["img1"][1:], 0.5).flows
    assert torch.allclose(flows[1:], dis_flows)  # the teacher's where the sample has none
    assert not torch.equal(batch["flows_valid"], rows)  # the batch itself is left as it was


def test_without_a_teacher_only_exact_flows_count():
    assert FlowTargets(teacher=None).targets(_batch()) is None
    flows, rows = FlowTargets(teacher=None).targets(_batch(exact=[2]))
    assert rows.tolist() == [0.0, 0.0, 1.0]


def test_the_teacher_never_trains():
    targets = FlowTargets(teacher="default").train()
    assert not targets.teacher.training
    assert not any(p.requires_grad for p in targets.teacher.parameters())


def test_flow_supervision_is_zero_for_the_target_and_grows_with_the_error():
    batch = _batch(exact=[0, 1, 2])
    target = batch["flows"]
    args = (batch["img0"], batch["img1"], batch["gt"])
    exact = flow_supervision(target, target, *args, rows=batch["flows_valid"])
    off = flow_supervision(target + 1.0, target, *args, rows=batch["flows_valid"])
    further = flow_supervision(target + 3.0, target, *args, rows=batch["flows_valid"])
    assert float(exact) < 0.01 < float(off) < float(further)
    assert float(flow_supervision(target + 1.0, target, *args, rows=torch.zeros(3))) == 0.0


def test_training_with_a_teacher_logs_the_flow_term_and_leaves_the_teacher_out_of_checkpoints(tmp_path):
    cfg = compose_train(["trainer=cpu", "logger=csv", "trainer.max_steps=2", "model.flow_supervision.weight=0.1",
                         "model.flow_supervision.teacher=default", "trainer.log_every_n_steps=1", "data.source.size=32", "data.source.train_samples=4",
                         "data.source.val_samples=2", "data.batch_size=2", "model.net.hidden_dim=16",
                         "model.net.num_layers=1", "callbacks.progress_bar=null"], tmp_path)
    train(cfg)
    rows = (tmp_path / "csv" / "metrics.csv").read_text()
    assert "train/flow" in rows.splitlines()[0]
    state = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    assert state and not any(k.startswith("flow_targets.teacher.") for k in state)
