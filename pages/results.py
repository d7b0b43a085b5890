"""Results & Learning page (being built)."""

import streamlit as st

from pages.common import not_built_yet

st.title("Results & Learning")
not_built_yet("Upload campaign results, read out the A/B test, and retrain the predictor. This page is being built; meanwhile the Data page shows what is loaded.")
