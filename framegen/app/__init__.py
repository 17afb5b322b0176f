"""``framegen app``: a local web page for the video tool (Gradio). Drop a video, watch its progress, compare before
and after, step through the in-between frames, download the result; compare two methods; or call the page's
``/interpolate`` action from a script with ``gradio_client`` (docs/app.md).

``pip install "framegen[app]"`` brings Gradio. :mod:`framegen.app.work` (the jobs) and :mod:`framegen.app.preview`
(what the page shows of them) import no Gradio; :mod:`framegen.app.page` is the page; :func:`serve` runs it.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig

from framegen.app.work import Choices, Engine, tool_config
from framegen.errors import FramegenError
from framegen.inference.video_tool import check_options
from framegen.media import user_path

log = logging.getLogger(__name__)
# the video tool's options the app passes to every job (conf/app.yaml)
TOOL_KEYS = ("device", "precision", "batch_size", "scale", "tile")


class AppError(FramegenError, ValueError):
    """The app cannot start: a bad option, Gradio missing, the port taken."""


def _number_ok(v, *, positive: bool = True) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)


def check_app_options(cfg: DictConfig) -> None:
    """AppError naming the first option of conf/app.yaml with a value that cannot work."""
    port = cfg.get("port")
    if not (isinstance(port, int) and not isinstance(port, bool) and 1 <= port <= 65535):
        raise AppError(f"port={port}: give a port number from 1 to 65535, e.g. 7860")
    if not isinstance(cfg.get("host"), str) or not cfg.host.strip():
        raise AppError(f"host={cfg.get('host')}: give an address to listen on, e.g. 127.0.0.1 (this machine only)")
    for key in ("share", "open_browser"):
        if not isinstance(cfg.get(key), bool):
            raise AppError(f"{key}={cfg.get(key)}: give true or false")
    for key in ("preview_seconds", "compare_seconds"):
        if not _number_ok(cfg.get(key)):
            raise AppError(f"{key}={cfg.get(key)}: give a number of seconds > 0, e.g. 2")
    if cfg.get("output_dir"):
        out = user_path(cfg.output_dir)
        if out.exists() and not out.is_dir():
            raise AppError(f"output_dir={cfg.output_dir} is a file: give a folder for the results")


def tool_options(cfg: DictConfig) -> dict:
    """The video tool's options the app's config sets for every job."""
    return {k: cfg.get(k) for k in TOOL_KEYS if k in cfg}


def check_tool_options(tool: dict) -> None:
    """The video tool's own check of the app's device/precision/batch_size/... (before the page starts)."""
    try:
        check_options(tool_config(Choices(), src=Path("."), tool=tool))
    except ValueError as err:
        raise AppError(str(err)) from None


def _import_gradio():
    try:
        import gradio  # noqa: F401  (lazy: an optional extra, framegen[app]; a missing one is one line)
    except ImportError as err:
        raise AppError(f"the app needs Gradio ({err}): pip install \"framegen[app]\"") from None


def serve(cfg: DictConfig, *, ready=None) -> None:
    """Serve the page until Ctrl-C (or SIGTERM). ``ready(url)`` is called once it answers (tests)."""
    check_app_options(cfg)
    tool = tool_options(cfg)
    check_tool_options(tool)
    _import_gradio()
    from framegen.app.page import build_page, remove_work  # lazy: the page imports Gradio, an optional extra

    logging.getLogger("httpx").setLevel(logging.WARNING)  # Gradio's own requests to itself
    work = Path(tempfile.mkdtemp(prefix="framegen-app-"))
    output_dir = user_path(cfg.output_dir) if cfg.get("output_dir") else work / "results"
    engine = Engine(output_dir, work / "jobs", tool=tool, ckpt=cfg.get("ckpt"),
                    compare_seconds=float(cfg.compare_seconds))
    page = build_page(engine, preview_seconds=float(cfg.preview_seconds), compare_seconds=float(cfg.compare_seconds))
    try:
        try:
            page.launch(server_name=cfg.host, server_port=cfg.port, share=cfg.share, inbrowser=cfg.open_browser,
                        prevent_thread_lock=True, quiet=True, allowed_paths=[str(output_dir), str(work)])
        except OSError as err:
            raise AppError(f"cannot serve on {cfg.host}:{cfg.port}: {err} (another app there? give port=7861)") \
                from None
        kept = f"results in {output_dir}" if cfg.get("output_dir") else \
            f"results in {output_dir} until the app stops (download them, or give output_dir=)"
        print(f"framegen app: {page.local_url} (Ctrl-C stops it); {kept}", flush=True)
        if getattr(page, "share_url", None):
            print(f"shared at {page.share_url} (anyone with the link can use it)", flush=True)
        if ready is not None:
            ready(page.local_url)
        while True:
            time.sleep(0.5)
    finally:
        page.close()
        remove_work(work)


__all__ = ["AppError", "check_app_options", "serve"]
