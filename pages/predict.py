"""Predict: conversion per copy variant for the chosen segment, with intervals, lift and reasons."""

from __future__ import annotations

import streamlit as st

from core.errors import CopyLiftError
from core.prediction.charts import incremental_chart, lift_heatmap, rate_chart
from core.prediction.registry import latest_version
from core.prediction.scoring import predict_variants
from core.prediction.training import FAST_SETTINGS, train_model
from core.prediction.view import (
    best_variant_headline,
    candidate_variants,
    chart_rows,
    default_control_index,
    incremental_outcomes,
    lift_matrix,
    model_description,
    prediction_table,
    revenue_per_conversion,
)
from core.segments import list_segments
from pages.common import current_segment, current_segment_label, get_config, get_predictor, get_store, show_error

HISTORY = "__history__"
# The page scores the conversion model (get_predictor's default): rates in percent, lifts in points.
RATE = "%.2f%%"
TABLE_UNITS = {"rate": RATE, "low": RATE, "high": RATE, "send_low": RATE, "send_high": RATE,
               "lift_pts": "%+.2f pts", "lift_low": "%+.2f pts", "lift_high": "%+.2f pts"}
state = st.session_state

st.title("Predict")
st.caption(f"Segment: **{current_segment_label()}** (change it on the Segments page).")
store = get_store()


with st.expander("Model", expanded=False):
    mv = latest_version(store)
    if mv is None:
        st.info("No model has been trained yet. Train one from the exposures and results in the database.")
    else:
        m = mv.metrics
        cols = st.columns(4)
        cols[0].metric("Version", mv.version)
        cols[1].metric("AUC (campaign CV)", f"{m.get('auc') or 0:.3f}")
        cols[2].metric("Calibration error", f"{m.get('ece', 0):.4f}")
        cols[3].metric("Campaigns learned from", f"{m.get('n_campaigns', 0):,}")
        st.markdown(model_description(m, mv.outcome))
        st.caption(f"Trained {mv.created_at:%Y-%m-%d %H:%M} on {m.get('n_sends', 0):,.0f} sends; data hash "
                   f"{mv.data_hash[:10]}, settings hash {mv.settings_hash[:10]}.")
    quick = st.checkbox("Quick model (fewer trees, for a first look)", key="predict.quick")
    if st.button("Retrain", key="predict.retrain"):
        with st.status("Training the predictor…", expanded=True) as status:
            bar = st.progress(0.0)
            try:
                new = train_model(store, get_config(), progress=lambda f, msg: bar.progress(min(f, 1.0), text=msg),
                                  settings=FAST_SETTINGS if quick else None)
            except CopyLiftError as err:
                status.update(label="Training failed", state="error")
                show_error(err)
            else:
                status.update(label=f"Model version {new.version} trained", state="complete")
                state.pop("predict.results", None)

try:
    predictor = get_predictor()
    segment = current_segment().resolve(store)
    variants, origin = candidate_variants(store)
except CopyLiftError as err:
    show_error(err)
    st.stop()
if predictor is None:
    st.info("Train a model (Model > Retrain) to see predictions.")
    st.stop()
if variants.empty:
    st.info("No copy variants yet: write some in the Copy Lab or import past campaigns on the Data page.")
    st.stop()

with st.form("predict.form"):
    if origin == "past variants":
        st.caption("The Copy Lab's working set is empty, so pick past variants to compare.")
        campaigns = sorted(variants["campaign"].dropna().unique())
        campaign = st.selectbox("Campaign", campaigns, key="predict.campaign")
        pool = variants[variants["campaign"] == campaign]
    else:
        st.caption(f"Scoring the {len(variants)} variants of the Copy Lab's working set.")
        pool = variants
    ids = pool["variant_id"].astype(str).tolist()
    options = [HISTORY, *ids]
    control = st.selectbox("Control", options, index=default_control_index(pool, options),
                           format_func=lambda v: "The segment's historical rate" if v == HISTORY else v,
                           key="predict.control")
    send_size = st.number_input("Planned send size (users)", min_value=1, value=10_000, step=1_000,
                                key="predict.send_size")
    submitted = st.form_submit_button("Predict")

if submitted:
    try:
        with st.spinner("Scoring the variants…"):
            scored = pool.assign(is_control=False)
            preds = predict_variants(store, predictor, scored, segment, None if control == HISTORY else control,
                                     int(send_size))
        state["predict.results"] = {"preds": preds, "pool": scored, "send_size": int(send_size),
                                    "segment": current_segment_label(), "control": control}
    except CopyLiftError as err:
        show_error(err)

results = state.get("predict.results")
if results and results["segment"] == current_segment_label():
    preds, pool = results["preds"], results["pool"]
    table = prediction_table(preds, pool, predictor.outcome)
    st.plotly_chart(rate_chart(chart_rows(table)), key="predict.rates")
    for p in preds:
        if p.out_of_distribution:
            st.warning(f"{p.variant_id}: this copy is unlike anything the model learned from; "
                       "treat its prediction as a guess and test it on a small send first.", icon="🧭")
    if any(p.thin_data for p in preds):
        st.info(f"Thin data: {current_segment_label()} has {preds[0].n_members:,} members or the channel has few "
                "past sends, so the prediction leans on the whole population.")
    st.dataframe(
        table[["variant_id", "copy_text", "rate", "low", "high", "send_low", "send_high", "lift_pts", "lift_low",
               "lift_high", "lift_pct", "reasons", "is_control"]],
        hide_index=True, key="predict.table",
        column_config={c: st.column_config.NumberColumn(format=unit) for c, unit in TABLE_UNITS.items()}
        | {"lift_pct": st.column_config.NumberColumn("lift %", format="%+.1f%%")},
    )
    st.caption("Low-high is the 90% model interval; send_low-send_high adds the noise of sending to "
               f"{results['send_size']:,} users. Lifts are in percentage points over the control.")

    st.subheader("Managers' view")
    extra = incremental_outcomes(preds, results["send_size"], revenue_per_conversion(store))
    if not extra.empty:
        st.plotly_chart(incremental_chart(extra), key="predict.extra")
        tile = best_variant_headline(extra, results["send_size"])
        st.metric(tile.label, tile.value, help=tile.help)
    if st.button("Compare lift across segments", key="predict.heatmap"):
        try:
            with st.status("Scoring every segment…") as status:
                bar = st.progress(0.0)
                control_id = None if results["control"] == HISTORY else results["control"]
                matrix = lift_matrix(store, predictor, pool, [None, *list_segments(store)[:11]], control_id,
                                     progress=lambda f, msg: bar.progress(f, text=msg))
                status.update(label="Segments scored", state="complete")
            st.plotly_chart(lift_heatmap(matrix), key="predict.lift_map")
        except CopyLiftError as err:
            show_error(err)
