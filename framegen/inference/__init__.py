"""Using trained nets: the Python API.

    from framegen.inference import Interpolator, process_video
    interp = Interpolator.from_checkpoint()                 # the shipped default model (or a path)
    mid = interp.interpolate(img0, img1, t=0.5)             # numpy (H, W, 3) or torch (3, H, W)
    frames = interp.between(img0, img1, 3)                  # t = 1/4, 1/2, 3/4
    process_video("in.mp4", "out.mp4", factor=2)            # or fps=60
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

# The names below load on first use (PEP 562): importing a submodule such as framegen.inference.video_tool runs this file,
# and loading torch here would cost the video tool seconds before it can check its input and options.
_LAZY = {
    "export_onnx": "export", "export_program": "export", "export_torchscript": "export",
    "EncodeSettings": "files", "Job": "files", "interpolate_file": "files", "interpolate_folder": "files",
    "Interpolator": "interpolator", "SceneSettings": "schedule",
    "RealtimeInterpolator": "realtime", "capture_frames": "realtime",
}

if TYPE_CHECKING:
    from framegen.inference.export import export_onnx, export_program, export_torchscript
    from framegen.inference.files import EncodeSettings, Job, interpolate_file, interpolate_folder
    from framegen.inference.interpolator import Interpolator
    from framegen.inference.realtime import RealtimeInterpolator, capture_frames
    from framegen.inference.schedule import SceneSettings


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f"framegen.inference.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def process_video(src, dst, *, factor: int | None = 2, fps=None, ckpt: str | None = None,
                  interpolator: Interpolator | None = None, overwrite: bool = False, progress: bool = True,
                  **interpolator_kwargs) -> dict:
    """Interpolate a video file (or a folder of numbered images) to ``factor`` x its rate or to ``fps``."""
    # lazy, as the names above: importing framegen.inference must not load torch
    from framegen.inference.files import Job, interpolate_file
    from framegen.inference.interpolator import Interpolator

    interp = interpolator or Interpolator.from_checkpoint(ckpt, **interpolator_kwargs)
    return interpolate_file(src, dst, interp, Job(factor=factor, fps=fps, overwrite=overwrite, progress=progress))


__all__ = [
    "EncodeSettings",
    "Interpolator",
    "Job",
    "RealtimeInterpolator",
    "SceneSettings",
    "capture_frames",
    "export_onnx",
    "export_program",
    "export_torchscript",
    "interpolate_file",
    "interpolate_folder",
    "process_video",
]
