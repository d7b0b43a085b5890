"""Helpers that let the Copy Lab build a brief from its form and show copy safely, as its channel would.

Model and user text is shown through Streamlit's Markdown renderer, which does
not render HTML without ``unsafe_allow_html`` but does render Markdown (links,
emphasis, headings): ``escape_markdown`` makes such text literal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from core.generation.brand import DEFAULT_VOICE, BrandVoice
from core.generation.brief import LANGUAGES, Brief
from core.generation.facts import WRITABLE_LANGUAGES
from core.generation.guardrails import render_preview
from core.generation.sources import BUNDLED, DEFAULT_MODEL
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


@dataclass(frozen=True)
class Preview:
    """How a variant looks in its channel: where it shows, who sends it, the text and the CTA."""

    kind: str  # "inbox", "lock_screen", "sms" or "banner"
    caption: str
    sender: str
    main: str
    cta: str = ""


_PREVIEW_KIND = {"email_subject": ("inbox", "📧 Inbox"), "push": ("lock_screen", "📱 Lock screen · now"),
                 "sms": ("sms", "💬 Messages"), "banner": ("banner", "🖼 Banner")}


def channel_preview(text: str, brief: Brief, first_name: str, shop_name: str = "") -> Preview:
    """The variant as a customer sees it, with the configured shop as the sender."""
    main, cta = preview_parts(text, brief, first_name)
    kind, caption = _PREVIEW_KIND[brief.channel]
    return Preview(kind, caption, shop_name or "Your shop", main, cta)


def model_choices() -> dict[str, str]:
    """Bundled models the Copy Lab offers: key -> label (name, languages, licence)."""
    return {k: f"{m.name} ({', '.join(LANGUAGES[x].split(' ')[0] for x in m.languages)}; {m.licence})"
            for k, m in BUNDLED.items()}


def language_choices(model_key: str | None) -> list[str]:
    """Languages the brief form offers: those CopyLift has layouts for that the chosen model writes."""
    spec = BUNDLED.get(model_key or DEFAULT_MODEL)
    writes = spec.languages if spec else WRITABLE_LANGUAGES
    return [x for x in WRITABLE_LANGUAGES if x in writes]


def brief_from_form(form: dict, products: pd.DataFrame, voices: dict[str, BrandVoice]) -> Brief:
    """The Brief the Copy Lab form describes: a typed product wins over the catalog pick.

    A catalog pick brings its id, category and price; the offer value only counts for offers
    that take one. Raises ``ValidationError`` (with every problem) for an incomplete brief.
    """
    typed = (form.get("typed") or "").strip()
    row = products[products["title"] == form.get("picked")] if not typed else products.iloc[0:0]
    offer_type = form.get("offer_type") or "none"
    takes_value = offer_type in ("percent", "amount")
    minimum = form.get("min_spend") if offer_type == "amount" else None
    return Brief(
        product=typed or (row["title"].iloc[0] if not row.empty else ""), channel=form["channel"],
        offer_type=offer_type, offer_value=form.get("offer_value") if takes_value else None,
        promo_code=form.get("code") or None, end_date=form.get("end"), tone=form.get("tone") or "friendly",
        brand_voice=voices[form["voice"]] if form.get("voice") in voices else DEFAULT_VOICE,
        language=form.get("language") or "en", details=form.get("details") or "",
        min_spend=minimum or None, currency=form.get("currency") or "$",
        product_id=None if row.empty else str(row["product_id"].iloc[0]),
        category=None if row.empty else row["category"].iloc[0],
        price=None if row.empty else float(row["price"].iloc[0]))


# The Copy Lab's sampling controls: (setting, label, widget, low, high, step); per channel unless noted.
SAMPLING_CONTROLS: tuple[tuple[str, str, str, float, float, float | None], ...] = (
    ("temperature", "Temperature", "slider", 0.1, 1.5, 0.05),
    ("top_p", "Top-p", "slider", 0.1, 1.0, 0.01),
    ("top_k", "Top-k", "number", 0, 500, None),
    ("repetition_penalty", "Repetition penalty", "slider", 1.0, 2.0, 0.05),
    ("max_new_tokens", "Max new tokens", "number", 8, 256, None),
    ("n_variants", "Variants", "number", 1, 20, None),
    ("seed", "Seed", "number", 0, 2**31 - 1, None),
)
