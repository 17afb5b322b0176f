"""Score interpolation methods on VFI test sets: ``python scripts/evaluate.py benchmark=all method=[average,dis]``."""

import sys

import hydra
from omegaconf import DictConfig

from framegen.checkpoints import CheckpointError
from framegen.evaluation.evaluate import evaluate, markdown_table
from framegen.evaluation.methods import MethodUnavailable


@hydra.main(version_base="1.3", config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        summary = evaluate(cfg)
    except (CheckpointError, MethodUnavailable, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    print(markdown_table(summary))
    print(f"written to {cfg.output_dir}")


if __name__ == "__main__":
    main()
