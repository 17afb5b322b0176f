"""Train a framegen model: ``python scripts/train.py model=advanced trainer=rtx5070`` (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

from framegen.train import optimized_metric, train


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return optimized_metric(cfg, train(cfg))


if __name__ == "__main__":
    main()
