"""Speed of the data pipeline on a folder of videos: ``python scripts/benchmark_data.py data.root=<videos>``."""

import sys

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from framegen.evaluation.data_speed import cache_build_fps, loader_throughput, raw_decode_fps


@hydra.main(version_base="1.3", config_path="../conf", config_name="benchmark_data")
def main(cfg: DictConfig) -> None:
    source = instantiate(cfg.data.source)
    raw, n = raw_decode_fps(source)
    build = cache_build_fps(source)
    rows = [f"| decord decode, native size ({n} frames) | {raw:.0f} frames/s |",
            f"| cache build: decode + resize + checks + write ({build['frames_decoded']} frames) "
            f"| {build['frames_per_second']:.0f} frames/s |"]
    for w in cfg.workers:
        sps = loader_throughput(source, num_workers=int(w), batch_size=int(cfg.batch_size), batches=int(cfg.batches))
        rows.append(f"| DataLoader from the cache, {w} workers, batch {cfg.batch_size} | {sps:.0f} samples/s |")
    text = "\n".join([f"`python scripts/benchmark_data.py {' '.join(sys.argv[1:])}`", "", "| what | speed |",
                      "| --- | --- |", *rows, ""])
    print(text)
    if cfg.output:
        with open(cfg.output, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
