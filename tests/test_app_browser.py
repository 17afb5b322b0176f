"""``framegen app`` end to end in a real headless browser (issue #26): the command starts the page, Chromium (Debian's
``chromium`` + ``chromium-driver``, driven by selenium; browsers cannot be downloaded here) uploads a tiny clip with
audio, starts 2x, watches the progress bar count the frames, and finds the result: 60 frames with the clip's
audio, downloadable from the page, with the before/after clips and the frame viewer filled in. A broken file is one
message on the page and no file. "Compare methods" runs two methods side by side. Screenshots are saved; with
``FRAMEGEN_APP_SCREENSHOTS=docs`` they are the ones docs/app.md shows (app.png, app_compare.png).

Skipped, saying why, only where no browser can be found (``.ci/run`` installs one when it runs as root).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import av
import pytest

from framegen.inference.sample import make_sample_clip

pytest.importorskip("gradio", reason="the app needs its extra: pip install -e '.[app]'")
selenium = pytest.importorskip("selenium", reason="the browser test needs selenium: pip install -e '.[dev]'")

from selenium import webdriver
from selenium.webdriver.common.by import By

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# records every progress text the page shows, however briefly (a tiny job's bar lives for a second)
WATCH_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll('.progress-text, .progress-level-inner')) {
    const text = el.textContent.trim();
    if (text.includes('frames') && window.__progress.at(-1) !== text) window.__progress.push(text);
  }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def find_browser() -> tuple[str, str]:
    """(the Chromium binary, its chromedriver), or skip saying how to get them."""
    browser = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("no headless browser here (chromium and chromedriver): apt-get install chromium chromium-driver "
                    "(.ci/run installs them when it runs as root)")
    return browser, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, check, timeout: float = 120.0, every: float = 0.2):
    """Poll ``check()`` until it returns something true; fail naming ``what`` after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``framegen app`` started as a user starts it, on a free port, its results in a fresh folder: (its URL, the
    results folder). Stopped with SIGTERM at the end: it says so, with no traceback."""
    tmp_path = tmp_path_factory.mktemp("app")
    port, out = free_port(), tmp_path / "results"
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), GRADIO_TEMP_DIR=str(tmp_path / "gradio"),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    log = open(tmp_path / "app.log", "w")  # noqa: SIM115 - the app's output while it runs, closed at the end
    proc = subprocess.Popen([sys.executable, "-c", "from framegen.commands import main; main()", "app",
                             f"port={port}", f"output_dir={out}", "preview_seconds=0.5", "compare_seconds=0.5",
                             "device=cpu"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until("framegen app to answer", lambda: answers(url) or proc.poll() is not None, timeout=180)
        assert proc.poll() is None, (tmp_path / "app.log").read_text()
        yield url, out
    finally:
        proc.terminate()  # SIGTERM: the app stops as on Ctrl-C and removes its scratch folder
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    text = (tmp_path / "app.log").read_text()
    assert "Traceback" not in text, text[-3000:]
    assert "framegen app stopped" in text


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    binary, driver_path = find_browser()
    tmp_path = tmp_path_factory.mktemp("browser")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1900", f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def upload(driver, box: str, path: Path) -> None:
    """Put a file into the page's file box ``#box`` (clearing what it holds) and wait for its name there."""
    for clear in driver.find_elements(By.CSS_SELECTOR, f"#{box} button[aria-label='Clear']"):
        clear.click()
    wait_until("the upload box", lambda: driver.find_elements(By.CSS_SELECTOR, f"#{box} input[type=file]"), 30)
    driver.find_element(By.CSS_SELECTOR, f"#{box} input[type=file]").send_keys(str(path))
    wait_until(f"{path.name} in #{box}", lambda: driver.find_elements(
        By.CSS_SELECTOR, f"#{box} td.filename[aria-label='{path.name}']"), 60)


def text_of(driver, css: str) -> str:
    found = driver.find_elements(By.CSS_SELECTOR, css)
    return found[0].text if found else ""


def image_shown(driver, box: str) -> bool:
    """An image in ``#box`` has loaded (and is painted)."""
    return driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].some(i => i.complete && i.naturalWidth > 0)",
        f"#{box} img")


def save_screenshot(driver, tmp_path: Path, name: str) -> Path:
    """The whole page as a PNG in tmp_path, and in $FRAMEGEN_APP_SCREENSHOTS when set (docs/app.md's)."""
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("FRAMEGEN_APP_SCREENSHOTS"):  # a 256-colour copy: a third of the size, the same to the eye
        from PIL import Image

        keep = Path(os.environ["FRAMEGEN_APP_SCREENSHOTS"]) / name
        keep.parent.mkdir(parents=True, exist_ok=True)
        with Image.open(shot) as image:
            image.convert("RGB").quantize(256).save(keep, optimize=True)
    return shot


def frames_and_audio(path: Path) -> tuple[int, float | None]:
    with av.open(str(path)) as c:
        frames = sum(1 for _ in c.decode(video=0))
        if not c.streams.audio:
            return frames, None
        c.seek(0)
        return frames, sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].rate


@pytest.mark.slow
def test_the_page_interpolates_a_clip_in_a_real_browser(browser, app, tmp_path):
    url, results = app
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1.25, fps=24, size=(144, 256))  # 30 frames, a tone
    browser.get(url)
    wait_until("the page", lambda: browser.find_elements(By.CSS_SELECTOR, "#run"), 60)
    upload(browser, "input-video", clip)
    browser.execute_script(WATCH_PROGRESS)
    browser.find_element(By.CSS_SELECTOR, "#run").click()

    summary = wait_until("the job's summary", lambda: "frames out" in (t := text_of(browser, "#status")) and t)
    assert "30 frames in" in summary and "60 frames out" in summary
    assert frames_done(browser, 60) > 0, browser.execute_script("return window.__progress")  # done / total

    out = results / "clip_2x.mp4"
    frames, audio = frames_and_audio(out)
    assert frames == 60 and audio == pytest.approx(1.25, abs=0.03)
    link = wait_until("the download link", lambda: browser.find_elements(By.CSS_SELECTOR, "#result a[download]"))
    with urllib.request.urlopen(link[0].get_attribute("href"), timeout=30) as r:
        assert r.read() == out.read_bytes()

    wait_until("the before/after clips", lambda: len(browser.find_elements(By.CSS_SELECTOR,
                                                                            "#before video, #after video")) == 2)
    wait_until("the frame viewer", lambda: all(image_shown(browser, b) for b in
                                               ("view-before", "view-output", "view-after")))
    assert text_of(browser, "#view-caption") == "output frame 1: made between input frames 0 and 1 at t = 0.5"
    save_screenshot(browser, tmp_path, "app.png")

    bad = tmp_path / "broken.mp4"
    bad.write_text("not a video")
    upload(browser, "input-video", bad)
    browser.find_element(By.CSS_SELECTOR, "#run").click()
    message = wait_until("the error message", lambda: "broken.mp4" in (t := text_of(browser, ".toast-body")) and t, 60)
    assert "error: cannot read broken.mp4" in message and "Traceback" not in browser.page_source
    assert len(browser.find_elements(By.CSS_SELECTOR, ".toast-body")) == 1
    assert sorted(p.name for p in results.iterdir()) == ["clip_2x.mp4"]  # nothing of the broken job


def frames_done(driver, total: int) -> int:
    """The most frames of ``total`` the progress bar has said are done."""
    texts = driver.execute_script("return window.__progress") or []
    return max((int(m.group(1)) for t in texts if (m := re.search(rf"(\d+) ?/ ?{total} frames", t))), default=0)


def long_clip(path: Path, seconds: int = 20) -> Path:
    """A 640x360 test pattern at 24 fps with a tone: a job of minutes on a CPU (made in a second by ffmpeg)."""
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size=640x360:rate=24:duration={seconds}", "-f", "lavfi", "-i",
                    f"sine=frequency=440:sample_rate=48000:duration={seconds}", "-c:v", "libx264", "-pix_fmt",
                    "yuv420p", "-c:a", "aac", "-shortest", str(path)], check=True)
    return path


@pytest.mark.slow
def test_the_page_cancels_a_running_job(browser, app, tmp_path):
    url, results = app
    before = sorted(p.name for p in results.iterdir()) if results.exists() else []
    clip = long_clip(tmp_path / "long.mp4")
    browser.get(url)
    wait_until("the page", lambda: browser.find_elements(By.CSS_SELECTOR, "#run"), 60)
    upload(browser, "input-video", clip)
    browser.execute_script(WATCH_PROGRESS)
    browser.find_element(By.CSS_SELECTOR, "#run").click()
    wait_until("frames being made", lambda: frames_done(browser, 960) > 0, 120, 0.05)
    wait_until("the time left", lambda: any("s left" in t or "min left" in t
                                            for t in browser.execute_script("return window.__progress")), 60)
    browser.find_element(By.CSS_SELECTOR, "#cancel").click()
    wait_until("the cancel's word", lambda: "cancelled" in text_of(browser, "#status"), 30)
    wait_until("the job's work folder to go", lambda: sorted(p.name for p in results.iterdir()) == before, 60)
    time.sleep(2)
    assert sorted(p.name for p in results.iterdir()) == before  # no long_2x.mp4, no work folder
    assert "frames out" not in text_of(browser, "#status")


@pytest.mark.slow
def test_the_page_compares_two_methods_in_a_real_browser(browser, app, tmp_path):
    url, _ = app
    clip = make_sample_clip(tmp_path / "clip.mp4", seconds=1.0, fps=24, size=(144, 256))
    browser.get(url)
    wait_until("the page", lambda: browser.find_elements(By.XPATH, "//button[@role='tab']"), 60)
    browser.find_element(By.XPATH, "//button[@role='tab'][contains(., 'Compare methods')]").click()
    upload(browser, "compare-video", clip)
    browser.find_element(By.CSS_SELECTOR, "#compare").click()
    table = wait_until("the timing table", lambda: "ms per" in (t := text_of(browser, "#compare-timing")) and t)
    assert "default" in table and "dis" in table
    wait_until("the frames side by side", lambda: all(image_shown(browser, f"compare-{k}")
                                                      for k in ("before", "a", "b", "after")))
    assert "between input frames" in text_of(browser, "#compare-caption")
    save_screenshot(browser, tmp_path, "app_compare.png")
