"""Helpers for driving CopyLift in a real browser: server start/stop, waits, selectors, screenshots.

Waits use Streamlit's own signal: ``[data-testid="stApp"]`` carries
``data-test-script-state``; after an action it goes to ``running`` and back to
``notRunning``. A MutationObserver records the change so that a rerun that
finishes faster than Playwright can poll is still seen. No fixed sleeps.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DB_NAME = "copylift.duckdb"
# Every time limit is multiplied by this: 1 on a machine of its own (CI); a shared box busy
# with higher-priority work (the tests run under `nice`) can set COPYLIFT_E2E_TIMEOUT_FACTOR=4.
TIMEOUT_FACTOR = float(os.environ.get("COPYLIFT_E2E_TIMEOUT_FACTOR", "1"))


def limit(ms: int) -> int:
    """A time limit in ms, scaled by ``TIMEOUT_FACTOR``."""
    return int(ms * TIMEOUT_FACTOR)


# A script rerun in the browser; long work (model load, generation, training) passes its own.
RERUN_TIMEOUT_MS = limit(30_000)
APP = '[data-testid="stApp"]'


# -- the server ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    url: str
    data_dir: Path
    db_path: Path
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_healthy(proc: subprocess.Popen, url: str, log_path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.1)  # polling interval for the health endpoint, not a wait for the app
    raise RuntimeError(f"streamlit not healthy after {timeout_s}s:\n{log_path.read_text()[-3000:]}")


def start_server(
    data_dir: Path,
    *,
    template: Path | None = None,
    seed: Callable | None = None,
    extra_env: dict[str, str] | None = None,
    name: str = "server",
) -> AppServer:
    """Start ``streamlit run app.py`` against ``data_dir``; seed the database first if asked."""
    data_dir.mkdir(parents=True, exist_ok=True)
    db_path = data_dir / DB_NAME
    if template is not None and not db_path.exists():
        shutil.copy(template, db_path)
    if seed is not None:
        from core.config import load_config
        from core.store import Store

        cfg = load_config(env={"COPYLIFT_DATA_DIR": str(data_dir), "COPYLIFT_DB": str(db_path)})
        with Store(db_path) as store:
            seed(store, cfg)
            store.execute("CHECKPOINT")
    port = free_port()
    env = dict(os.environ)
    env.update(
        COPYLIFT_DATA_DIR=str(data_dir),
        COPYLIFT_DB=str(db_path),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra_env or {})
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / f"{name}.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true",
            "--server.address", "127.0.0.1",
            "--server.port", str(port),
            "--browser.gatherUsageStats", "false",
            "--server.fileWatcherType", "none",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(proc, url, log_path)
    except Exception:
        stop_server(proc)
        raise
    return AppServer(url=url, data_dir=data_dir, db_path=db_path, process=proc, log_path=log_path)


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# -- waiting on Streamlit ------------------------------------------------------------
# Streamlit briefly reports ``notRunning`` between a run that calls ``st.rerun()`` and
# the run it starts (the server sends "stopped for rerun", then "running" again). So a
# run counts as finished only once the state has stayed ``notRunning`` for QUIET_MS:
# a condition on Streamlit's own signal, not a fixed sleep.
QUIET_MS = 400
# The observer watches the whole document, not one element: if the app's root is mounted
# again (after a websocket reconnect on a busy machine) the new root's changes are still seen.
_ARM_OBSERVER = """() => {
  window.__clSeen = false;
  window.__clLast = performance.now();
  if (window.__clObs) window.__clObs.disconnect();
  window.__clObs = new MutationObserver((records) => {
    window.__clLast = performance.now();
    for (const r of records) {
      if (r.target.getAttribute('data-test-script-state') !== 'notRunning') window.__clSeen = true;
    }
  });
  window.__clObs.observe(document.documentElement,
    {attributes: true, attributeFilter: ['data-test-script-state'], subtree: true});
}"""
_RERUN_DONE = """(quiet) => {
  const app = document.querySelector('[data-testid="stApp"]');
  return window.__clSeen === true && app && app.getAttribute('data-test-script-state') === 'notRunning'
    && performance.now() - window.__clLast >= quiet;
}"""
_IDLE = """(quiet) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const settled = window.__clLast === undefined || performance.now() - window.__clLast >= quiet;
  return app && app.getAttribute('data-test-script-state') === 'notRunning' && settled
    && document.querySelector('[data-testid="stMain"]') !== null;
}"""


def open_app(page, url: str, timeout_ms: int = limit(60_000)) -> None:
    """Load a URL of the app and wait for its first script run to finish."""
    page.goto(url)
    page.wait_for_selector(APP, state="attached", timeout=timeout_ms)
    # The first run must have happened: the main area has content and no run is in flight.
    page.wait_for_function(_IDLE, arg=QUIET_MS, timeout=timeout_ms)
    # Something rendered in the main area: a heading, or an error box the test will report.
    page.wait_for_selector('[data-testid="stMainBlockContainer"] [data-testid="stElementContainer"]', timeout=timeout_ms)
    wait_idle(page, timeout_ms)


def wait_idle(page, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    page.wait_for_function(_IDLE, arg=QUIET_MS, timeout=timeout_ms)


def rerun(page, action: Callable[[], object], timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Do ``action`` (a click, a fill...) and wait for the script run it starts to finish."""
    page.evaluate(_ARM_OBSERVER)
    action()
    page.wait_for_function(_RERUN_DONE, arg=QUIET_MS, timeout=timeout_ms)


def goto_page(page, title: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Switch page through the sidebar navigation, by its visible title."""
    link = page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first
    # Not ``rerun``: clicking the page that is already shown starts no script run, so waiting
    # for one would time out. The new page's title (or an error box, which the test then
    # reports) shows the switch happened; an idle app shows its run finished.
    link.click()
    page.wait_for_selector(
        f'[data-testid="stMain"] h1:has-text("{title.split(" ")[0]}"), [data-testid="stException"]',
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)


def key(name: str) -> str:
    """CSS selector of the widget created with ``key=name``.

    Streamlit puts the class ``st-key-<key>`` on it, every character outside
    ``[a-zA-Z0-9_-]`` replaced by ``-`` (so ``data.upload`` -> ``st-key-data-upload``).
    """
    return ".st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", name.strip())


def exceptions(page) -> list[str]:
    """Texts of any Streamlit exception boxes on the page (there should be none)."""
    return page.locator('[data-testid="stException"]').all_inner_texts()


def assert_clean(page) -> None:
    """No exception box and no traceback text anywhere on the page."""
    boxes = exceptions(page)
    assert not boxes, f"exception shown in the UI: {boxes}"
    body = page.locator(APP).inner_text()
    assert "Traceback (most recent call last)" not in body


# -- screenshots -----------------------------------------------------------------------
def screenshot(page, name: str, *, full: bool = True) -> Path:
    """Save a screenshot to test-artifacts/, the viewport enlarged to the page's height.

    Streamlit scrolls inside its own container, so a full-page screenshot would
    only show the viewport; we grow the viewport to the content's height first.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    original = page.viewport_size
    if full:
        height = page.evaluate(
            """() => {
              const sel = ['[data-testid="stMain"]', '[data-testid="stMainBlockContainer"]', '[data-testid="stAppViewContainer"]'];
              let h = document.documentElement.scrollHeight;
              for (const s of sel) { const el = document.querySelector(s); if (el) h = Math.max(h, el.scrollHeight); }
              return h;
            }"""
        )
        page.set_viewport_size({"width": original["width"], "height": min(max(int(height) + 40, original["height"]), 6000)})
        wait_idle(page)
    page.screenshot(path=str(path))
    if full:
        page.set_viewport_size(original)
    return path


# -- common widget actions -----------------------------------------------------------------
def click(page, widget_key: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Click the button created with ``key=widget_key`` and wait for the rerun."""
    rerun(page, page.locator(f"{key(widget_key)} button").first.click, timeout_ms)


def check(page, widget_key: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Tick the ``st.checkbox`` with ``key=widget_key`` and wait until the app has seen it.

    Waits for an idle app first (a click that lands while a run is replacing the widget
    can be lost), clicks the label only if the box is not ticked yet, and then checks the
    box's own state rather than trusting that a run was observed.
    """
    box = page.locator(f'{key(widget_key)} input[type="checkbox"]').first
    wait_idle(page, timeout_ms)
    if not box.is_checked():
        rerun(page, page.locator(f"{key(widget_key)} label").first.click, timeout_ms)
    page.wait_for_function(
        "(sel) => { const b = document.querySelector(sel); return b !== null && b.checked; }",
        arg=f'{key(widget_key)} input[type="checkbox"]',
        timeout=timeout_ms,
    )
    wait_idle(page, timeout_ms)


def pick(page, widget_key: str, label: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Click the option ``label`` of the ``st.segmented_control`` / ``st.pills`` with ``key=widget_key``."""
    option = page.locator(f"{key(widget_key)} button").filter(has_text=label).first
    rerun(page, option.click, timeout_ms)


def upload(page, widget_key: str, *paths: Path, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Give files to the ``st.file_uploader`` with ``key=widget_key`` and wait for the rerun."""
    field = page.locator(f'{key(widget_key)} input[type="file"]')
    rerun(page, lambda: field.set_input_files([str(p) for p in paths]), timeout_ms)


def download(page, widget_key: str, target_dir: Path) -> Path:
    """Click a ``st.download_button`` and return the saved file."""
    with page.expect_download() as info:
        page.locator(f"{key(widget_key)} button").first.click()
    dl = info.value
    out = target_dir / dl.suggested_filename
    dl.save_as(str(out))
    wait_idle(page)
    return out


def metric(page, label: str) -> str:
    """The displayed value of the ``st.metric`` whose label is ``label``."""
    box = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    ).first
    return box.locator('[data-testid="stMetricValue"]').inner_text().strip()


def number(text: str) -> float:
    """'12,345' / '3.4%' / '$1,200' -> a float (for comparing displayed figures)."""
    cleaned = "".join(c for c in text if c.isdigit() or c in ".-")
    return float(cleaned)


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def wait_text(page, text: str, timeout_ms: int = RERUN_TIMEOUT_MS) -> None:
    """Wait until ``text`` is visible in the main area (dataframes keep hidden copies of their cells)."""
    found = page.locator('[data-testid="stMain"]').get_by_text(text, exact=False).filter(visible=True)
    found.first.wait_for(timeout=timeout_ms)
