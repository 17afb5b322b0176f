"""Speed of the nets: ``python scripts/benchmark.py`` writes a markdown table (conf/benchmark.yaml)."""

import hydra
from omegaconf import DictConfig

from framegen.evaluation.report import run_speed_benchmark


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    print(run_speed_benchmark(cfg))


if __name__ == "__main__":
    main()
