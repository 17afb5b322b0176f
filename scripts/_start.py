"""The scripts' shared start: Ctrl-C (or SIGTERM) while Python loads framegen, before framegen.commands takes over,
exits at once with one line (nothing can have been written yet); then the command runs. Not a command itself."""

import os
import signal


def _interrupted(signum, frame) -> None:
    os.write(2, b"interrupted while starting: nothing was written\n")
    os._exit(130)


def run(command: str) -> None:
    """Install the start-up handlers, then run ``command`` (a framegen.commands name) with the command line."""
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    from framegen.commands import run_command  # lazy: after the handlers above, as loading takes a moment

    run_command(command)
