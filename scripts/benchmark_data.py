"""Speed of the data pipeline on a folder of videos: ``python scripts/benchmark_data.py data.root=<videos>`` (see
conf/benchmark_data.yaml); the same as ``framegen data-speed``."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("data-speed")
