"""Speed: ``python scripts/benchmark.py`` (nets and peers per frame) or ``suite=e2e video=<clip>`` (whole videos)."""

import hydra
from omegaconf import DictConfig

from framegen.evaluation.report import run_benchmark


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    print(run_benchmark(cfg))


if __name__ == "__main__":
    main()
