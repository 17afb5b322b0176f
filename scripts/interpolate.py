"""Raise a video's frame rate: ``python scripts/interpolate.py input=in.mp4 factor=2`` (see conf/interpolate.yaml)."""

import sys

import hydra
from omegaconf import DictConfig

from framegen.checkpoints import CheckpointError
from framegen.inference.cli import run
from framegen.inference.video_io import VideoError


@hydra.main(version_base="1.3", config_path="../conf", config_name="interpolate")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (VideoError, CheckpointError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: no output was written", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
