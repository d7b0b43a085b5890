"""Segments: pick or build a customer segment, see its size and profile, compare, export and save it."""

from __future__ import annotations

import streamlit as st

from core.errors import CopyLiftError
from core.segments import EVERYONE, count_segment, list_segments, members_csv, save_segment
from core.segments import charts
from core.segments import view as editor
from core.segments.features import ensure_features
from core.segments.profile import compare_summaries, overlap, segment_profile
from core.segments.rules import BOOLEAN, CATEGORY, FEATURES
from pages.common import SEGMENT_KEY, current_segment, get_store, show_error

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
names = list(FEATURES)
for row in list(rows):
    uid = row["uid"]
    cols = st.columns([3, 2, 3, 1], vertical_alignment="bottom")
    if "group" in row:
        cols[0].info("Group: " + editor.describe(row["group"]))
    else:
        feature = cols[0].selectbox("Feature", names, index=names.index(row["feature"]), key=f"seg.feature.{uid}",
                                    format_func=lambda f: FEATURES[f].label)
        ops = editor.operators_for(feature)
        op = cols[1].selectbox("Operator", ops, index=ops.index(row["operator"]) if row["operator"] in ops else 0,
                               key=f"seg.op.{uid}.{feature}")
        kind, key = FEATURES[feature].kind, f"seg.value.{uid}.{feature}.{op}"
        choices = editor.feature_choices(store, feature, as_of)
        value = row["value"] if (row["feature"], row["operator"]) == (feature, op) else editor.default_value(feature, op, choices)
        if op in ("is empty", "is not empty"):
            value = None
        elif kind == BOOLEAN:
            value = cols[2].selectbox("Value", [True, False], index=0 if value else 1, key=key)
        elif kind == CATEGORY and op in ("in", "not in"):
            value = cols[2].multiselect("Values", choices, default=[v for v in value if v in choices], key=key)
        elif kind == CATEGORY:
            value = cols[2].selectbox("Value", choices, index=choices.index(value) if value in choices else 0, key=key)
        elif op == "between":
            low = cols[2].number_input("From", value=float(value[0]), key=key + ".lo")
            value = [low, cols[2].number_input("To", value=float(value[1]), key=key + ".hi")]
        else:
            value = cols[2].number_input(f"Value ({FEATURES[feature].unit})", value=float(value), key=key)
        row.update(feature=feature, operator=op, value=value)
    if cols[3].button("Remove", key=f"seg.remove.{uid}"):
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
            left, right = st.columns(2)
            left.plotly_chart(charts.rfm_chart(prof.rfm), key="seg.chart.rfm")
            right.plotly_chart(charts.share_bar_chart(prof.categories, "category", "Favourite categories", "Category"),
                               key="seg.chart.categories")
            left.plotly_chart(charts.share_bar_chart(prof.devices, "device", "Device mix", "Device"), key="seg.chart.devices")
            right.plotly_chart(charts.share_bar_chart(prof.regions, "region", "Region mix", "Region"), key="seg.chart.regions")
            left.plotly_chart(charts.response_chart(prof.response), key="seg.chart.response")
            right.plotly_chart(charts.size_history_chart(prof.size_history, prof.name), key="seg.chart.history")
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
