"""Strategy & Export page (being built)."""

import streamlit as st

from pages.common import not_built_yet

st.title("Strategy & Export")
not_built_yet("Choose variants per segment, allocate traffic, get approval and export a reproducible plan. This page is being built; meanwhile the Data page shows what is loaded.")
