"""The family of errors framegen reports to a user as one ``error:`` line (torch-free, imported at start-up).

Every framegen exception derives from :class:`FramegenError` and carries the exit code its tool ends with; each
also keeps the builtin base it always had (``RuntimeError``, ``ValueError``, ``FileNotFoundError``), so code that
catches those still does. ``framegen.commands`` catches the family in each tool's one ``except``.
:func:`out_of_memory` is the one line an allocation failure becomes (the command line and the app).
"""

from __future__ import annotations


class FramegenError(Exception):
    """A failure a user can act on, reported as one line; ``exit_code`` is the tool's exit status for it."""

    exit_code = 2


class TrainingError(FramegenError, RuntimeError):
    """A run that cannot start or went wrong (a diverged loss, a wrong checkpoint, missing data); one line."""

    exit_code = 1


_OOM = ("out of memory", "can't allocate memory", "not enough memory", "defaultcpuallocator",
        "cannot allocate memory")


def out_of_memory(err: BaseException, cfg) -> str | None:
    """``cfg``: the video tool's options (tile, scale, batch_size). One line for an allocation failure (torch's OutOfMemoryError, a CPU allocator's RuntimeError, MemoryError),
    suggesting the options that make large frames fit; None for any other error."""
    text = str(err).strip()
    if not (isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError"
            or any(k in text.lower() for k in _OOM)):
        return None
    detail = text.splitlines()[0][:120] if text else type(err).__name__
    tile = cfg.get("tile")
    tile_hint = f"tile={max(256, int(tile) // 2)}" if isinstance(tile, int) and tile > 0 else "tile=1024 (or 512)"
    scale = cfg.get("scale") or 1.0
    scale_hint = f"scale={max(0.125, float(scale) / 2):g}"
    return (f"out of memory ({detail}): frames this large need {tile_hint} to process them in tiles, "
            f"{scale_hint} to estimate motion at a lower resolution, or batch_size=1 (now {cfg.get('batch_size')})")
