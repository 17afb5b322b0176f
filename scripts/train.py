"""Train a framegen model: ``python scripts/train.py model=advanced trainer=rtx5070`` (see conf/train.yaml, or --help)."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("train")
