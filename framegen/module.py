"""The LightningModule: one training loop for every registered net."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger, WandbLogger

from framegen.errors import FramegenError
from framegen.losses import FramegenLoss, flow_supervision
from framegen.metrics import build_metrics, quantize
from framegen.models import InterpolationOutput, build_net
from framegen.models.layers import memory_format
from framegen.perceptual import LPIPS
from framegen.viz import interpolation_sheet, to_uint8


class TrainingError(FramegenError, RuntimeError):
    """A run that cannot start or went wrong (a diverged loss, a wrong checkpoint, missing data); one line."""

    exit_code = 1


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
        optimizer: {"lr", "weight_decay", "betas"} for AdamW, and optionally "eps" (AdamW's, 1e-8 by default).
        scheduler: {"warmup_steps", "min_lr_ratio"}; total steps come from the trainer.
        compile: wrap the net in ``torch.compile`` for training.
        channels_last: run the net (and the teacher) in channels-last memory layout; None = on the CPU only, where
            oneDNN's convolutions make a training step about 25 % faster so (docs/benchmarks.md).
        metrics_lpips: backbone of the LPIPS validation metric (None to skip it).
        image_log_every_n_steps: log a training image sheet every N steps (0 = never); validation logs one per epoch.
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
        image_log_every_n_steps: int = 500,
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
        self.image_log_every_n_steps = image_log_every_n_steps
        self.flow_cfg = dict(flow_supervision or {"weight": 0.0})
        self.teacher = None
        if self.flow_cfg["weight"] > 0:
            missing = [k for k in ("beta", "teacher", "teacher_scale") if k not in self.flow_cfg]
            if missing:
                raise ValueError(f"flow_supervision lacks {', '.join(missing)} (conf/model/_module.yaml has them all)")
            self.teacher = self._load_teacher(self.flow_cfg["teacher"])
        # the global step of the last finished validation (train() validates once more when it is not the last step)
        self.last_validated_step: int | None = None
        # What forward runs: the net, or its compiled wrapper. Kept out of the module tree (set through __dict__),
        # so checkpoints hold the net's weights once, under "net.".
        self.__dict__["_run_net"] = self.net

    @staticmethod
    def _load_teacher(ckpt: str | None) -> torch.nn.Module | None:
        if not ckpt:
            return None
        from framegen.catalogue import get_model

        teacher = get_model(ckpt)  # a catalogue name (rife, default) or a checkpoint
        for p in teacher.parameters():
            p.requires_grad_(False)
        return teacher.eval()

    def setup(self, stage: str) -> None:
        if self.hparams.compile and self._run_net is self.net:
            self.__dict__["_run_net"] = torch.compile(self.net)

    def _memory_format(self) -> torch.memory_format:
        return memory_format(self.device, self.hparams.get("channels_last"))

    def _set_memory_format(self) -> None:
        fmt = self._memory_format()
        self.net.to(memory_format=fmt)
        if self.teacher is not None:
            self.teacher.to(memory_format=fmt)

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

    def _flow_targets(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(target flows (B, 4, H, W), rows with a target (B,)): the samples' exact flows, the teacher's elsewhere."""
        b = batch["img0"].shape[0]
        if "flows" in batch:
            flows = batch["flows"]
            rows = batch.get("flows_valid", torch.ones(b, device=flows.device)).clone()
        else:
            flows = batch["img0"].new_zeros(b, 4, *batch["img0"].shape[-2:])
            rows = batch["img0"].new_zeros(b)
        missing = rows < 0.5
        if self.teacher is not None and missing.any():
            self.teacher.eval()
            t = batch["t"].reshape(-1)[missing] if torch.is_tensor(batch["t"]) and batch["t"].numel() == b else batch["t"]
            scale = float(self.flow_cfg["teacher_scale"])
            fmt = self._memory_format()
            with torch.no_grad():
                out = self.teacher(batch["img0"][missing].contiguous(memory_format=fmt),
                                   batch["img1"][missing].contiguous(memory_format=fmt), t, scale=scale)
            flows = flows.clone()
            flows[missing] = out.flows.to(flows.dtype)
            rows[missing] = 1.0
        return (flows, rows) if rows.any() else None

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        out, loss, terms = self._shared_step(batch)
        weight = float(self.flow_cfg["weight"])
        if weight > 0:
            targets = self._flow_targets(batch)
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
        n = self.image_log_every_n_steps
        if n and self.global_step % n == 0:
            self._log_images("train/images", batch, out)
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], batch_idx: int, stage: str) -> None:
        out, loss, _ = self._shared_step(batch)
        metrics = self.val_metrics if stage == "val" else self.test_metrics
        metrics.update(quantize(out.frame), batch["gt"])
        bs = batch["img0"].shape[0]
        self.log(f"{stage}/loss", loss, batch_size=bs, sync_dist=True)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=bs)
        if batch_idx == 0 and not self.trainer.sanity_checking:
            self._log_images(f"{stage}/images", batch, out)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

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

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

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
        trainable = [p for p in self.net.parameters() if p.requires_grad]  # a frozen part (train_flow=false) stays out
        opt = torch.optim.AdamW(trainable, lr=cfg["lr"], weight_decay=cfg["weight_decay"], betas=tuple(cfg["betas"]),
                                eps=float(cfg.get("eps", 1e-8)))
        total = int(self.trainer.estimated_stepping_batches)
        sch = self.scheduler_cfg
        lam = lambda step: warmup_cosine(step, warmup_steps=int(sch["warmup_steps"]), total_steps=total,
                                         min_lr_ratio=float(sch["min_lr_ratio"]))
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lam)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "lr"}}

    # ------------------------------------------------------------ checkpoints
    def _frozen_prefixes(self) -> list[str]:
        frozen = [f"{name}." for name, m in self.named_modules() if isinstance(m, LPIPS)]
        return frozen + (["teacher."] if self.teacher is not None else [])

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

    # ---------------------------------------------------------------- images
    def _log_images(self, tag: str, batch: dict[str, torch.Tensor], out: InterpolationOutput) -> None:
        if not self.loggers or not self.trainer.is_global_zero:
            return
        sheet = interpolation_sheet(batch["img0"], batch["img1"], out.frame, batch["gt"], out.flows, labels=True,
                                    t=batch["t"])
        step = self.global_step
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(tag, sheet, step)
            elif isinstance(logger, WandbLogger):
                logger.log_image(key=tag, images=[to_uint8(sheet)], step=step)
            elif isinstance(logger, CSVLogger):
                import cv2

                folder = Path(logger.log_dir) / "images"
                folder.mkdir(parents=True, exist_ok=True)
                name = f"{tag.replace('/', '_')}_step{step:07d}.png"
                cv2.imwrite(str(folder / name), cv2.cvtColor(to_uint8(sheet), cv2.COLOR_RGB2BGR))
