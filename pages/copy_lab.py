"""Copy Lab page (being built)."""

import streamlit as st

from pages.common import not_built_yet

st.title("Copy Lab")
not_built_yet("Write copy variants for a brief and a segment with a local language model. This page is being built; meanwhile the Data page shows what is loaded.")
