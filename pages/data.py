"""Data page: what is loaded, activity over time, imports, and reset to the sample data."""

import streamlit as st

from core.charts import events_per_day_chart
from core.overview import data_overview, events_per_day, recent_imports
from core.errors import CopyLiftError
from core.sample import reset_to_sample
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
