"""Shared fixtures: an in-memory store, and an isolated app environment for AppTest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.store import Store  # noqa: E402

# The public real export files the import tests read, kept in the repository so a fresh clone
# with nothing beside it runs every test (sources and licences: tests/fixtures/realdata/README.md).
REALDATA = ROOT / "tests" / "fixtures" / "realdata"


@pytest.fixture
def store():
    with Store(":memory:") as s:
        yield s


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Point the app at a fresh data folder and clear cached resources around the test."""
    import streamlit as st

    monkeypatch.setenv("COPYLIFT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPYLIFT_DB", str(tmp_path / "data" / "copylift.duckdb"))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield tmp_path
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="session")
def realdata() -> Path:
    return REALDATA


# -- sample data (owner: sample helper) -------------------------------------------
@pytest.fixture(scope="session")
def sample_db_file(tmp_path_factory) -> Path:
    """A DuckDB file with the committed sample data, built once per test session."""
    from core.ingest.sample import load_sample

    path = tmp_path_factory.mktemp("sample_db") / "sample.duckdb"
    with Store(path) as s:
        load_sample(s)
    return path


@pytest.fixture
def sample_store(sample_db_file, tmp_path):
    """An open Store on a private copy of the sample database (safe to write to)."""
    import shutil

    path = tmp_path / "sample_copy.duckdb"
    shutil.copyfile(sample_db_file, path)
    with Store(path) as s:
        yield s


@pytest.fixture
def sample_app_env(app_env, sample_db_file):
    """``app_env`` whose database already holds the sample data (skips the first-start load)."""
    import shutil

    target = app_env / "data" / "copylift.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample_db_file, target)
    return app_env


@pytest.fixture(autouse=True)
def _rejected_rows_in_test_temp(tmp_path_factory, monkeypatch):
    """Keep the rejected-rows files imports write inside pytest's temporary folder."""
    import core.ingest.rejects as rejects

    monkeypatch.setattr(rejects, "REJECTS_DIR", tmp_path_factory.getbasetemp() / "rejects")


# -- AppTest (one way to open the app on a page) ------------------------------------
APP = ROOT / "app.py"


def app_errors(at) -> list[str]:
    """Each exception the app raised, with the last lines of its stack trace (for assert messages)."""
    return [e.value + "\n" + "\n".join(e.stack_trace[-4:]) for e in at.exception]


@pytest.fixture
def open_page(app_env):
    """``open_page(page=None, timeout=90, check=True, state=None)``: the app in AppTest on ``app_env``.

    Seeds ``state`` (session-state keys such as "strategy.view" have dots, hence a dict) into session
    state, runs the app's frame, switches to ``page`` (for example "pages/data.py") when given, and,
    with ``check``, asserts after each run that nothing raised. Seed the database and patch the app
    before calling it: the first run reads both.
    """
    from streamlit.testing.v1 import AppTest

    def _open(page: str | None = None, *, timeout: float = 90, check: bool = True,
              state: dict | None = None) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=timeout)
        for key, value in (state or {}).items():
            at.session_state[key] = value
        at.run()
        if check:
            assert not at.exception, app_errors(at)
        if page is not None:
            at.switch_page(page).run()
            if check:
                assert not at.exception, app_errors(at)
        return at

    return _open
