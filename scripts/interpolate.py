"""Raise a video's frame rate: ``python scripts/interpolate.py input=in.mp4 factor=2`` (see conf/interpolate.yaml)."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("interpolate")
