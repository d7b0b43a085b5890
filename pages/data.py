"""Data page: what is loaded, activity over time, imports, and reset to the sample data."""

from functools import partial

import streamlit as st

from core.ingest.charts import events_per_day_chart
from core.ingest.overview import data_overview, events_per_day, recent_imports
from core.errors import CopyLiftError
from core.ingest.sample import reset_to_sample
from pages.common import get_store, show_error

st.title("Data")
store = get_store()

overview = data_overview(store)
cols = st.columns(len(overview.counts))
for col, (table, n) in zip(cols, overview.counts.items()):
    col.metric(table.replace("_", " ").capitalize(), f"{n:,}")
if overview.first_event is not None:
    st.caption(f"Events from {overview.first_event:%Y-%m-%d} to {overview.last_event:%Y-%m-%d}")
    st.plotly_chart(events_per_day_chart(events_per_day(store)), width="stretch")
else:
    st.info("No behaviour data yet. Upload CSV exports below or reset to the sample data.")

st.subheader("Recent imports")
imports = recent_imports(store)
if imports.empty:
    st.caption("Nothing imported yet.")
else:
    st.dataframe(imports, hide_index=True, width="stretch")

# -- import CSV exports (owner: import helper) ----------------------------------
from core.ingest import DAY_FIRST_SETTING, ENCODING_CHOICES, ImportOptions, rejected_csv, run_import, undo_import  # noqa: E402
from core.ingest import mapping as imap, uploads as iup  # noqa: E402
from core.migrations import EVENT_TYPES  # noqa: E402
from pages.common import get_config  # noqa: E402

ORDERS = ("month first (M/D/Y)", "day first (D/M/Y)")


def mapping_editor(files) -> dict:
    """Column -> CopyLift field choices, pre-filled with suggestions, or a saved mapping."""
    saved = st.selectbox("Saved mapping", ["(new mapping)", *imap.list_mappings(store)], key="data.map_saved")
    if saved != "(new mapping)":
        return imap.load_mapping(store, saved)
    target = st.selectbox("Import into", list(imap.TARGET_FIELDS), key="data.map_target")
    columns, samples = iup.peek(files[0])
    suggested = imap.suggest_mapping(target, columns, samples)
    choices, grid = {}, st.columns(3)
    for i, fld in enumerate(imap.TARGET_FIELDS[target]):
        options = ["(none)", *columns]
        pick = grid[i % 3].selectbox(fld, options, index=options.index(suggested.get(fld, "(none)")),
                                     key=f"data.map.{target}.{fld}")
        choices[fld] = None if pick == "(none)" else pick
    event_type = st.selectbox("Event type of every row", ["", *EVENT_TYPES], key="data.map_event_type") \
        if target == "events" and not choices.get("event_type") else ""
    mapping = iup.mapping_from_choices(target, choices, {"event_type": event_type})
    name = st.text_input("Save this mapping as", key="data.map_name")
    if st.button("Save mapping", key="data.map_save", disabled=not name.strip()):
        imap.save_mapping(store, name, mapping)
        st.success(f"Mapping {name!r} saved.")
    return mapping


def import_flow(uploaded) -> None:
    limit = get_config().upload_limit_mb
    files = iup.save_uploads([(u.name, u.getvalue()) for u in uploaded], limit)
    formats = {"detect": "Detect from the columns", **iup.format_choices(), "generic": "Generic: map columns myself"}
    left, right = st.columns(2)
    fmt = left.selectbox("Format", list(formats), format_func=formats.get, key="data.format")
    encoding = right.selectbox("Encoding", ["detect", *ENCODING_CHOICES], key="data.encoding")
    mapping = mapping_editor(files) if fmt == "generic" else None
    order = st.session_state.get("data.date_order")
    options = ImportOptions(format=None if fmt in ("detect", "generic") else fmt,
                            encoding=None if encoding == "detect" else encoding,
                            day_first=None if order is None else order == ORDERS[1],
                            mapping=mapping, imported_by="data page")
    report = iup.cached_preview(st.session_state, store, files, options, limit)
    if report.ambiguous_dates:
        default = 1 if store.get_setting(DAY_FIRST_SETTING, False) else 0
        st.radio("Some dates fit both orders (e.g. " + report.ambiguous_dates[0]["example"] + "). They are:",
                 ORDERS, index=default, key="data.date_order", horizontal=True)
    st.markdown(f"**{report.format_label}**: {report.rows_read:,} rows read, {report.rows_accepted:,} accepted, "
                f"{report.rows_rejected:,} rejected. New rows: " + ", ".join(f"{t} {n:,}" for t, n in report.tables.items())
                + (". " + report.message if report.message else ""))
    st.dataframe(iup.files_frame(report), hide_index=True, width="stretch")
    for issue in report.issues:
        st.warning(issue)
    for note in report.notes:
        st.caption(note)
    with st.expander("Column mapping"):
        st.dataframe(iup.mapping_frame(report), hide_index=True, width="stretch")
    st.caption("First rows as CopyLift will store them")
    st.dataframe(report.preview_rows, hide_index=True, width="stretch")
    accept = True
    if report.rows_rejected:
        # The CSV is built when the analyst clicks (most never do), not on every rerun.
        st.download_button("Download rejected rows (CSV)", partial(rejected_csv, report), file_name="rejected_rows.csv",
                           mime="text/csv", key="data.rejects_download", on_click="ignore")
        accept = st.checkbox(f"Import the {report.rows_accepted:,} other rows without the rejected ones",
                             key="data.accept_rejects")
    if st.button("Import", type="primary", key="data.import", disabled=not accept):
        with st.status("Importing in one transaction…", expanded=False):
            result = run_import(store, files, options, limit_mb=limit)
        if options.day_first is not None:
            store.set_setting(DAY_FIRST_SETTING, options.day_first)
        st.session_state["data.import_message"] = result.message
        st.session_state.pop("data.undo_pick", None)  # so Undo offers the newest import first
        st.cache_data.clear()
        st.rerun()


st.subheader("Import CSV exports")
if message := st.session_state.pop("data.import_message", None):
    st.success(message)
uploaded = st.file_uploader("Shopify, Online Retail, Olist (upload its tables together), reviews, campaign results",
                            type=["csv", "tsv", "txt", "gz"], accept_multiple_files=True, key="data.upload")
try:
    if uploaded:
        import_flow(uploaded)
    done = iup.undoable_imports(store)
    if not done.empty:
        with st.expander("Undo an import"):
            labels = {f"#{r.import_id} {r.file_name} ({r.format}, {r.rows_accepted:,} rows)": int(r.import_id)
                      for r in done.itertuples()}
            pick = labels[st.selectbox("Import", list(labels), key="data.undo_pick")]
            if st.button("Undo this import", key="data.undo"):
                deleted = undo_import(store, pick)
                st.session_state["data.import_message"] = f"Import {pick} undone: removed " + ", ".join(
                    f"{n:,} {t}" for t, n in deleted.items()) + "."
                st.cache_data.clear()
                st.rerun()
except CopyLiftError as err:
    show_error(err)

# -- reset to the sample data (owner: sample helper) ---------------------------
st.subheader("Reset to sample data")
st.caption(
    "Replaces users, products, events, campaigns, variants, exposures, aggregate results and the import log "
    "with the built-in sample shop. Saved segments, strategies and trained models are kept."
)
if message := st.session_state.pop("data.reset_message", None):
    st.success(message)
with st.form("data.reset_form"):
    confirmed = st.checkbox("I understand that this deletes the current data", key="data.reset_confirm")
    reset_clicked = st.form_submit_button("Reset to sample data", key="data.reset_submit")
if reset_clicked:
    if not confirmed:
        st.warning("Tick the confirmation box first: the reset deletes the current data.")
    else:
        try:
            with st.spinner("Loading the sample data…"):
                counts = reset_to_sample(store)
        except CopyLiftError as err:
            show_error(err)
        else:
            st.cache_data.clear()
            st.session_state["data.reset_message"] = (
                f"Reset done: {counts['users']:,} users, {counts['events']:,} events, "
                f"{counts['exposures']:,} exposures loaded."
            )
            st.rerun()
