"""The family of errors framegen reports to a user as one ``error:`` line (torch-free, imported at start-up).

Every framegen exception derives from :class:`FramegenError` and carries the exit code its tool ends with; each
also keeps the builtin base it always had (``RuntimeError``, ``ValueError``, ``FileNotFoundError``), so code that
catches those still does. ``framegen.commands`` catches the family in each tool's one ``except``.
"""

from __future__ import annotations


class FramegenError(Exception):
    """A failure a user can act on, reported as one line; ``exit_code`` is the tool's exit status for it."""

    exit_code = 2


class TrainingError(FramegenError, RuntimeError):
    """A run that cannot start or went wrong (a diverged loss, a wrong checkpoint, missing data); one line."""

    exit_code = 1
