"""Data page: what is loaded, activity over time, imports, and reset to the sample data."""

import streamlit as st

from core.charts import events_per_day_chart
from core.overview import data_overview, events_per_day, recent_imports
from pages.common import get_store

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
