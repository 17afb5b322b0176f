"""Score interpolation methods: ``python scripts/evaluate.py benchmark=all method=[average,dis]`` (see conf/evaluate.yaml)."""

import os
import signal


def _interrupted(signum, frame) -> None:
    """Ctrl-C (or SIGTERM) while Python loads framegen, before framegen.commands takes over: nothing to save yet."""
    os.write(2, b"interrupted while starting: nothing was written\n")
    os._exit(130)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    from framegen.commands import run_command  # start-up time: after the handlers above, as it takes a moment

    run_command("evaluate")
