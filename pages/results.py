"""Results & Learning: did the predictions hold, what did the campaign do, and what next.

Trust comes first (predicted vs observed, coverage, drift), then uploading a
campaign's results through the importer, the readout, the next send's
allocation, and retraining the predictor as a new version.
"""

import streamlit as st

from core.api import view as live
from core.errors import CopyLiftError
from core.generation.working_set import list_working_set
from core.ingest import ImportOptions, uploads
from core.learning import charts
from core.learning import results as lr
from core.learning import retrain as lrt
from core.learning import view as lview
from core.learning.allocation import update_allocation
from core.learning.experiments import Readout, readout
from core.learning.matching import match_stored
from core.learning.results_import import import_results
from core.prediction.view import default_control_index
from pages.common import current_segment, get_config, get_store, show_error, upload_preview

st.title("Results & Learning")
store, cfg = get_store(), get_config()


def show_readout(result: Readout, key: str | None = None) -> None:
    """The summary sentences, (with ``key``: the warnings), the table and (with ``key``) the lift chart."""
    for line in result.summary:
        st.markdown(f"- {line}")
    for warn in result.warnings if key else ():
        st.caption(warn)
    st.dataframe(lview.readout_table(result), hide_index=True, width="stretch")
    if key and "lift_pts" in result.table.columns:
        st.plotly_chart(charts.lift_chart(result.table), width="stretch", key=key)


def trust_section() -> None:
    st.header("Trust: predicted vs actual")
    cells = lr.trust_frame(store)
    if cells.empty:
        st.info(lview.NO_TRUST_YET)
        return
    window = st.number_input("Drift window: most recent measured strategies", min_value=1, max_value=100,
                             value=lview.DRIFT_WINDOW_DEFAULT, key="results.drift_window")
    view = lview.trust_view(cells, int(window))
    for col, (label, value, tip) in zip(st.columns(3), view.metrics):
        col.metric(label, value, help=tip)
    (st.warning if view.drift.drifting else st.caption)(view.drift.message)
    left, right = st.columns(2)
    left.plotly_chart(charts.predicted_vs_actual_chart(cells), width="stretch", key="results.trust_scatter")
    right.plotly_chart(charts.reliability_chart(view.reliability), width="stretch", key="results.reliability")
    st.plotly_chart(charts.coverage_chart(view.coverage), width="stretch", key="results.coverage")


def upload_section() -> None:
    st.header("Upload campaign results")
    st.caption(lview.UPLOAD_HELP)
    uploaded = st.file_uploader("Campaign results CSV", type=["csv", "tsv", "txt"], accept_multiple_files=True,
                                key="results.upload")
    for level, msg in st.session_state.pop("results.import_messages", []):
        getattr(st, level)(msg)
    if not uploaded:
        return
    files = uploads.save_uploads([(u.name, u.getvalue()) for u in uploaded], cfg.upload_limit_mb)
    options, _, accept = upload_preview("results", store, files, ImportOptions(imported_by="results page"),
                                        cfg.upload_limit_mb)
    if st.button("Import results", type="primary", key="results.import", disabled=not accept):
        with st.status("Importing results…", expanded=True) as status:
            bar = st.progress(0.0, text="Importing the results")
            done = import_results(store, cfg, files, options, limit_mb=cfg.upload_limit_mb, progress=bar.progress)
            status.update(label=done.report.message, state="complete")
        st.session_state["results.import_messages"] = list(done.messages)
        if done.retrain is not None:
            st.session_state["results.retrain_report"] = done.retrain
        if done.strategies:
            st.session_state["results.strategy"] = done.strategies[0]
        st.rerun()  # so the trust section above includes the new results


def readout_section() -> None:
    st.header("Readout")
    labels = lview.strategy_labels(lr.strategies_with_results(store))
    if not labels:
        st.info("No campaign results with a strategy id yet; upload them above.")
        return
    if st.session_state.get("results.strategy") not in labels:
        st.session_state["results.strategy"] = next(iter(labels))
    sid = st.selectbox("Strategy", list(labels), format_func=labels.get, key="results.strategy")
    planned = st.number_input("Planned sends per arm (0 = the test has finished)", min_value=0, value=0,
                              step=1000, key="results.planned")
    for msg in lview.match_warnings(match_stored(store, sid)):
        st.warning(msg)
    show_readout(lr.strategy_readout(store, sid, planned_sends_per_arm=planned or None), key="results.lift")
    st.subheader("Next send: updated allocation")
    alloc = lview.allocation_view(store, sid)
    st.caption(alloc.caption)
    st.plotly_chart(charts.allocation_chart(alloc.shares), width="stretch", key="results.alloc")
    if st.button("Save as the strategy's next version", key="results.save_alloc"):
        saved = update_allocation(store, sid, author="results page")
        st.success(f"Saved version {saved.version} of {sid} (status: {saved.status}).")


def unplanned_section() -> None:
    names = lview.campaign_labels(lr.unplanned_campaigns(store))
    if not names:
        return
    with st.expander(f"Read out a campaign that was not planned here ({len(names)} with results)"):
        cid = st.selectbox("Campaign", list(names), format_func=names.get, key="results.campaign")
        arms = lr.campaign_arms(store, cid)
        ids = arms["variant_id"].tolist()
        control = st.selectbox("Control arm", ids, index=default_control_index(arms, ids), key="results.campaign_control")
        show_readout(readout(lr.campaign_arms(store, cid, control_variant_id=control)))


def retrain_section() -> None:
    st.header("Learn: retrain the predictor")
    auto = st.toggle("Retrain automatically after every results import", value=lrt.auto_retrain_enabled(store),
                     key="results.auto_retrain")
    if auto != lrt.auto_retrain_enabled(store):
        lrt.set_auto_retrain(store, auto)
    if st.button("Retrain now", type="primary", key="results.retrain"):
        segment = current_segment().resolve(store)  # at the version the marketer picked
        with st.status("Retraining on every result stored…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting")
            report = lrt.retrain(store, cfg, working_set=list_working_set(store), segment=segment, progress=bar.progress)
            status.update(label=f"Model version {report.new_version} saved (version {report.old_version} kept)",
                          state="complete")
        st.session_state["results.retrain_report"] = report
    if (report := st.session_state.get("results.retrain_report")) is None:
        return
    st.markdown(f"**Model version {report.new_version}** (was {report.old_version}); the old version is kept.")
    if not report.metrics.empty:
        st.caption(lview.HELD_OUT_HELP)
        st.dataframe(report.metrics.round(4), hide_index=True, width="stretch")
    for note in report.notes:
        st.caption(note)
    if not report.movement.empty:
        st.plotly_chart(charts.movement_chart(report.movement), width="stretch", key="results.movement")


def live_section() -> None:
    served = live.live_strategies(store)
    if served.empty:
        return
    st.header("Live: decisions and outcomes from the decision service")
    names = dict(zip(served["strategy_id"], served["name"].fillna("(unknown strategy)")))
    sid = st.selectbox("Served strategy", list(names), format_func=lambda s: f"{names[s]} ({s})", key="results.live")
    view = live.live_view(store, sid)
    st.caption(f"{int(served.set_index('strategy_id').loc[sid, 'decided']):,} users decided, {view.events:,} events "
               "received. Sends count delivered users (a holdout that gets nothing counts when decided).")
    st.dataframe(view.counts, hide_index=True, width="stretch", key="results.live_counts")
    st.plotly_chart(live.allocation_history_chart(view.history), width="stretch", key="results.live_alloc")
    if not view.retrains.empty:
        st.dataframe(view.retrains, hide_index=True, width="stretch", key="results.live_retrains")


for section in (trust_section, upload_section, readout_section, live_section, unplanned_section, retrain_section):
    try:
        section()
    except CopyLiftError as err:
        show_error(err)
