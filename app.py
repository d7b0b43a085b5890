"""CopyLift: the Streamlit frame around the pages.

Page config, session defaults, the shared sidebar (current segment, data
status), then navigation over the explicitly registered pages.
"""

from __future__ import annotations

import streamlit as st

from core.errors import CopyLiftError
from core.segments import EVERYONE
from core.strategy.records import count_awaiting_approval
from pages.common import SEGMENT_KEY, current_segment_label, get_store, show_error, start_model_runtime_warmup

st.set_page_config(page_title="CopyLift", page_icon="📈", layout="wide")

st.session_state.setdefault(SEGMENT_KEY, EVERYONE)
try:
    start_model_runtime_warmup()
except CopyLiftError:
    pass  # a configuration error is shown with the data status below

PAGES = [
    st.Page("pages/data.py", title="Data", icon="🗂️", default=True),
    st.Page("pages/segments.py", title="Segments", icon="👥"),
    st.Page("pages/copy_lab.py", title="Copy Lab", icon="✍️"),
    st.Page("pages/predict.py", title="Predict", icon="🎯"),
    st.Page("pages/strategy.py", title="Strategy & Export", icon="🧭"),
    st.Page("pages/results.py", title="Results & Learning", icon="🔁"),
]

nav = st.navigation(PAGES)

with st.sidebar:
    st.markdown("### CopyLift")
    st.caption("Segment")
    st.markdown(f"**{current_segment_label()}**")
    try:
        store = get_store()
        counts = store.table_counts()
        st.caption(
            f"{counts['users']:,} users · {counts['events']:,} events · "
            f"{counts['campaigns']:,} campaigns"
        )
        waiting = count_awaiting_approval(store)
        if waiting:
            st.caption(f"🧭 {waiting} strateg{'y' if waiting == 1 else 'ies'} awaiting approval")
    except CopyLiftError as err:
        show_error(err)

nav.run()
