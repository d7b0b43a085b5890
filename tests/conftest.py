"""Shared fixtures: an in-memory store, and an isolated app environment for AppTest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.store import Store  # noqa: E402

REALDATA = ROOT.parent / "shared" / "realdata"


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
    if not REALDATA.exists():
        pytest.skip("shared/realdata is not next to the repository")
    return REALDATA
