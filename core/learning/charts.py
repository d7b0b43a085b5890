"""Plotly figures for the Results & Learning page: trust, readout, allocation, retrain movement.

Each function takes a tidy frame (from ``core.learning``, ``core.learning.trust`` or
``core.learning.experiments``), checks its columns and returns a figure; rates are
shown in percent.
"""

from __future__ import annotations

import numbers

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.charts import require_columns


def _pct(series: pd.Series) -> pd.Series:
    return series.astype(float) * 100


def predicted_vs_actual_chart(trust: pd.DataFrame) -> go.Figure:
    """Observed vs predicted conversion per variant x segment, with both intervals and the diagonal."""
    require_columns(trust, ["pred_rate", "pred_low", "pred_high", "obs_rate", "obs_low", "obs_high", "inside",
                     "segment_name", "variant_id"])
    fig = go.Figure()
    for inside, label, colour in ((True, "inside predicted 90% interval", "#2a9d8f"),
                                  (False, "outside predicted 90% interval", "#e76f51")):
        part = trust[trust["inside"] == inside]
        if part.empty:
            continue
        x, y = _pct(part["pred_rate"]), _pct(part["obs_rate"])
        fig.add_trace(go.Scatter(
            x=x, y=y, mode="markers", name=label, marker={"color": colour, "size": 9},
            error_x={"type": "data", "symmetric": False, "array": _pct(part["pred_high"]) - x,
                     "arrayminus": x - _pct(part["pred_low"]), "thickness": 1},
            error_y={"type": "data", "symmetric": False, "array": _pct(part["obs_high"]) - y,
                     "arrayminus": y - _pct(part["obs_low"]), "thickness": 1},
            customdata=part[["segment_name", "variant_id"]].astype(str).to_numpy(),
            hovertemplate="%{customdata[0]} · %{customdata[1]}<br>predicted %{x:.2f}%<br>observed %{y:.2f}%<extra></extra>",
        ))
    top = float(max(_pct(trust["pred_high"]).max(), _pct(trust["obs_high"]).max(), 0.1)) * 1.05
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect prediction",
                             line={"dash": "dash", "color": "grey"}))
    fig.update_layout(title="Predicted vs observed conversion (variant x segment)",
                      xaxis_title="Predicted conversion (%)", yaxis_title="Observed conversion (%)")
    return fig


def reliability_chart(curve: pd.DataFrame) -> go.Figure:
    """Observed rate in bins of predicted rate; points on the diagonal mean calibrated predictions."""
    require_columns(curve, ["predicted", "observed", "obs_low", "obs_high", "sends"])
    x, y = _pct(curve["predicted"]), _pct(curve["observed"])
    fig = go.Figure(go.Scatter(
        x=x, y=y, mode="lines+markers", name="observed",
        error_y={"type": "data", "symmetric": False, "array": _pct(curve["obs_high"]) - y,
                 "arrayminus": y - _pct(curve["obs_low"])},
        customdata=curve[["sends"]].to_numpy(),
        hovertemplate="predicted %{x:.2f}%<br>observed %{y:.2f}%<br>%{customdata[0]:,} sends<extra></extra>",
    ))
    top = float(max(x.max(), _pct(curve["obs_high"]).max(), 0.1)) * 1.05
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect calibration",
                             line={"dash": "dash", "color": "grey"}))
    fig.update_layout(title="Reliability: observed vs predicted, binned", xaxis_title="Predicted conversion (%)",
                      yaxis_title="Observed conversion (%)")
    return fig


NO_COVERAGE_YET = "No measured strategy with a prediction yet: coverage per model version appears here."


def version_label(value: object) -> str:
    """"v3" for model version 3 (any integer type, or a whole float from a column with gaps), else the text."""
    if value is None or pd.isna(value):
        return "no model version"
    if isinstance(value, numbers.Integral) or (isinstance(value, numbers.Real) and float(value).is_integer()):
        return f"v{int(float(value))}"
    return str(value)


def coverage_chart(cov: pd.DataFrame, by: str = "model_version") -> go.Figure:
    """Share of observed rates inside the predicted 90% intervals, per model version, against the 90% target.

    One bar per version on a category axis (labels "v1", "v2", ...: bare numbers as labels would put
    the bars on a number line); strategies planned without a model get their own bar. With nothing
    measured the figure says so instead of drawing empty axes.
    """
    require_columns(cov, [by, "coverage", "cells"])
    data = cov[cov["coverage"].notna()]
    fig = go.Figure()
    fig.update_layout(title="Coverage of the predicted 90% intervals by model version")
    if data.empty:
        fig.add_annotation(text=NO_COVERAGE_YET, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return fig
    fig.add_trace(go.Bar(
        x=[version_label(v) for v in data[by]], y=[float(c) * 100 for c in data["coverage"]],
        text=[f"{int(n)} cells" for n in data["cells"]], textposition="outside", name="coverage",
        hovertemplate="%{x}<br>%{y:.0f}% inside the interval<br>%{text}<extra></extra>",
    ))
    fig.add_hline(y=90, line_dash="dash", annotation_text="target 90%")
    fig.update_xaxes(type="category", title="Model version")
    fig.update_yaxes(range=[0, 105], title="Observed inside the interval (%)")
    return fig


def lift_chart(table: pd.DataFrame) -> go.Figure:
    """Absolute lift over control per variant and segment, with the decision interval."""
    require_columns(table, ["segment_name", "variant_id", "is_control", "lift_pts", "decision_low", "decision_high"])
    data = table[~table["is_control"].astype(bool)].copy()
    data["lift"] = _pct(data["lift_pts"])
    data["plus"] = _pct(data["decision_high"]) - data["lift"]
    data["minus"] = data["lift"] - _pct(data["decision_low"])
    fig = px.scatter(data, x="lift", y="variant_id", color="segment_name", error_x="plus", error_x_minus="minus",
                     title="Lift over control with 95% interval",
                     labels={"lift": "Lift (percentage points)", "variant_id": "Variant", "segment_name": "Segment"})
    fig.add_vline(x=0, line_dash="dash", line_color="grey")
    return fig


def allocation_chart(alloc: pd.DataFrame) -> go.Figure:
    """Next-send share of the audience per variant and segment (Thompson sampling)."""
    require_columns(alloc, ["segment_name", "variant_id", "share", "prob_best"])
    data = alloc.assign(pct=alloc["share"] * 100)
    fig = px.bar(data, x="segment_name", y="pct", color="variant_id", barmode="group",
                 hover_data={"prob_best": ":.2f"}, title="Next send: share of the audience per variant",
                 labels={"segment_name": "Segment", "pct": "Share of audience (%)", "variant_id": "Variant",
                         "prob_best": "P(best)"})
    return fig


def movement_chart(movement: pd.DataFrame) -> go.Figure:
    """How each working-set variant's predicted rate moved with the retrain (before -> after)."""
    require_columns(movement, ["variant_id", "before", "after"])
    fig = go.Figure()
    for _, row in movement.iterrows():
        fig.add_trace(go.Scatter(x=[row["before"] * 100, row["after"] * 100], y=[row["variant_id"]] * 2,
                                 mode="lines", line={"color": "lightgrey"}, showlegend=False, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=_pct(movement["before"]), y=movement["variant_id"], mode="markers",
                             name="before retrain", marker={"color": "grey", "size": 9}))
    fig.add_trace(go.Scatter(x=_pct(movement["after"]), y=movement["variant_id"], mode="markers",
                             name="after retrain", marker={"color": "#264653", "size": 9}))
    fig.update_layout(title="Predicted conversion of the working set, before and after retraining",
                      xaxis_title="Predicted conversion (%)", yaxis_title="Variant")
    return fig
