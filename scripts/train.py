"""Train a framegen model: ``python scripts/train.py model=advanced trainer=rtx5070`` (see conf/train.yaml, or --help)."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("train")
