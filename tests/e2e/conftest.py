"""Real-browser fixtures: Debian's Chromium and one ``streamlit run`` server per test module.

Each test module gets its own server on a free 127.0.0.1 port, against a fresh
data folder (a copy of a sample database built once per session), so journeys
never see each other's writes. A module may seed that database before the
server opens it by defining a module-level ``SEED = callable(store, cfg)`` (DuckDB
allows one process per file, so seeding must happen before the server
starts), and may add environment variables with ``SERVER_ENV = {...}``.
Helpers (waits, selectors, screenshots) live in ``harness.py``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RERUN_TIMEOUT_MS,
    AppServer,
    open_app,
    screenshot,
    start_server,
    stop_server,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e is an e2e test, whether or not it says so."""
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)


# -- the browser ----------------------------------------------------------------
def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    msg = (
        f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium chromium-driver). "
        "Never `playwright install`."
    )
    if os.environ.get("CI"):
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


# -- the sample database ------------------------------------------------------------
@pytest.fixture(scope="session")
def converted_model(tmp_path_factory) -> Path:
    """The default language model converted once per session (the app's own code, manifest and all).

    Modules that set ``NEEDS_MODEL = True`` get a hard-linked copy in their data
    folder, so the one-time GGUF conversion (~20 s) is paid once, not per server.
    """
    from core.config import load_config
    from core.generation.model import ensure_converted, resolve_source

    data_dir = tmp_path_factory.mktemp("e2e-model") / "data"
    cfg = load_config(env={"COPYLIFT_DATA_DIR": str(data_dir)})
    ensure_converted(cfg, resolve_source(cfg.model, cfg.model_cache_dir))
    return cfg.model_cache_dir


def _link_tree(src: Path, dst: Path) -> None:
    # Hard links when possible: the fp32 weights are ~0.5 GB.
    shutil.copytree(src, dst, copy_function=_link_or_copy, dirs_exist_ok=True)


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.fixture(scope="module")
def app_server(request, tmp_path_factory, sample_db_file) -> Iterator[AppServer]:
    """One server per test module, on a fresh copy of the session's sample database."""
    seed = getattr(request.module, "SEED", None)
    extra_env = getattr(request.module, "SERVER_ENV", None)
    name = request.module.__name__.rsplit(".", 1)[-1]
    data_dir = tmp_path_factory.mktemp(f"e2e-{name}") / "data"
    if getattr(request.module, "NEEDS_MODEL", False):
        _link_tree(request.getfixturevalue("converted_model"), data_dir / "models")
    server = start_server(data_dir, template=sample_db_file, seed=seed, extra_env=extra_env, name=name)
    yield server
    stop_server(server.process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test item so fixtures can see whether the test failed.
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(request, browser, app_server):
    """A fresh browser tab (own Streamlit session) with downloads enabled, on the app's first page.

    When the test fails, the tab's last state is saved as ``test-artifacts/FAILED-<test>.png``.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(RERUN_TIMEOUT_MS)
    open_app(tab, app_server.url)
    yield tab
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        try:
            # The viewport only: the app may still be running, so no wait for it to settle.
            screenshot(tab, "FAILED-" + request.node.name.replace("/", "_")[:80], full=False)
        except Exception as err:  # a failed screenshot must not hide the test's own failure
            print(f"could not save the failure screenshot: {err}")
    context.close()


