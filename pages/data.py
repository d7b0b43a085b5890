"""Data page: what is loaded, activity over time, imports, and reset to the sample data."""

import streamlit as st

from core.errors import CopyLiftError
from core.ingest import ENCODING_CHOICES, undo_import, view
from core.ingest import mapping as imap
from core.ingest import uploads as iup
from core.ingest.charts import events_per_day_chart
from core.ingest.overview import data_overview, events_per_day, recent_imports
from core.ingest.sample import reset_to_sample
from core.migrations import EVENT_TYPES
from pages.common import get_config, get_store, show_error, upload_preview

st.title("Data")
store = get_store()

overview = data_overview(store)
for col, (table, n) in zip(st.columns(len(overview.counts)), overview.counts.items()):
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


def mapping_editor(files) -> dict:
    """Column -> CopyLift field choices, pre-filled with suggestions, or a saved mapping."""
    saved = st.selectbox("Saved mapping", ["(new mapping)", *imap.list_mappings(store)], key="data.map_saved")
    if saved != "(new mapping)":
        return imap.load_mapping(store, saved)
    target = st.selectbox("Import into", list(imap.TARGET_FIELDS), key="data.map_target")
    columns, samples = iup.peek(files[0])
    suggested, choices, grid = imap.suggest_mapping(target, columns, samples), {}, st.columns(3)
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
    formats = view.format_labels(iup.format_choices())
    left, right = st.columns(2)
    fmt = left.selectbox("Format", list(formats), format_func=formats.get, key="data.format")
    encoding = right.selectbox("Encoding", ["detect", *ENCODING_CHOICES], key="data.encoding")
    mapping = mapping_editor(files) if fmt == "generic" else None
    options = view.options_from_form(fmt, encoding, mapping, imported_by="data page")
    options, _, accept = upload_preview("data", store, files, options, limit, details=True)
    if st.button("Import", type="primary", key="data.import", disabled=not accept):
        with st.status("Importing in one transaction…", expanded=False):
            result = iup.import_uploads(store, files, options, limit)
        st.session_state["data.import_message"] = result.message
        st.session_state.pop("data.undo_pick", None)  # so Undo offers the newest import first
        st.rerun()


def undo_flow() -> None:
    labels = view.undo_choices(iup.undoable_imports(store))
    if not labels:
        return
    with st.expander("Undo an import"):
        pick = labels[st.selectbox("Import", list(labels), key="data.undo_pick")]
        if st.button("Undo this import", key="data.undo"):
            st.session_state["data.import_message"] = view.undone_message(pick, undo_import(store, pick))
            st.rerun()


st.subheader("Import CSV exports")
if message := st.session_state.pop("data.import_message", None):
    st.success(message)
uploaded = st.file_uploader("Shopify, Online Retail, Olist (upload its tables together), reviews, campaign results",
                            type=["csv", "tsv", "txt", "gz"], accept_multiple_files=True, key="data.upload")
try:
    if uploaded:
        import_flow(uploaded)
    undo_flow()
except CopyLiftError as err:
    show_error(err)

st.subheader("Reset to sample data")
st.caption("Replaces users, products, events, campaigns, variants, exposures, aggregate results and the import log "
           "with the built-in sample shop. Saved segments, strategies and trained models are kept.")
if message := st.session_state.pop("data.reset_message", None):
    st.success(message)
with st.form("data.reset_form"):
    confirmed = st.checkbox("I understand that this deletes the current data", key="data.reset_confirm")
    reset_clicked = st.form_submit_button("Reset to sample data", key="data.reset_submit")
if reset_clicked and not confirmed:
    st.warning("Tick the confirmation box first: the reset deletes the current data.")
elif reset_clicked:
    try:
        with st.spinner("Loading the sample data…"):
            counts = reset_to_sample(store)
    except CopyLiftError as err:
        show_error(err)
    else:
        st.session_state["data.reset_message"] = view.reset_message(counts)
        st.rerun()
