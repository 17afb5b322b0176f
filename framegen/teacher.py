"""Flow targets for flow supervision: the exact flows a sample carries, else a frozen teacher's."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from framegen.catalogue import get_model


class FlowTargets(nn.Module):
    """``targets(batch) -> (flows (B, 4, H, W), rows (B,)) or None``: the target intermediate flows of a training
    batch for :func:`framegen.losses.flow_supervision`.

    Samples with exact flows (synthetic motion: ``batch["flows"]``, ``batch["flows_valid"]``) keep them; the others
    get the flows of a frozen ``teacher`` (a catalogue name such as ``rife``, or a checkpoint; None: exact flows only)
    run at flow ``scale``. ``rows`` marks the samples that have a target; None when none has. The teacher never
    trains and stays in eval mode; the LightningModule leaves it out of checkpoints.
    """

    def __init__(self, *, teacher: str | None = None, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = float(scale)
        self.teacher = None
        if teacher:
            self.teacher = get_model(teacher).requires_grad_(False).eval()

    def train(self, mode: bool = True) -> FlowTargets:
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    @torch.no_grad()
    def targets(self, batch: dict[str, Tensor], *,
                memory_format: torch.memory_format = torch.contiguous_format) -> tuple[Tensor, Tensor] | None:
        img0 = batch["img0"]
        b = img0.shape[0]
        if "flows" in batch:
            flows = batch["flows"]
            rows = batch.get("flows_valid", torch.ones(b, device=flows.device)).clone()
        else:
            flows = img0.new_zeros(b, 4, *img0.shape[-2:])
            rows = img0.new_zeros(b)
        missing = rows < 0.5
        if self.teacher is not None and missing.any():
            t = batch["t"]
            if torch.is_tensor(t) and t.numel() == b:
                t = t.reshape(-1)[missing]
            out = self.teacher(img0[missing].contiguous(memory_format=memory_format),
                               batch["img1"][missing].contiguous(memory_format=memory_format), t, scale=self.scale)
            flows = flows.clone()
            flows[missing] = out.flows.to(flows.dtype)
            rows[missing] = 1.0
        return (flows, rows) if rows.any() else None
