"""Shared Streamlit plumbing: the cached resource factories and the sidebar.

Every process-wide resource (the database store, the language model, the
predictor) is built here, once per process, with ``st.cache_resource``. Pages
import these functions; they never open connections or load models themselves.
Tests patch these factories rather than library internals.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from functools import partial

import streamlit as st

from core.config import AppConfig, load_config
from core.errors import CopyLiftError
from core.ingest import ImportOptions, ImportReport, SourceFile, rejected_csv
from core.ingest import uploads as iup
from core.ingest import view as ingest_view
from core.segments import EVERYONE, SegmentRef
from core.store import Store

# Session-state keys that cross pages.
SEGMENT_KEY = "segment"  # the chosen SegmentRef (EVERYONE by default), shared by every page
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


def current_segment() -> SegmentRef:
    """The segment the marketer picked on the Segments page (everyone until they pick one)."""
    return st.session_state.get(SEGMENT_KEY) or EVERYONE


def current_segment_label() -> str:
    return current_segment().name


def upload_preview(prefix: str, store: Store, files: list[SourceFile], options: ImportOptions, limit_mb: int,
                   *, details: bool = False) -> tuple[ImportOptions, ImportReport, bool]:
    """The upload flow both import pages share: date order, preview (once per state), rejects, consent.

    Asks the date order when the dates fit both (``<prefix>.date_order``), shows the preview (cached in
    ``<prefix>.preview_cache``), offers the rejected rows as a CSV and asks before importing without them
    (``<prefix>.accept_rejects``). ``details`` adds the per-file table, notes and column mapping.
    Returns the options to import with, the preview, and whether the import may go ahead.
    """
    order = st.session_state.get(f"{prefix}.date_order")
    if order is not None:
        options = replace(options, day_first=ingest_view.day_first_of(order))
    cached = iup.preview_uploads(store, files, options, limit_mb, st.session_state.get(f"{prefix}.preview_cache"))
    st.session_state[f"{prefix}.preview_cache"] = cached
    report = cached.report
    if report.ambiguous_dates:
        st.radio("Some dates fit both orders (e.g. " + report.ambiguous_dates[0]["example"] + "). They are:",
                 ingest_view.DATE_ORDERS, index=int(iup.remembered_day_first(store)), key=f"{prefix}.date_order",
                 horizontal=True)
    st.markdown(ingest_view.preview_summary(report, with_tables=details))
    if details:
        st.dataframe(ingest_view.files_frame(report), hide_index=True, width="stretch")
    for issue in report.issues:
        st.warning(issue)
    if details:
        for note in report.notes:
            st.caption(note)
        with st.expander("Column mapping"):
            st.dataframe(ingest_view.mapping_frame(report), hide_index=True, width="stretch")
    st.caption("First rows as CopyLift will store them")
    st.dataframe(report.preview_rows, hide_index=True, width="stretch")
    if not report.rows_rejected:
        return options, report, True
    # The CSV is built when the analyst clicks (most never do), not on every rerun.
    st.download_button("Download rejected rows (CSV)", partial(rejected_csv, report), file_name="rejected_rows.csv",
                       mime="text/csv", key=f"{prefix}.rejects_download", on_click="ignore")
    accept = st.checkbox(f"Import the {report.rows_accepted:,} other rows without the {report.rows_rejected:,} "
                         "rejected ones", key=f"{prefix}.accept_rejects")
    return options, report, accept
