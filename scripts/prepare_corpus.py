"""Fetch the real-footage corpus from Debian packages: ``python scripts/prepare_corpus.py`` (see conf/prepare_corpus.yaml)."""

from _start import run  # scripts/_start.py: Ctrl-C while loading is one line

if __name__ == "__main__":
    run("corpus")
