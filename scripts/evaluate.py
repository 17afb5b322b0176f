"""Score interpolation methods: ``python scripts/evaluate.py benchmark=all method=[average,dis]`` (see conf/evaluate.yaml)."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("evaluate")
