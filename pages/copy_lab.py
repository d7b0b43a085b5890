"""Copy Lab: write a brief, tune the sampling, generate checked variants, keep the good ones."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from core.generation.brand import BrandVoice, list_brand_voices, save_brand_voice
from core.channels import CHANNEL_NAMES
from core.errors import CopyLiftError
from core.generation.brief import LANGUAGES, OFFER_NAMES, OFFER_TYPES, TONES, Brief
from core.generation.view import escape_markdown, preview_parts, product_choices, sample_first_name
from core.generation.generate import run_generation
from core.generation.guardrails import check_copy
from core.generation.settings import HELP, MAX_VARIANTS, default_settings
from core.generation.working_set import add_to_working_set, list_working_set, remove_from_working_set
from pages.common import current_segment, current_segment_label, get_language_model, get_store, show_error

st.title("Copy Lab")
st.caption(f"Writing for **{escape_markdown(current_segment_label())}** with a language model running on this machine.")
store = get_store()
voices = {v.name: v for v in list_brand_voices(store)}
if "copy.voice_saved" in st.session_state:  # select the voice just saved (before its widget exists)
    st.session_state["copy.voice"] = st.session_state.pop("copy.voice_saved")
    st.success(f"Saved brand voice {escape_markdown(st.session_state['copy.voice'])}; it is selected below.")
products = product_choices(store)

channel = st.radio("Channel", list(CHANNEL_NAMES), format_func=CHANNEL_NAMES.get, horizontal=True, key="copy.channel")
defaults = default_settings(channel)
with st.form("copy.brief"):
    left, right = st.columns(2)
    picked = left.selectbox("Product from the catalog", ["(type below)", *products["title"]], key="copy.product_pick")
    typed = left.text_input("…or describe the product", key="copy.product_text")
    details = left.text_area("Product facts (optional)", key="copy.details", max_chars=1000)
    offer_type = right.selectbox("Offer", OFFER_TYPES, format_func=OFFER_NAMES.get, key="copy.offer_type")
    offer_value = right.number_input("Offer value (% or amount)", 0.0, 10000.0, 20.0, key="copy.offer_value")
    code = right.text_input("Promo code (optional)", key="copy.code")
    end = right.date_input("Offer ends (optional)", value=None, key="copy.end")
    tone = left.selectbox("Tone", TONES, key="copy.tone")
    voice = right.selectbox("Brand voice", list(voices), key="copy.voice")
    language = left.selectbox("Language", list(LANGUAGES), format_func=LANGUAGES.get, key="copy.language")
    with st.expander("Sampling"):
        c1, c2, c3 = st.columns(3)
        knobs = dict(
            temperature=c1.slider("Temperature", 0.1, 1.5, defaults.temperature, 0.05, help=HELP["temperature"], key=f"copy.temperature.{channel}"),
            top_p=c2.slider("Top-p", 0.1, 1.0, defaults.top_p, 0.01, help=HELP["top_p"], key=f"copy.top_p.{channel}"),
            top_k=c3.number_input("Top-k", 0, 500, defaults.top_k, help=HELP["top_k"], key=f"copy.top_k.{channel}"),
            repetition_penalty=c1.slider("Repetition penalty", 1.0, 2.0, defaults.repetition_penalty, 0.05, help=HELP["repetition_penalty"], key=f"copy.rep.{channel}"),
            max_new_tokens=c2.number_input("Max new tokens", 8, 256, defaults.max_new_tokens, help=HELP["max_new_tokens"], key=f"copy.max_tokens.{channel}"),
            n_variants=c3.number_input("Variants", 1, MAX_VARIANTS, defaults.n_variants, help=HELP["n_variants"], key="copy.n_variants"),
            seed=c1.number_input("Seed", 0, 2**31 - 1, defaults.seed, help=HELP["seed"], key="copy.seed"),
        )
    submitted = st.form_submit_button("Generate", type="primary")


def generate(brief: Brief, settings, title: str):
    """Load the model and generate, showing each step; returns the result or None after showing an error."""
    with st.status(title, expanded=True) as status:
        try:
            st.write("Loading the language model…")
            lm = get_language_model()
            st.write(f"Model ready: {escape_markdown(lm.label)}")
            bar = st.progress(0.0, "Writing…")
            result = run_generation(store, lm, brief, settings, current_segment(),
                                    progress=lambda f, m: bar.progress(f, m),
                                    on_variant=lambda v: st.text(f"✓ {v.text}"))
        except CopyLiftError as err:
            status.update(label="Generation failed", state="error")
            show_error(err)
            return None
        status.update(label=f"{len(result.variants)} variants in {result.seconds:.1f} s", state="complete", expanded=False)
    return result


if submitted:
    row = products[products["title"] == picked]
    try:
        brief = Brief(product=typed or (picked if not row.empty else ""), channel=channel, offer_type=offer_type,
                      offer_value=offer_value if offer_type in ("percent", "amount") else None, promo_code=code or None,
                      end_date=end, tone=tone, brand_voice=voices[voice], language=language, details=details,
                      product_id=None if typed or row.empty else row["product_id"].iloc[0],
                      category=None if typed or row.empty else row["category"].iloc[0],
                      price=None if typed or row.empty else float(row["price"].iloc[0]))
        settings = default_settings(channel, **knobs)
    except CopyLiftError as err:
        show_error(err)
    else:
        result = generate(brief, settings, "Writing variants…")
        if result is not None:
            st.session_state["copy.result"] = {"result": result, "texts": [v.text for v in result.variants],
                                               "reports": [v.report for v in result.variants], "regens": 0}

state = st.session_state.get("copy.result")
if state:
    result = state["result"]
    brief, first_name = result.brief, sample_first_name(store)
    fails = ", ".join(f"{k} {n}" for k, n in result.failure_counts.items()) or "none"
    st.caption(f"{result.generated} written · {len(state['texts'])} kept · failed or merged: {fails}")
    for note in result.notes:
        st.warning(note)
    for i, text in enumerate(state["texts"]):
        with st.container(border=True):
            main, cta = preview_parts(text, brief, first_name)
            if brief.channel == "email_subject":
                st.caption("📧 Inbox")
                st.markdown(f"**Larkmoor** · {escape_markdown(main)}")
            elif brief.channel == "push":
                st.caption("📱 Lock screen · now")
                st.markdown(f"**Larkmoor**  \n{escape_markdown(main)}")
            elif brief.channel == "sms":
                with st.chat_message("assistant", avatar="💬"):
                    st.markdown(escape_markdown(main))
            else:
                st.subheader(escape_markdown(main), anchor=False)
                st.button(cta or "…", key=f"copy.cta.{i}", disabled=True)
            edited = st.text_input("Edit", text, key=f"copy.edit.{i}.{state['regens']}", label_visibility="collapsed")
            report = check_copy(edited, brief) if edited != text else state["reports"][i]
            st.markdown(" ".join(f":{'green' if c.passed else 'red'}-badge[{c.label}]" for c in report.checks))
            for c in report.failures:
                st.caption(f"✗ {escape_markdown(c.message)}")
            reason = "" if report.clean else st.text_input("Override reason", key=f"copy.reason.{i}")
            b1, b2 = st.columns(2)
            if b1.button("Add to working set", key=f"copy.add.{i}"):
                try:
                    add_to_working_set(store, edited, brief, settings=result.settings, model_name=result.model_name,
                                       seed=result.settings.seed, guardrail_report=report,
                                       origin="generated" if edited == text else "manual", override_reason=reason or None)
                    st.toast("Added to the working set")
                except CopyLiftError as err:
                    show_error(err)
            if b2.button("Regenerate this one", key=f"copy.regen.{i}"):
                state["regens"] += 1
                one = replace(result.settings, n_variants=1, seed=result.settings.seed + 1009 * state["regens"])
                new = generate(brief, one, "Writing a new variant…")
                if new is not None and new.variants:
                    state["texts"][i], state["reports"][i] = new.variants[0].text, new.variants[0].report
                    st.rerun()
    with st.expander("The exact prompt the model read"):
        st.code(result.prompt_text, language=None, wrap_lines=True)
    with st.expander(f"Rejected variants ({len(result.rejected)})"):
        for v in result.rejected:
            st.text(f"{v.text or '(empty)'}  →  {'; '.join(c.message for c in v.report.failures)}")

st.subheader("Working set")
ws = list_working_set(store)
if ws.empty:
    st.info("Nothing in the working set yet: add variants above.")
else:
    st.dataframe(ws[["variant_id", "channel", "copy_text", "origin", "override_reason", "created_at"]], hide_index=True)
    gone = st.selectbox("Remove a variant", ws["variant_id"], key="copy.remove_pick")
    if st.button("Remove", key="copy.remove"):
        remove_from_working_set(store, gone)
        st.rerun()

with st.expander("Brand voices"), st.form("copy.voice_form"):
    name = st.text_input("Name", key="copy.voice_name")
    do = st.text_area("Do say (one per line)", key="copy.voice_do")
    dont = st.text_area("Don't say (one per line)", key="copy.voice_dont")
    banned = st.text_area("Banned words (one per line)", key="copy.voice_banned")
    emoji = st.checkbox("Emoji allowed", True, key="copy.voice_emoji")
    if st.form_submit_button("Save brand voice"):
        try:
            saved = BrandVoice(name=name, do_say=do, dont_say=dont, banned_words=banned, emoji_allowed=emoji)
            save_brand_voice(store, saved)
            st.session_state["copy.voice_saved"] = saved.name
            st.rerun()
        except CopyLiftError as err:
            show_error(err)
