"""Predict page (being built)."""

import streamlit as st

from pages.common import not_built_yet

st.title("Predict")
not_built_yet("Predict the conversion rate of each copy variant for the chosen segment, with an interval and a reason. This page is being built; meanwhile the Data page shows what is loaded.")
