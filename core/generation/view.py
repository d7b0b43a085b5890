"""Helpers that let the Copy Lab show copy safely and as its channel would.

Model and user text is shown through Streamlit's Markdown renderer, which does
not render HTML without ``unsafe_allow_html`` but does render Markdown (links,
emphasis, headings): ``escape_markdown`` makes such text literal.
"""

from __future__ import annotations

import re

import pandas as pd

from core.generation.brief import Brief
from core.generation.guardrails import render_preview
from core.store import Store


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
SAMPLE_FIRST_NAME = "Sam"


def escape_markdown(text: str) -> str:
    """Backslash-escape every Markdown control character so ``text`` renders literally."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", " ")


def preview_parts(text: str, brief: Brief, first_name: str = SAMPLE_FIRST_NAME) -> tuple[str, str]:
    """(main text, call to action) as a customer sees them; the CTA is only set for banners."""
    shown = render_preview(text, brief, first_name)
    if brief.channel == "banner" and "|" in shown:
        head, _, cta = shown.partition("|")
        return head.strip(), cta.strip()
    return shown, ""


def sample_first_name(store: Store | None) -> str:
    """A first name from the customer table for previews (the same one every time)."""
    if store is None:
        return SAMPLE_FIRST_NAME
    name = store.scalar("SELECT first_name FROM users WHERE first_name IS NOT NULL ORDER BY user_id LIMIT 1")
    return name or SAMPLE_FIRST_NAME


def product_choices(store: Store, limit: int = 500) -> pd.DataFrame:
    """Catalog products to pick from in the brief form."""
    return store.df("SELECT product_id, title, category, price FROM products ORDER BY title LIMIT ?", [limit])
