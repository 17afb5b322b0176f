"""framegen's CSV logger: Lightning's, except that a resumed run keeps the rows its checkpoint had already logged
(Lightning's deletes ``metrics.csv`` when it starts), so one run folder holds one unbroken ``metrics.csv``; and
:func:`quiet_third_party`, which keeps training's console to one copy of each line without library noise."""

from __future__ import annotations

import csv
import logging
import os
import warnings

from lightning.pytorch.loggers.csv_logs import CSVLogger, ExperimentWriter


class _KeepingWriter(ExperimentWriter):
    """An ExperimentWriter that starts from the rows of an existing metrics.csv logged before ``keep_before``."""

    def __init__(self, log_dir: str, keep_before: int | None) -> None:
        self._resuming = keep_before is not None
        path = os.path.join(log_dir, self.NAME_METRICS_FILE)
        rows, keys = [], []
        if keep_before is not None and os.path.isfile(path):
            with open(path, newline="") as f:
                reader = csv.DictReader(f)
                keys = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("step") not in (None, "") and int(float(r["step"])) < keep_before]
            os.replace(path, path + ".before-resume")
        super().__init__(log_dir=log_dir)
        if keep_before is not None and os.path.isfile(path + ".before-resume"):
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=keys)
                writer.writeheader()
                writer.writerows(rows)
            self.metrics_keys = sorted(keys)
            os.unlink(path + ".before-resume")

    def _check_log_dir_exists(self) -> None:
        if not self._resuming:  # a resumed run continues its own folder: nothing to warn about
            super()._check_log_dir_exists()


class ResumableCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``keep_before`` (set by :func:`framegen.train.train` when it resumes at step N) keeps the
    earlier rows of the run's metrics.csv."""

    keep_before: int | None = None

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is not None:
            return self._experiment
        self._fs.makedirs(self.root_dir, exist_ok=True)
        self._experiment = _KeepingWriter(self.log_dir, self.keep_before)
        return self._experiment


_QUIET_LOGS = ("💡 Tip:", "`weights_only` was not set", "Loading `train_dataloader` to estimate", "TPU available",
               "HPU available", "Trainer already configured with model summary")
_QUIET_WARNINGS = (r".*isinstance\(treespec, LeafSpec\)", r".*module\(s\) in eval mode at the start of training",
                   r".*could not find the monitored key in the returned metrics",
                   r"Checkpoint directory .* exists and is not empty")  # a resumed run continues its own folder


class _DropNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        msg = str(record.msg)
        return not any(q in msg for q in _QUIET_LOGS)


def quiet_third_party() -> None:
    """Each line once, without the noise: Lightning adds a console handler of its own to the ``lightning`` logger,
    which prints every line a second time where the root logger already has one (Hydra's); and the lines and
    warnings of ``_QUIET_*`` are dropped."""
    top = logging.getLogger("lightning")
    if logging.getLogger().handlers:
        for handler in list(top.handlers):
            if type(handler) is logging.StreamHandler:
                top.removeHandler(handler)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero",
                 "lightning.pytorch.trainer.connectors.checkpoint_connector", "lightning.pytorch.trainer.trainer"):
        lg = logging.getLogger(name)
        if not any(isinstance(f, _DropNoise) for f in lg.filters):
            lg.addFilter(_DropNoise())
    for pattern in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
