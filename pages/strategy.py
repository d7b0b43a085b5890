"""Strategy & Export: pick segments and variants, allocate traffic, review, approve and export."""

from __future__ import annotations

from datetime import date

import streamlit as st

from core.errors import CopyLiftError
from core.strategy.allocation import MODES
from core.strategy.export import EXPORT_MIME
from core.strategy.inputs import build_plan, export_now, parse_manual_shares, segment_options, variant_options
from core.strategy.plan import PlanSettings, plan_from_dict, plan_to_dict
from core.strategy.records import (
    ACTION_LABELS,
    list_strategies,
    load_strategy,
    next_actions,
    save_plan,
    set_status,
    strategy_history,
)
from core.strategy.view import MODE_LABELS
from pages.common import current_segment_label, get_config, get_predictor, get_store, show_error
from pages.widgets import show_plan

VIEWS = {"build": "Build a plan", "review": "Review, approve & export"}


st.title("Strategy & Export")
store = get_store()
user = st.text_input("Your name (recorded as author or approver)", key="strategy.user").strip() or None
if "strategy.flash" in st.session_state:
    st.success(st.session_state.pop("strategy.flash"))
# A keyed control, not st.tabs: tabs reset to the first one on every rerun, so Submit or
# Approve would hide the next step. Actions ask for a view through "strategy.view_next",
# applied here before the control exists (a widget's state cannot change after).
if "strategy.view_next" in st.session_state:
    st.session_state["strategy.view"] = st.session_state.pop("strategy.view_next")
st.session_state.setdefault("strategy.view", "build")
view = st.segmented_control("View", list(VIEWS), format_func=VIEWS.get, required=True, key="strategy.view",
                            label_visibility="collapsed")

if view == "build":
    try:
        predictor = get_predictor()
    except CopyLiftError as err:  # e.g. a model file that fails its hash check
        show_error(err)
        predictor = None
    variants = variant_options(store)
    working = variants[variants["in_working_set"]]
    if predictor is None:
        st.info("No trained predictor yet: train a model on the Predict page, then come back to plan a send.")
        st.page_link("pages/predict.py", label="Go to Predict", icon="🎯")
    elif working.empty:
        st.info("The working set is empty: add copy variants in the Copy Lab first.")
        st.page_link("pages/copy_lab.py", label="Go to the Copy Lab", icon="✍️")
    else:
        refs = {r.name: r for r in segment_options(store)}
        current = current_segment_label()
        chosen = st.multiselect("Segments", list(refs), default=[current] if current in refs else [],
                                key="strategy.segments")
        labels = dict(zip(variants["variant_id"], variants["variant_id"] + " · " + variants["copy_text"].str[:60]))
        controls = variants[variants["is_control"]]["variant_id"].tolist()
        with st.form("strategy.form"):
            picks = {name: st.multiselect(f"Variants for {name}", working["variant_id"].tolist(),
                                          default=working["variant_id"].tolist(), format_func=labels.get,
                                          key=f"strategy.variants.{i}") for i, name in enumerate(chosen)}
            control = st.selectbox("Control copy for the holdout", [None, *controls], key="strategy.control",
                                   format_func=lambda v: "No message (pure holdout)" if v is None else labels[v])
            c1, c2, c3, c4 = st.columns(4)
            mode = c1.radio("Allocation", MODES, format_func=MODE_LABELS.get, key="strategy.mode")
            holdout = c2.slider("Holdout (%)", 1, 50, 10, key="strategy.holdout")
            floor = c2.number_input("Minimum share per variant (%)", 0.0, 20.0, 1.0, key="strategy.floor")
            seed = c3.number_input("Seed", 0, 2**31 - 1, 0, key="strategy.seed")
            send_date = c3.date_input("Send date", date.today(), key="strategy.send_date")
            cap = c4.number_input("Max messages per user", 1, 50, 3, key="strategy.max_messages")
            window = c4.number_input("…in days", 1, 90, 7, key="strategy.window_days")
            exclude = c4.checkbox("Exclude users over the cap", key="strategy.exclude")
            manual = {name: st.text_input(f"Manual shares for {name} (variant=percent, …)",
                                          key=f"strategy.manual.{i}") for i, name in enumerate(chosen)}
            name = st.text_input("Strategy name", key="strategy.name")
            built = st.form_submit_button("Build plan", type="primary", key="strategy.build")
        if built:
            try:
                settings = PlanSettings(mode=mode, holdout=holdout / 100, floor=floor / 100, seed=int(seed),
                                        max_messages=int(cap), window_days=int(window),
                                        exclude_over_frequency=exclude, send_date=send_date.isoformat())
                shares = ({n: parse_manual_shares(t, picks[n]) for n, t in manual.items()}
                          if mode == "manual" else None)
                with st.status("Predicting and planning…") as status:
                    bar = st.progress(0.0)
                    plan = build_plan(store, predictor, name=name, segments=[refs[n] for n in chosen],
                                      variant_ids=picks, settings=settings, control_variant_id=control,
                                      manual_shares=shares, progress=lambda f, msg: bar.progress(f, text=msg))
                    status.update(label="Plan ready", state="complete")
                st.session_state["strategy.plan"] = plan_to_dict(plan)
            except CopyLiftError as err:
                show_error(err)
        if "strategy.plan" in st.session_state:
            plan = plan_from_dict(st.session_state["strategy.plan"])
            show_plan(plan, "strategy.build_plan")
            s1, s2 = st.columns(2)
            save, submit = s1.button("Save draft", key="strategy.save"), s2.button("Save and submit", key="strategy.submit")
            if save or submit:
                try:
                    rec = save_plan(store, plan, author=user, submit=submit)
                    st.session_state["strategy.pick"] = rec.strategy_id
                    st.session_state["strategy.view_next"] = "review"  # where its next step is
                    st.session_state["strategy.flash"] = f"Saved {rec.name} ({rec.strategy_id}) v{rec.version}: {rec.status}."
                    st.rerun()  # so the sidebar's approval count is current
                except CopyLiftError as err:
                    show_error(err)

else:
    saved = list_strategies(store)
    if saved.empty:
        st.info("No saved strategies yet: build and save one under \"Build a plan\".")
    else:
        st.dataframe(saved, hide_index=True)
        names = dict(zip(saved["strategy_id"], saved["name"] + " (" + saved["status"] + ")"))
        sid = st.selectbox("Strategy", list(names), format_func=names.get, key="strategy.pick")
        record = load_strategy(store, sid)
        st.subheader(f"{record.name} · version {record.version} · {record.status}")
        if record.comment:
            st.caption(f"Last comment by {record.author or 'someone'}: {record.comment}")
        with st.expander("Version history"):
            st.dataframe(strategy_history(store, sid), hide_index=True)
        show_plan(record.plan, "strategy.review_plan")
        comment = st.text_area("Comment", key="strategy.comment")
        for col, status in zip(st.columns(3), next_actions(record.status)):
            if col.button(ACTION_LABELS[status], key=f"strategy.to_{status}"):
                try:
                    set_status(store, sid, status, author=user, comment=comment or None)
                    st.rerun()
                except CopyLiftError as err:
                    show_error(err)
        if record.status in ("approved", "exported", "measured"):
            if st.button("Export plan, manifest and assignments", key="strategy.export", type="primary"):
                try:
                    with st.spinner("Snapshotting segments and writing files…"):
                        rec, bundle, paths = export_now(store, sid, author=user, out_dir=get_config().export_dir)
                    st.session_state["strategy.files"] = bundle.files
                    st.success(f"Exported version {rec.version}; files written to {paths[0].parent}.")
                except CopyLiftError as err:
                    show_error(err)
            for fname, data in st.session_state.get("strategy.files", {}).items():
                if fname.startswith(sid + "-"):
                    st.download_button(f"Download {fname}", data, file_name=fname, key=f"strategy.dl.{fname}",
                                       mime=EXPORT_MIME[fname.rsplit(".", 1)[-1]], on_click="ignore")
