"""One family of errors: every exception framegen defines derives from FramegenError and keeps its builtin base."""

import importlib
import inspect
import pkgutil

import framegen
from framegen.errors import FramegenError


def _framegen_exceptions():
    for info in pkgutil.walk_packages(framegen.__path__, "framegen."):
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__ == info.name:
                yield obj


def test_every_framegen_exception_is_a_framegen_error_with_an_exit_code():
    found = set(_framegen_exceptions())
    names = {e.__name__ for e in found}
    assert {"MediaError", "VideoError", "CheckpointError", "TrainingError", "DataError", "CacheError",
            "NonFiniteOutput", "MethodUnavailable", "CorpusError", "BackboneWeightsNotFound"} <= names
    outside = [e.__name__ for e in found if not issubclass(e, FramegenError)]
    assert not outside
    assert {e.__name__: e.exit_code for e in found if e.__name__ in ("TrainingError", "DataError")} == \
        {"TrainingError": 1, "DataError": 1}
    # the builtin bases stay, so code that catches them still does
    from framegen.checkpoints import CheckpointError
    from framegen.media import MediaError

    assert issubclass(CheckpointError, ValueError) and issubclass(MediaError, RuntimeError)
