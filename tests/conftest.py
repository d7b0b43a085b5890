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

