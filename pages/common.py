"""Shared Streamlit plumbing: the cached resource factories and the sidebar.

Every process-wide resource (the database store, the language model, the
predictor) is built here, once per process, with ``st.cache_resource``. Pages
import these functions; they never open connections or load models themselves.
Tests patch these factories rather than library internals.
"""

from __future__ import annotations

import threading

import streamlit as st

from core.config import AppConfig, load_config
from core.errors import CopyLiftError
from core.store import Store

# Session-state keys that cross pages.
SEGMENT_KEY = "segment"  # dict(name=..., segment_id=..., version=...) or None for everyone
WORKING_SET_KEY = "working_set_campaign"


@st.cache_resource(show_spinner=False)
def get_config() -> AppConfig:
    return load_config()


@st.cache_resource(show_spinner="Opening the database…")
def get_store() -> Store:
    """The process-wide store; loads the sample data into an empty database."""
    cfg = get_config()
    store = Store(cfg.db_path)
    if store.is_empty():
        from core.ingest.sample import load_sample

        load_sample(store)
    return store


@st.cache_resource(show_spinner=False)
def start_model_runtime_warmup() -> threading.Thread | None:
    """Once per process: import the model runtime on a daemon thread (off with COPYLIFT_WARM_MODEL_RUNTIME=0).

    Nothing waits for it; a generation that starts first simply imports the rest itself
    (Python's import lock makes the two take turns).
    """
    if not get_config().warm_model_runtime:
        return None
    from core.generation.model import warm_runtime

    thread = threading.Thread(target=warm_runtime, name="copylift-warm-model-runtime", daemon=True)
    thread.start()
    return thread


@st.cache_resource(show_spinner="Loading the language model (the first start converts it once, ~30-90 s)…",
                   max_entries=2)
def get_language_model(model: str | None = None):
    """The process-wide local language model (``model``: a bundled key; None = configured/default).

    Raises ``ModelUnavailable`` with a fix when it cannot load. ``LanguageModel`` serializes
    generation with its own lock, so sessions take turns.
    """
    from core.generation.model import load_language_model

    return load_language_model(get_config(), model=model)


@st.cache_resource(show_spinner="Loading the predictor…", max_entries=4)
def _load_predictor(version: int):
    from core.prediction.registry import load_version

    return load_version(get_store(), get_config(), version)


def get_predictor(outcome: str = "conversion"):
    """The newest trained predictor for ``outcome`` (None before the first training).

    The cache is keyed on the version number, so a retrain is picked up on the next
    run without clearing anything; a tampered file raises ``IntegrityError``.
    """
    from core.prediction.registry import latest_version

    mv = latest_version(get_store(), outcome)
    return None if mv is None else _load_predictor(mv.version)


def show_error(err: CopyLiftError) -> None:
    """Show a project error as a message the user can act on (never a traceback)."""
    st.error(str(err), icon="⚠️")
    problems = getattr(err, "problems", None)
    if problems:
        with st.expander(f"Details ({len(problems)})"):
            for problem in problems[:200]:
                st.text(problem)


def current_segment_label() -> str:
    seg = st.session_state.get(SEGMENT_KEY)
    return seg["name"] if seg else "All customers"


def not_built_yet(what: str) -> None:
    """Empty state for a page whose feature is still being built."""
    st.info(what)
    st.page_link("pages/data.py", label="Go to the Data page", icon="🗂️")
