"""Copy Lab: write a brief, generate checked variants (the model writes hooks, CopyLift the facts), keep the good ones."""

from __future__ import annotations

import streamlit as st

from core.channels import CHANNEL_NAMES
from core.errors import CopyLiftError
from core.generation.brand import list_brand_voices
from core.generation.brief import LANGUAGES, OFFER_NAMES, OFFER_TYPES, TONES
from core.generation.generate import catalog_words, run_generation
from core.generation.sense import CopyContext
from core.generation.settings import HELP, default_settings
from core.generation.view import (
    SAMPLING_CONTROLS,
    brief_from_form,
    escape_markdown,
    language_choices,
    model_choices,
    product_choices,
    sample_first_name,
)
from pages.common import current_segment, current_segment_label, get_config, get_language_model, get_store, show_error
from pages.copy_widgets import brand_voice_form, variant_card, working_set_section

st.title("Copy Lab")
st.caption(f"Writing for **{escape_markdown(current_segment_label())}**: a local model writes the hook, "
           "CopyLift writes the product, offer, code and date from your brief.")
store, shop = get_store(), get_config().shop_name
voices = {v.name: v for v in list_brand_voices(store)}
if "copy.voice_saved" in st.session_state:  # select the voice just saved (before its widget exists)
    st.session_state["copy.voice"] = st.session_state.pop("copy.voice_saved")
    st.success(f"Saved brand voice {escape_markdown(st.session_state['copy.voice'])}; it is selected below.")
products = product_choices(store)
models = model_choices()
c1, c2 = st.columns([2, 1])
channel = c1.radio("Channel", list(CHANNEL_NAMES), format_func=CHANNEL_NAMES.get, horizontal=True, key="copy.channel")
model = c2.selectbox("Model", list(models), format_func=models.get, key="copy.model")
defaults = default_settings(channel)
with st.form("copy.brief"):
    left, right = st.columns(2)
    form = dict(channel=channel, picked=left.selectbox("Product from the catalog", ["(type below)", *products["title"]], key="copy.product_pick"),
                typed=left.text_input("…or describe the product", key="copy.product_text"),
                details=left.text_area("Product facts (optional)", key="copy.details", max_chars=1000),
                offer_type=right.selectbox("Offer", OFFER_TYPES, format_func=OFFER_NAMES.get, key="copy.offer_type"),
                offer_value=right.number_input("Offer value (% or amount)", 0.0, 10000.0, 20.0, key="copy.offer_value"),
                min_spend=right.number_input("Minimum order for an amount off (0 = none)", 0.0, 100000.0, 0.0, key="copy.min_spend"),
                code=right.text_input("Promo code (optional)", key="copy.code"),
                end=right.date_input("Offer ends (optional)", value=None, key="copy.end"),
                tone=left.selectbox("Tone", TONES, key="copy.tone"), voice=right.selectbox("Brand voice", list(voices), key="copy.voice"),
                language=left.selectbox("Language", language_choices(model), format_func=LANGUAGES.get, key=f"copy.language.{model}"),
                currency=left.text_input("Currency symbol", "$", max_chars=4, key="copy.currency"))
    with st.expander("Sampling"):
        cols, knobs = st.columns(3), {}
        for i, (name, label, kind, low, high, step) in enumerate(SAMPLING_CONTROLS):
            widget = cols[i % 3].slider if kind == "slider" else cols[i % 3].number_input
            key = f"copy.{name}" if name in ("n_variants", "seed") else f"copy.{name}.{channel}"
            knobs[name] = widget(label, low, high, getattr(defaults, name), step, help=HELP[name], key=key)
    submitted = st.form_submit_button("Generate", type="primary")


def generate(brief, settings, title: str):
    """Load the model and generate, showing each step; returns the result or None after showing an error."""
    with st.status(title, expanded=True) as status:
        try:
            lm = get_language_model(model)
            st.write(f"Model ready: {escape_markdown(lm.label)}")
            bar = st.progress(0.0, "Writing…")
            result = run_generation(store, lm, brief, settings, current_segment(), shop_name=shop,
                                    progress=lambda f, m: bar.progress(f, m), on_variant=lambda v: st.text(f"✓ {v.text}"))
        except CopyLiftError as err:
            status.update(label="Generation failed", state="error")
            show_error(err)
            return None
        status.update(label=f"{len(result.variants)} variants in {result.seconds:.1f} s", state="complete", expanded=False)
    return result


if submitted:
    try:
        brief, settings = brief_from_form(form, products, voices), default_settings(channel, **knobs)
    except CopyLiftError as err:
        show_error(err)
    else:
        if (result := generate(brief, settings, "Writing variants…")) is not None:
            st.session_state["copy.result"] = {"result": result, "texts": [v.text for v in result.variants],
                                               "reports": [v.report for v in result.variants], "regens": 0}

if state := st.session_state.get("copy.result"):
    result = state["result"]
    brief, first_name = result.brief, sample_first_name(store)
    ctx = CopyContext(shop_name=shop, catalog_words=catalog_words(store))  # edits are checked as generation was
    fails = ", ".join(f"{k} {n}" for k, n in result.failure_counts.items()) or "none"
    st.caption(f"{result.generated} hooks written · {len(state['texts'])} kept · failed or merged: {fails}")
    for note in result.notes:
        st.warning(note)
    for i, text in enumerate(state["texts"]):
        if variant_card(i, text, state, store, shop, ctx, first_name):
            new = generate(result.brief, result.settings.for_regeneration(state["regens"]), "Writing a new variant…")
            if new is not None and new.variants:
                state["texts"][i], state["reports"][i] = new.variants[0].text, new.variants[0].report
                st.rerun()
    with st.expander("The exact prompt the model read (it writes the hook after the last line)"):
        st.code(result.prompt_text, language=None, wrap_lines=True)
    with st.expander(f"Rejected variants ({len(result.rejected)})"):
        for v in result.rejected:
            st.text(f"{v.text or '(empty)'}  →  {'; '.join(c.message for c in v.report.failures)}")

working_set_section(store)
brand_voice_form(store)
