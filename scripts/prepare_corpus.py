"""Fetch the real-footage corpus from Debian packages: ``python scripts/prepare_corpus.py`` (see conf/prepare_corpus.yaml)."""

from framegen.commands import run_tool

if __name__ == "__main__":
    run_tool("corpus")
