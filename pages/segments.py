"""Segments: pick or build a customer segment, see its size and profile, compare, export and save it."""

from __future__ import annotations

import streamlit as st

from core.errors import CopyLiftError
from core.segments import EVERYONE, charts, count_segment, list_segments, members_csv, save_segment
from core.segments import view as editor
from core.segments.features import ensure_features
from core.segments.profile import compare_summaries, overlap, segment_profile
from pages.common import SEGMENT_KEY, current_segment, get_store, show_error
from pages.widgets import rule_row

state = st.session_state

st.title("Segments")
st.caption("Who are you writing for? Pick a segment or build one from behaviour; your choice follows you to every page.")
store = get_store()
try:
    as_of = ensure_features(store)
    segments = {s.segment_id: s for s in list_segments(store)}
except CopyLiftError as err:
    show_error(err)
    st.stop()


def label(seg_id: str | None) -> str:
    return EVERYONE.name if seg_id is None else segments[seg_id].name + (" · built in" if segments[seg_id].is_builtin else "")


if "seg.pending_pick" in state:  # set by a save in the previous run, applied before the widget exists
    state["seg.pick"] = state.pop("seg.pending_pick")
state.setdefault("seg.pick", current_segment().segment_id)
if state["seg.pick"] not in segments:
    state["seg.pick"] = None  # everyone


def _apply_pick() -> None:
    # A callback runs before the next script run, so the sidebar in app.py already shows the new pick.
    state[SEGMENT_KEY] = EVERYONE if state["seg.pick"] is None else segments[state["seg.pick"]].ref


pick = st.selectbox("Segment", [None, *segments], format_func=label, key="seg.pick", on_change=_apply_pick)
chosen = None if pick is None else segments[pick]
state[SEGMENT_KEY] = EVERYONE if chosen is None else chosen.ref
st.caption(f"Features as of {as_of:%Y-%m-%d %H:%M}. " + (chosen.description if chosen else "Everyone in the data."))
if "seg.flash" in state:
    st.success(state.pop("seg.flash"))

if "seg.loaded" not in state or state["seg.loaded"] != pick:  # a new pick: load its rules into the editor
    state["seg.combinator"], state["seg.draft"] = editor.draft_from_rules(chosen.rules) if chosen else ("and", [])
    state["seg.name"] = chosen.name if chosen and not chosen.is_builtin else ""
    state["seg.loaded"] = pick
rows: list[dict] = state["seg.draft"]

st.subheader("Rules")
st.radio("Match", ["and", "or"], key="seg.combinator", horizontal=True,
         format_func={"and": "all conditions (AND)", "or": "any condition (OR)"}.get)
for row in list(rows):
    if rule_row(store, row, as_of):
        rows.remove(row)
        st.rerun()
if st.button("Add condition", key="seg.add"):
    rows.append({"uid": editor.new_uid(), **editor.NEW_CONDITION})
    st.rerun()

group = None
try:
    group = editor.rules_from_draft(state["seg.combinator"], rows)
    size, total = count_segment(store, group), count_segment(store, None)
    c1, c2 = st.columns(2)
    c1.metric("Customers matching", f"{size:,}")
    c2.metric("Share of all customers", f"{size / total:.1%}" if total else "–")
except CopyLiftError as err:
    show_error(err)

if group is not None:
    unchanged = chosen is not None and group == chosen.rules
    current_seg = chosen if unchanged else (None if not group.items else editor.draft_segment("Edited segment", group))
    try:
        st.download_button("Download member ids (CSV)", members_csv(store, current_seg, as_of),
                           file_name="segment_members.csv", mime="text/csv", key="seg.export",
                           on_click="ignore")
    except CopyLiftError as err:
        show_error(err)

    with st.form("seg.save_form"):
        st.markdown("**Save these rules**")
        name = st.text_input("Name", key="seg.name")
        description = st.text_area("Description", key="seg.description")
        as_version = bool(chosen and not chosen.is_builtin) and st.checkbox(
            f"Save as a new version of '{chosen.name}'", value=True, key="seg.as_version")
        if st.form_submit_button("Save segment", key="seg.save"):
            try:
                saved = save_segment(store, name, description, group, segment_id=chosen.segment_id if as_version else None)
                state["seg.pending_pick"], state[SEGMENT_KEY] = saved.segment_id, saved.ref
                state.pop("seg.loaded", None)
                state["seg.flash"] = f"Saved '{saved.name}' (version {saved.version}); it is now your segment."
                st.rerun()
            except CopyLiftError as err:
                show_error(err)

    st.subheader("Profile vs all customers")
    if st.toggle("Show profile", key="seg.profile"):
        try:
            with st.status("Profiling the segment…", expanded=False) as status:
                prof = segment_profile(store, current_seg, as_of)
                status.update(label=f"Profile of {prof.name}: {prof.size:,} of {prof.total:,} customers", state="complete")
            st.dataframe(prof.summary.pivot(index="metric", columns="group", values="value"), key="seg.summary")
            figures = charts.profile_figures(prof)
            for pair in zip(figures[::2], figures[1::2]):  # two charts a row
                for col, (name, fig) in zip(st.columns(2), pair):
                    col.plotly_chart(fig, key=f"seg.chart.{name}")
        except CopyLiftError as err:
            show_error(err)

st.subheader("Compare segments and their overlap")
picks = st.multiselect("Segments to compare", list(segments), format_func=label, max_selections=6, key="seg.compare")
if len(picks) >= 2:
    try:
        chosen_segs = [segments[i] for i in picks]
        st.plotly_chart(charts.index_chart(compare_summaries(store, chosen_segs, as_of)), key="seg.chart.compare")
        st.plotly_chart(charts.overlap_heatmap(overlap(store, chosen_segs, as_of)), key="seg.chart.overlap")
    except CopyLiftError as err:
        show_error(err)
