"""Speed: ``python scripts/benchmark.py`` (nets and peers per frame) or ``suite=e2e video=<clip>`` (whole videos)."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("benchmark")
