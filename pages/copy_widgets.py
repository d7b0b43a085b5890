"""The Copy Lab's repeated widgets: one variant's card, the working-set table, the brand-voice form.

Kept beside the page (not in core: they draw Streamlit widgets) so that pages/copy_lab.py reads as the
brief form, one generation call and the list of cards.
"""

from __future__ import annotations

import streamlit as st

from core.errors import CopyLiftError
from core.generation.brand import BrandVoice, save_brand_voice
from core.generation.guardrails import check_copy
from core.generation.sense import CopyContext
from core.generation.view import channel_preview, escape_markdown
from core.generation.working_set import add_to_working_set, list_working_set, remove_from_working_set
from core.store import Store
from pages.common import show_error


def variant_card(i: int, text: str, state: dict, store: Store, shop: str, ctx: CopyContext, first_name: str) -> bool:
    """Preview, edit box, guardrail badges and buttons of variant ``i``; True when "Regenerate" was clicked."""
    result = state["result"]
    brief = result.brief
    with st.container(border=True):
        view = channel_preview(text, brief, first_name, shop)
        st.caption(view.caption)
        if view.kind == "banner":
            st.subheader(escape_markdown(view.main), anchor=False)
            st.button(view.cta or "…", key=f"copy.cta.{i}", disabled=True)
        else:
            st.markdown(f"**{escape_markdown(view.sender)}**  \n{escape_markdown(view.main)}")
        edited = st.text_input("Edit", text, key=f"copy.edit.{i}.{state['regens']}", label_visibility="collapsed")
        report = check_copy(edited, brief, context=ctx) if edited != text else state["reports"][i]
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
            return True
    return False


def working_set_section(store: Store) -> None:
    st.subheader("Working set")
    if (ws := list_working_set(store)).empty:
        st.info("Nothing in the working set yet: add variants above.")
        return
    st.dataframe(ws[["variant_id", "channel", "copy_text", "origin", "override_reason", "created_at"]], hide_index=True)
    gone = st.selectbox("Remove a variant", ws["variant_id"], key="copy.remove_pick")
    if st.button("Remove", key="copy.remove"):
        remove_from_working_set(store, gone)
        st.rerun()


def brand_voice_form(store: Store) -> None:
    with st.expander("Brand voices"), st.form("copy.voice_form"):
        name, do = st.text_input("Name", key="copy.voice_name"), st.text_area("Do say (one per line)", key="copy.voice_do")
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
