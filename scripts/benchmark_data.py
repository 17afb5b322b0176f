"""Speed of the data pipeline on a folder of videos: ``python scripts/benchmark_data.py data.root=<videos>`` (see
conf/benchmark_data.yaml); the same as ``framegen data-speed``."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("data-speed")
