"""The page (Gradio Blocks): the interpolate tab (drop, choose, progress, cancel, before/after, frame viewer,
download) and the compare tab (two methods on the first seconds, frames side by side, time per frame).

The interpolate button's action is the API ``/interpolate`` (the video, then the factor, first): what
``gradio_client`` calls. Jobs from every browser and client wait in one queue and run one at a time.
"""

# no `from __future__ import annotations`: Gradio reads the handlers' gr.Request and gr.Progress parameters from
# their annotations at run time
import html
import logging
import os
import shutil
import threading
from pathlib import Path

import gradio as gr
from gradio.context import LocalContext

from framegen.app.preview import (
    compare_frame,
    compare_state,
    first_inbetween,
    make_preview,
    timing_table,
    viewer_frame,
)
from framegen.app.work import (
    FORMATS,
    INPUT_TYPES,
    Choices,
    Engine,
    Jobs,
    progress_hook,
    progress_text,
    user_message,
)
from framegen.inference.video_tool import summary_line

log = logging.getLogger(__name__)
# the page's jobs (interpolate, compare) share one queue slot: one at a time on the machine's cores
JOBS = "framegen-jobs"
# the height of the before/after clips and of the viewers' frames (pixels)
VIEW_HEIGHT = 260
INTRO = ("# framegen\nRaise a video's frame rate: drop a clip (or a zip of numbered images), choose a method and a "
         "factor or a frame rate, and download the result. The audio is kept as `framegen interpolate` keeps it; "
         "nothing you have is ever replaced.")


def session_of(request: gr.Request | None) -> str:
    """The key of the browser session (or API client) that made a request."""
    return getattr(request, "session_hash", None) or "local"


def page_error(err: BaseException, upload=None) -> gr.Error:
    """The one message the page shows for a failed job (it stays until closed; no traceback). The upload's
    folder (Gradio's cache) is left out of it: the file's own name says which."""
    text = user_message(err)
    if upload:
        text = text.replace(str(Path(upload).parent) + os.sep, "")
    return gr.Error(html.escape(text, quote=False), duration=None, title="framegen", print_exception=False)


def still_wanted():
    """A check that turns False once Gradio has dropped the event running now: the page's Cancel, a gradio_client
    ``job.cancel()``. Gradio cancels the event's task but not the thread running the job; the job then stops at its
    next frame instead of finishing for nobody. It reads Gradio's queue (6.31, pinned); outside an event (a direct
    call) it is always True."""
    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    events = getattr(getattr(blocks, "_queue", None), "event_ids_to_events", None)
    if event_id is None or not isinstance(events, dict):
        return lambda: True
    return lambda: event_id in events


def reporter(progress: gr.Progress, what: str, cancelled: threading.Event):
    """A progress report for :class:`framegen.app.work.FrameProgress`: Gradio's bar, frames done / total and the
    time left as its text; it sets ``cancelled`` once the event is dropped (:func:`still_wanted`)."""
    wanted = still_wanted()

    def report(done: int, total: int | None, left: float | None) -> None:
        if not wanted():
            cancelled.set()
        progress((done, total), desc=progress_text(done, total, left, what=what), unit="frames")
    return report


def _jsonable(summary: dict) -> dict:
    return {k: v if isinstance(v, int | float | str | bool | type(None)) else str(v) for k, v in summary.items()}


class Handlers:
    """The page's actions, each a plain method (unit-testable without a browser)."""

    def __init__(self, engine: Engine, jobs: Jobs, *, preview_seconds: float = 2.0) -> None:
        self.engine, self.jobs, self.preview_seconds = engine, jobs, preview_seconds

    def interpolate(self, video, factor, fps, slowmo, method, output_format, input_fps,
                    request: gr.Request = None, progress=gr.Progress()):  # noqa: B008 - Gradio's convention
        """Interpolate a video (or a zip of numbered images) by `factor` (or to `fps`, e.g. 60 or 60000/1001) with
        `method`; returns the result file and the video tool's summary line."""
        choices = Choices(method=method, factor=factor, fps=fps, slowmo=slowmo, output_format=output_format,
                          input_fps=input_fps)
        with self.jobs.running(session_of(request)) as cancelled:
            try:
                done = self.engine.interpolate(
                    video, choices, progress=progress_hook(reporter(progress, "interpolating", cancelled), cancelled))
            except Exception as err:  # noqa: BLE001 - every failure is one line on the page
                raise page_error(err, video) from None
        state = {"src": str(done.src), "kind": done.kind, "scratch": str(done.scratch),
                 "summary": _jsonable(done.summary)}
        return done.summary["output"], summary_line(done.summary), state

    def preview(self, state):
        """The before/after clips and the frame viewer of the finished job."""
        if not state:
            return None, None, gr.Slider(visible=False), None
        try:
            view = make_preview(Path(state["src"]), state["kind"], state["summary"],
                                Path(state["scratch"]) / "preview", seconds=self.preview_seconds)
        except Exception as err:  # noqa: BLE001 - every failure is one line on the page
            raise page_error(err) from None
        n = len(view["outputs"])
        return (view["before"], view["after"],
                gr.Slider(minimum=0, maximum=max(1, n - 1), value=first_inbetween(view), step=1, visible=True), view)

    @staticmethod
    def show_frame(index, view):
        """The viewer at output frame `index`: the input frame before, the output frame, the input frame after."""
        return viewer_frame(view, index)

    def cancel(self, request: gr.Request = None):
        """Stop this session's running job at its next frame (a queued one is dropped by the queue)."""
        running = self.jobs.cancel(session_of(request))
        return "cancelled: nothing was written" if running else "cancelled (the job had not started)"

    def compare(self, video, method_a, method_b, seconds, factor, request: gr.Request = None,
                progress=gr.Progress()):  # noqa: B008
        """Run two methods on the first `seconds` of a clip; their frames side by side and time per frame."""
        choices = Choices(factor=factor, duration=seconds)
        with self.jobs.running(session_of(request)) as cancelled:
            try:
                result = self.engine.compare(
                    video, (method_a, method_b), choices,
                    progress=lambda label: progress_hook(reporter(progress, label, cancelled), cancelled))
                state = compare_state(result)
            except Exception as err:  # noqa: BLE001 - every failure is one line on the page
                raise page_error(err, video) from None
        n = len(state["items"])
        return (timing_table(state), gr.Slider(minimum=0, maximum=max(1, n - 1), value=0, step=1, visible=n > 0),
                state)

    @staticmethod
    def show_compare(k, state):
        """The compare viewer at in-between frame `k`."""
        return compare_frame(state, k)


def _interpolate_tab(h: Handlers, methods: list[str], default: str) -> None:
    with gr.Row():
        with gr.Column():
            video = gr.File(label="video (or a .zip of numbered images)", file_types=INPUT_TYPES,
                            elem_id="input-video")
            method = gr.Dropdown(methods, value=default, label="method (framegen models lists them)",
                                 elem_id="method")
            with gr.Row():
                factor = gr.Number(2, label="factor", elem_id="factor")
                fps = gr.Textbox("", label="or a frame rate (fps)", placeholder="60, 59.94, 60000/1001",
                                 elem_id="fps")
            with gr.Row():
                slowmo = gr.Checkbox(False, label="slow motion (keep the rate, stretch the duration; no audio)",
                                     elem_id="slowmo")
                output_format = gr.Dropdown(list(FORMATS), value="mp4", label="output format", elem_id="format")
                input_fps = gr.Number(25, label="frame rate of a zip's images", elem_id="input-fps")
            with gr.Row():
                run = gr.Button("Interpolate", variant="primary", elem_id="run")
                stop = gr.Button("Cancel", variant="stop", elem_id="cancel")
        with gr.Column():
            result = gr.File(label="result (download)", interactive=False, elem_id="result")
            status = gr.Markdown(label="summary", elem_id="status")
    gr.Markdown("### Before / after: the first seconds")
    with gr.Row():
        before = gr.Video(label="before", interactive=False, loop=True, height=VIEW_HEIGHT, elem_id="before")
        after = gr.Video(label="after", interactive=False, loop=True, height=VIEW_HEIGHT, elem_id="after")
    gr.Markdown("### Frame viewer: each output frame between the two input frames it was made from")
    step = gr.Slider(0, 1, value=0, step=1, label="output frame", visible=False, elem_id="step")
    with gr.Row():
        left, middle, right = (gr.Image(label=label, type="filepath", interactive=False, height=VIEW_HEIGHT,
                                        elem_id=f"view-{key}")
                               for label, key in (("input frame before", "before"), ("output frame", "output"),
                                                  ("input frame after", "after")))
    caption = gr.Markdown(elem_id="view-caption")
    job, view = gr.State(None), gr.State(None)

    go = run.click(h.interpolate, [video, factor, fps, slowmo, method, output_format, input_fps],
                   [result, status, job], api_name="interpolate", concurrency_id=JOBS, concurrency_limit=1)
    shown = go.success(h.preview, [job], [before, after, step, view], api_visibility="private")
    shown.success(h.show_frame, [step, view], [left, middle, right, caption], api_visibility="private")
    step.change(h.show_frame, [step, view], [left, middle, right, caption], api_visibility="private",
                show_progress="hidden")
    stop.click(h.cancel, None, [status], cancels=[go], queue=False, api_visibility="private")


def _compare_tab(h: Handlers, methods: list[str], default: str, seconds: float) -> None:
    gr.Markdown("Two methods on the first seconds of a clip: their in-between frames side by side, and each "
                "one's time per frame.")
    with gr.Row():
        video = gr.File(label="video (or a .zip of numbered images)", file_types=INPUT_TYPES,
                        elem_id="compare-video")
        with gr.Column():
            others = [m for m in methods if m != default] or [default]
            other = "dis" if "dis" in others else others[0]  # optical flow without learning: always there
            method_a = gr.Dropdown(methods, value=default, label="method A", elem_id="method-a")
            method_b = gr.Dropdown(methods, value=other, label="method B", elem_id="method-b")
            with gr.Row():
                seconds_box = gr.Number(seconds, label="first seconds", elem_id="compare-seconds")
                factor = gr.Number(2, label="factor", elem_id="compare-factor")
            with gr.Row():
                run = gr.Button("Compare", variant="primary", elem_id="compare")
                stop = gr.Button("Cancel", variant="stop", elem_id="compare-cancel")
    timing = gr.Markdown(label="timing", elem_id="compare-timing")
    step = gr.Slider(0, 1, value=0, step=1, label="in-between frame", visible=False, elem_id="compare-step")
    with gr.Row():
        images = [gr.Image(label=label, type="filepath", interactive=False, height=VIEW_HEIGHT,
                           elem_id=f"compare-{key}")
                  for label, key in (("input frame before", "before"), ("method A", "a"), ("method B", "b"),
                                     ("input frame after", "after"))]
    caption = gr.Markdown(elem_id="compare-caption")
    state = gr.State(None)

    go = run.click(h.compare, [video, method_a, method_b, seconds_box, factor], [timing, step, state],
                   api_name="compare", concurrency_id=JOBS, concurrency_limit=1)
    go.success(h.show_compare, [step, state], [*images, caption], api_visibility="private")
    step.change(h.show_compare, [step, state], [*images, caption], api_visibility="private", show_progress="hidden")
    stop.click(h.cancel, None, [timing], cancels=[go], queue=False, api_visibility="private")


def build_page(engine: Engine, *, preview_seconds: float = 2.0, compare_seconds: float = 2.0) -> gr.Blocks:
    """The whole page, its jobs queued one at a time."""
    h = Handlers(engine, Jobs(), preview_seconds=preview_seconds)
    methods = engine.methods()
    default = "default" if "default" in methods else methods[0]
    with gr.Blocks(title="framegen", analytics_enabled=False, delete_cache=(3600, 86400)) as page:
        gr.Markdown(INTRO)
        with gr.Tab("Interpolate"):
            _interpolate_tab(h, methods, default)
        with gr.Tab("Compare methods"):
            _compare_tab(h, methods, default, compare_seconds)
    page.queue(default_concurrency_limit=1)
    return page


def remove_work(folder: Path) -> None:
    """The app's scratch folder (unpacked zips, previews, compare runs), when it stops."""
    shutil.rmtree(folder, ignore_errors=True)
