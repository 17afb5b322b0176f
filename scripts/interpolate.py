"""Raise a video's frame rate: ``python scripts/interpolate.py input=in.mp4 factor=2`` (see conf/interpolate.yaml)."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("interpolate")
