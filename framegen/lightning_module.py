"""The LightningModule: one training loop for every registered net. It keeps the loss, the metrics and the
optimizer; the flow teacher is :mod:`framegen.teacher`, image sheets are :class:`framegen.callbacks.ImageLogger`'s."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch

from framegen.errors import TrainingError
from framegen.losses import FramegenLoss, flow_supervision
from framegen.metrics import build_metrics, quantize
from framegen.models import InterpolationOutput, build_net
from framegen.models.layers import memory_format
from framegen.perceptual import LPIPS
from framegen.teacher import FlowTargets


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """LR multiplier: linear warmup from ~0 to 1, then cosine decay to ``min_lr_ratio`` at ``total_steps``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class InterpolationModule(L.LightningModule):
    """Trains ``net(img0, img1, t)`` against the ground-truth frame.

    Args (plain values only, so ``load_from_checkpoint(path)`` needs no Hydra):
        net: {"name": registry name, **architecture kwargs}.
        loss: keyword arguments of :class:`framegen.losses.FramegenLoss`.
        optimizer: {"lr", "weight_decay", "betas"} for AdamW, and optionally "eps" (AdamW's, 1e-8 by default) and
            "lr_scale" ({submodule: multiplier}: the parameters of that submodule of the net train at that multiple of lr,
            e.g. {"flow": 0.1} for the advanced net's flow blocks; the innermost named submodule wins).
        scheduler: {"warmup_steps", "min_lr_ratio"}; total steps come from the trainer.
        compile: wrap the net in ``torch.compile`` for training.
        channels_last: run the net (and the teacher) in channels-last memory layout; None = on the CPU only, where
            oneDNN's convolutions make a training step about 25 % faster so (docs/benchmarks.md).
        metrics_lpips: backbone of the LPIPS validation metric (None to skip it).
        flow_supervision: {"weight", "beta", "teacher", "teacher_scale"}: a robust loss on the net's intermediate
            flows (:func:`framegen.losses.flow_supervision`), against the exact flows that samples carry (synthetic
            motion) and, for samples without, against a frozen teacher's flows (``teacher``: a checkpoint path or a
            named model such as ``rife425``; None = exact flows only). The teacher is left out of checkpoints.
    """

    def __init__(
        self,
        *,
        net: dict[str, Any],
        loss: dict[str, Any] | None = None,
        optimizer: dict[str, Any] | None = None,
        scheduler: dict[str, Any] | None = None,
        compile: bool = False,
        channels_last: bool | None = None,
        metrics_lpips: str | None = "alex",
        flow_supervision: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        kwargs = dict(net)
        self.net = build_net(kwargs.pop("name"), **kwargs)
        self.loss_fn = FramegenLoss(**(loss or {}))
        metrics = build_metrics(lpips_net=metrics_lpips)
        self.val_metrics = metrics.clone(prefix="val/")
        self.test_metrics = metrics.clone(prefix="test/")
        # the values come from the config (conf/model/_module.yaml is their one home); checked when training starts
        self.optimizer_cfg, self.scheduler_cfg = dict(optimizer or {}), dict(scheduler or {})
        self.flow_cfg = dict(flow_supervision or {"weight": 0.0})
        self.flow_targets = None
        if self.flow_cfg["weight"] > 0:
            missing = [k for k in ("beta", "teacher", "teacher_scale") if k not in self.flow_cfg]
            if missing:
                raise ValueError(f"flow_supervision lacks {', '.join(missing)} (conf/model/_module.yaml has them all)")
            self.flow_targets = FlowTargets(teacher=self.flow_cfg["teacher"], scale=float(self.flow_cfg["teacher_scale"]))
        # the global step of the last finished validation (train() validates once more when it is not the last step)
        self.last_validated_step: int | None = None
        # What forward runs: the net, or its compiled wrapper. Kept out of the module tree (set through __dict__),
        # so checkpoints hold the net's weights once, under "net.".
        self.__dict__["_run_net"] = self.net

    def setup(self, stage: str) -> None:
        if self.hparams.compile and self._run_net is self.net:
            self.__dict__["_run_net"] = torch.compile(self.net)

    def _memory_format(self) -> torch.memory_format:
        return memory_format(self.device, self.hparams.get("channels_last"))

    def _set_memory_format(self) -> None:
        fmt = self._memory_format()
        self.net.to(memory_format=fmt)
        if self.flow_targets is not None:
            self.flow_targets.to(memory_format=fmt)

    def on_fit_start(self) -> None:
        self._set_memory_format()

    def on_validation_start(self) -> None:
        self._set_memory_format()

    def on_test_start(self) -> None:
        self._set_memory_format()

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor | float) -> InterpolationOutput:
        fmt = self._memory_format()
        return self._run_net(img0.contiguous(memory_format=fmt), img1.contiguous(memory_format=fmt), t)

    # ----------------------------------------------------------------- steps
    def _shared_step(self, batch: dict[str, torch.Tensor]) -> tuple[InterpolationOutput, torch.Tensor, dict]:
        out = self(batch["img0"], batch["img1"], batch["t"])
        loss, terms = self.loss_fn(out.frame, batch["gt"])
        return out, loss, terms

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out, loss, terms = self._shared_step(batch)
        weight = float(self.flow_cfg["weight"])
        if weight > 0:
            targets = self.flow_targets.targets(batch, memory_format=self._memory_format())
            if targets is not None:
                terms["flow"] = flow_supervision(out.flows, targets[0], batch["img0"], batch["img1"], batch["gt"],
                                                 beta=float(self.flow_cfg["beta"]), rows=targets[1])
                loss = loss + weight * terms["flow"]
        if not torch.isfinite(loss):
            bad = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
            raise TrainingError(f"the training loss is not finite at step {self.global_step} ({bad}): the run diverged "
                                f"(learning rate {self.optimizer_cfg['lr']:g} too high?); nothing was exported from it")
        bs = batch["img0"].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=bs)
        self.log_dict({f"train/{k}": v for k, v in terms.items()}, batch_size=bs)
        return {"loss": loss, "frame": out.frame.detach(), "flows": out.flows.detach()}  # the images: ImageLogger

    def _eval_step(self, batch: dict[str, torch.Tensor], batch_idx: int, stage: str) -> None:
        out, loss, _ = self._shared_step(batch)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(quantize(out.frame), batch["gt"])
        bs = batch["img0"].shape[0]
        self.log(f"{stage}/loss", loss, batch_size=bs, sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=bs)
        return {"frame": out.frame.detach(), "flows": out.flows.detach()}

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, batch_idx, "val")

    def on_validation_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        bad = {k: float(v) for k, v in self.trainer.callback_metrics.items()
               if k.startswith("val/") and not torch.isfinite(torch.as_tensor(v)).all()}
        if bad:
            raise TrainingError(f"validation metrics are not finite at step {self.global_step} ({bad}): the run "
                                f"diverged; nothing was exported from it")
        self.last_validated_step = self.global_step

    def on_before_zero_grad(self, optimizer) -> None:
        """After each optimizer step: weights that became NaN/inf stop the run before the next forward pass."""
        for name, p in self.net.named_parameters():
            if not torch.isfinite(p).all():
                raise TrainingError(f"the weights became non-finite at step {self.global_step} ({name}): the run "
                                    f"diverged (learning rate {self.optimizer_cfg['lr']:g} too high?)")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step(batch, batch_idx, "test")

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self(batch["img0"], batch["img1"], batch["t"]).frame

    # ----------------------------------------------------------------- optim
    def configure_optimizers(self):
        for name, cfg, keys in (("optimizer", self.optimizer_cfg, ("lr", "weight_decay", "betas")),
                                ("scheduler", self.scheduler_cfg, ("warmup_steps", "min_lr_ratio"))):
            missing = [k for k in keys if k not in cfg]
            if missing:
                raise TrainingError(f"model.{name} lacks {', '.join(missing)} (conf/model/_module.yaml has them all)")
        cfg = self.optimizer_cfg
        opt = torch.optim.AdamW(self._param_groups(cfg), lr=cfg["lr"], weight_decay=cfg["weight_decay"],
                                betas=tuple(cfg["betas"]), eps=float(cfg.get("eps", 1e-8)))
        total = int(self.trainer.estimated_stepping_batches)
        sch = self.scheduler_cfg
        lam = lambda step: warmup_cosine(step, warmup_steps=int(sch["warmup_steps"]), total_steps=total,
                                         min_lr_ratio=float(sch["min_lr_ratio"]))
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lam)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"}}

    def _param_groups(self, cfg: dict[str, Any]) -> list[dict[str, Any]]:
        """The trainable parameters (a frozen part, e.g. train_flow=false, stays out), one group per lr multiple."""
        scales = {str(k): float(v) for k, v in (cfg.get("lr_scale") or {}).items()}
        names = [n for n, _ in self.net.named_parameters()]
        inside = lambda name, k: name.startswith(k + ".")
        unused = [k for k in scales if not any(inside(n, k) for n in names)]
        if unused:
            raise TrainingError(f"model.optimizer.lr_scale: the net has no submodule {', '.join(unused)} with parameters")
        groups: dict[float, list[torch.nn.Parameter]] = {}
        for name, p in self.net.named_parameters():
            if p.requires_grad:
                match = max((k for k in scales if inside(name, k)), key=len, default=None)
                groups.setdefault(1.0 if match is None else scales[match], []).append(p)
        return [{"params": ps, "lr": cfg["lr"] * m} for m, ps in groups.items()]

    # ------------------------------------------------------------ checkpoints
    def _frozen_prefixes(self) -> list[str]:
        frozen = [f"{name}." for name, m in self.named_modules() if isinstance(m, LPIPS)]
        return frozen + (["flow_targets.teacher."] if self.flow_targets is not None else [])

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Leave the frozen LPIPS backbones (loss and metric) out of checkpoints; they are rebuilt on load."""
        prefixes = tuple(self._frozen_prefixes())
        state = checkpoint["state_dict"]
        for key in [k for k in state if k.startswith(prefixes)]:
            del state[key]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        prefixes = tuple(self._frozen_prefixes())
        state = checkpoint["state_dict"]
        # checkpoints written before 0.1.0's fix held a second copy of the net under "_run_net."
        for key in [k for k in state if k.startswith("_run_net.")]:
            del state[key]
        for key, value in self.state_dict().items():
            if key.startswith(prefixes):
                state.setdefault(key, value)
