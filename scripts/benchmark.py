"""Speed: ``python scripts/benchmark.py`` (nets and peers per frame) or ``suite=e2e video=<clip>`` (whole videos)."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("benchmark")
