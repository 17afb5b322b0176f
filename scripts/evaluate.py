"""Score interpolation methods: ``python scripts/evaluate.py benchmark=all method=[average,dis]`` (see conf/evaluate.yaml)."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("evaluate")
