"""Segments page (being built)."""

import streamlit as st

from pages.common import not_built_yet

st.title("Segments")
not_built_yet("Build and profile customer segments (RFM, behaviour, category interest) from the behaviour data. This page is being built; meanwhile the Data page shows what is loaded.")
