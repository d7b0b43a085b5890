"""Results & Learning: did the predictions hold, what did the campaign do, and what next.

Trust comes first (predicted vs observed, coverage, drift), then uploading a
campaign's results through the importer, the readout, the next send's
allocation, and retraining the predictor as a new version.
"""

import streamlit as st

from core.learning.allocation import next_allocation, update_allocation
from core.learning.matching import exported_record, match_stored, plan_frame
from core.learning.results import campaign_arms, mark_measured, strategies_in_import, strategies_with_results, strategy_readout, strategy_results, trust_frame, unplanned_campaigns
from core.learning.retrain import after_import, auto_retrain_enabled, retrain, set_auto_retrain
from core.learning.view import readout_table
from core.learning import charts as charts
from core.learning import trust as trust_checks
from core.api import view as live
from core.errors import CopyLiftError
from core.learning.experiments import readout
from core.ingest import ImportOptions, preview, run_import
from core.ingest import uploads as iup
from pages.common import SEGMENT_KEY, get_config, get_store, show_error

st.title("Results & Learning")
store, cfg = get_store(), get_config()


def trust_section() -> None:
    st.header("Trust: predicted vs actual")
    cells = trust_frame(store)
    if cells.empty:
        st.info("No measured strategies yet. Export a strategy, send it, and upload its results below: "
                "this section then shows how close the predictions came.")
        return
    cov = trust_checks.coverage(cells)
    window = st.number_input("Drift window: most recent measured strategies", min_value=1, max_value=100,
                             value=trust_checks.DRIFT_RECENT_STRATEGIES, key="results.drift_window")
    drift = trust_checks.drift_check(cells, recent=int(window))
    a, b, c = st.columns(3)
    a.metric("Measured variant x segment cells", f"{len(cells):,}")
    b.metric("Inside the predicted 90% interval", f"{cells['inside'].mean():.0%}", help="Should be near 90%.")
    c.metric("Strategies measured", f"{cells['strategy_id'].nunique():,}")
    (st.warning if drift.drifting else st.caption)(drift.message)
    left, right = st.columns(2)
    left.plotly_chart(charts.predicted_vs_actual_chart(cells), width="stretch", key="results.trust_scatter")
    right.plotly_chart(charts.reliability_chart(trust_checks.reliability_curve(cells)), width="stretch",
                       key="results.reliability")
    if cov.empty:
        st.info("Coverage by model version appears once a strategy planned with a model is measured.")
    else:
        st.plotly_chart(charts.coverage_chart(cov), width="stretch", key="results.coverage")


def upload_section() -> None:
    st.header("Upload campaign results")
    st.caption("User-level rows (user id, variant, converted, revenue) or aggregate rows (variant, sends, "
               "conversions, revenue), with the strategy id from the export. Unplanned A/B tests are welcome too.")
    uploaded = st.file_uploader("Campaign results CSV", type=["csv", "tsv", "txt"], accept_multiple_files=True,
                                key="results.upload")
    for level, msg in st.session_state.pop("results.import_messages", []):
        getattr(st, level)(msg)
    if not uploaded:
        return
    limit = cfg.upload_limit_mb
    files = iup.save_uploads([(u.name, u.getvalue()) for u in uploaded], limit)
    options = ImportOptions(imported_by="results page")
    report = preview(store, files, options, limit_mb=limit)
    st.markdown(f"**{report.format_label}**: {report.rows_read:,} rows read, {report.rows_accepted:,} accepted, "
                f"{report.rows_rejected:,} rejected. " + (report.message or ""))
    for issue in report.issues:
        st.warning(issue)
    st.dataframe(report.preview_rows, hide_index=True, width="stretch")
    accept = not report.rows_rejected or st.checkbox(
        f"Import the {report.rows_accepted:,} other rows without the {report.rows_rejected:,} rejected ones",
        key="results.accept_rejects")
    if st.button("Import results", type="primary", key="results.import", disabled=not accept):
        with st.status("Importing results…", expanded=True) as status:
            result = run_import(store, files, options, limit_mb=limit)
            sids = strategies_in_import(store, result.import_id) if result.import_id else []
            messages = [("success", result.message)]
            for sid in sids:
                match = match_stored(store, sid)
                if match.strategy_found:
                    mark_measured(store, sid, author="results page")
                messages += [("info" if i == 0 and match.strategy_found else "warning", m)
                             for i, m in enumerate(match.messages)]
            if result.import_id and auto_retrain_enabled(store):
                bar = st.progress(0.0, text="Retraining (automatic after imports)")
                done = after_import(store, cfg, result.import_id, lambda f, m: bar.progress(f, text=m))
                if done:
                    st.session_state["results.retrain_report"] = done
            status.update(label=result.message, state="complete")
        st.session_state["results.import_messages"] = messages
        if sids:
            st.session_state["results.strategy"] = sids[0]
        st.rerun()  # so the trust section above includes the new results


def readout_section() -> None:
    st.header("Readout")
    measured = strategies_with_results(store)
    if measured.empty:
        st.info("No campaign results with a strategy id yet; upload them above.")
        return
    labels = dict(zip(measured["strategy_id"], measured["name"].fillna("(unknown strategy)")))
    ids = list(labels)
    if st.session_state.get("results.strategy") not in ids:
        st.session_state["results.strategy"] = ids[0]
    sid = st.selectbox("Strategy", ids, format_func=lambda s: f"{labels[s]} ({s})", key="results.strategy")
    planned = st.number_input("Planned sends per arm (0 = the test has finished)", min_value=0, value=0,
                              step=1000, key="results.planned")
    match = match_stored(store, sid)
    if not match.ok:
        for msg in match.messages[1:] if match.strategy_found else match.messages:
            st.warning(msg)
    result = strategy_readout(store, sid, planned_sends_per_arm=planned or None)
    for line in result.summary:
        st.markdown(f"- {line}")
    for warn in result.warnings:
        st.caption(warn)
    st.dataframe(readout_table(result), hide_index=True, width="stretch")
    if "lift_pts" in result.table.columns:
        st.plotly_chart(charts.lift_chart(result.table), width="stretch", key="results.lift")
    allocation_section(sid)


def allocation_section(sid: str) -> None:
    st.subheader("Next send: updated allocation")
    record = exported_record(store, sid)
    arms, _ = strategy_results(store, sid)
    alloc = next_allocation(plan_frame(record), arms, floor=record.plan.settings.floor,
                                     holdout=record.plan.settings.holdout)
    st.caption("Thompson sampling on the model's prediction (as a prior) plus the observed counts: winners get "
               f"more traffic, every variant keeps at least {record.plan.settings.floor:.0%}, the "
               f"{record.plan.settings.holdout:.0%} holdout stays.")
    st.plotly_chart(charts.allocation_chart(alloc), width="stretch", key="results.alloc")
    if st.button("Save as the strategy's next version", key="results.save_alloc"):
        saved = update_allocation(store, sid, author="results page")
        st.success(f"Saved version {saved.version} of {sid} (status: {saved.status}).")


def unplanned_section() -> None:
    campaigns = unplanned_campaigns(store)
    if campaigns.empty:
        return
    with st.expander(f"Read out a campaign that was not planned here ({len(campaigns)} with results)"):
        names = dict(zip(campaigns["campaign_id"], campaigns["name"].fillna("")))
        cid = st.selectbox("Campaign", list(names), format_func=lambda c: f"{c} {names[c]}", key="results.campaign")
        arms = campaign_arms(store, cid)
        flagged = arms.loc[arms["is_control"], "variant_id"].tolist()
        ids = arms["variant_id"].tolist()
        control = st.selectbox("Control arm", ids, index=ids.index(flagged[0]) if flagged else 0,
                               key="results.campaign_control")
        result = readout(campaign_arms(store, cid, control_variant_id=control))
        for line in result.summary:
            st.markdown(f"- {line}")
        st.dataframe(readout_table(result), hide_index=True, width="stretch")


def retrain_section() -> None:
    st.header("Learn: retrain the predictor")
    auto = st.toggle("Retrain automatically after every results import", value=auto_retrain_enabled(store),
                     key="results.auto_retrain")
    if auto != auto_retrain_enabled(store):
        set_auto_retrain(store, auto)
    if st.button("Retrain now", type="primary", key="results.retrain"):
        from core.segments import get_segment
        from core.generation.working_set import list_working_set

        seg_state = st.session_state.get(SEGMENT_KEY)
        segment = get_segment(store, seg_state["segment_id"]) if seg_state else None
        with st.status("Retraining on every result stored…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting")
            report = retrain(store, cfg, working_set=list_working_set(store), segment=segment,
                                      progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
            status.update(label=f"Model version {report.new_version} saved (version {report.old_version} kept)",
                          state="complete")
        st.session_state["results.retrain_report"] = report
    report = st.session_state.get("results.retrain_report")
    if report is None:
        return
    st.markdown(f"**Model version {report.new_version}** (was {report.old_version}); the old version is kept.")
    if not report.metrics.empty:
        st.caption("Held-out rows: 'before' is the previous version, 'after' a model trained like the new one but "
                   "without the held-out campaigns, both scored on results neither had seen. The saved version "
                   "learned from everything, held-out results included.")
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
