"""Plotly figures for the Predict page; each takes a tidy frame and returns a figure."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.charts import require_columns


def rate_chart(table: pd.DataFrame, unit: str = "%") -> go.Figure:
    """Predicted rate per variant with its 90% model interval; the control drawn in grey."""
    require_columns(table, ["variant_id", "rate", "low", "high", "is_control"])
    frame = table.sort_values("rate")
    colours = ["#9e9e9e" if c else "#1f77b4" for c in frame["is_control"]]
    labels = [f"{v} (control)" if c else str(v) for v, c in zip(frame["variant_id"], frame["is_control"])]
    fig = go.Figure(go.Bar(
        x=frame["rate"], y=labels, orientation="h", marker_color=colours,
        error_x=dict(type="data", symmetric=False, array=frame["high"] - frame["rate"],
                     arrayminus=frame["rate"] - frame["low"]),
        hovertemplate="%{y}: %{x:.2f}" + unit + "<extra></extra>",
    ))
    fig.update_layout(title="Predicted conversion per variant (bars: 90% model interval)",
                      xaxis_title=f"Predicted conversion rate ({unit})", yaxis_title="Variant",
                      height=max(300, 40 * len(frame) + 120))
    return fig


def lift_heatmap(matrix: pd.DataFrame) -> go.Figure:
    """Predicted lift in points, segment x variant."""
    require_columns(matrix, ["segment", "variant_id", "lift_pts"])
    wide = matrix.pivot_table(index="segment", columns="variant_id", values="lift_pts", aggfunc="mean") * 100
    fig = px.imshow(wide, color_continuous_scale="RdBu", color_continuous_midpoint=0.0, aspect="auto",
                    text_auto=".2f", labels={"color": "Lift (pts)", "x": "Variant", "y": "Segment"},
                    title="Predicted lift over the control by segment and variant (percentage points)")
    return fig


def incremental_chart(frame: pd.DataFrame) -> go.Figure:
    """Expected extra conversions per variant for the planned send, with 90% interval."""
    require_columns(frame, ["variant_id", "extra_conversions", "extra_low", "extra_high"])
    fig = go.Figure(go.Bar(
        x=frame["variant_id"], y=frame["extra_conversions"],
        error_y=dict(type="data", symmetric=False, array=frame["extra_high"] - frame["extra_conversions"],
                     arrayminus=frame["extra_conversions"] - frame["extra_low"]),
    ))
    fig.update_layout(title="Expected extra conversions over the control for the planned send",
                      xaxis_title="Variant", yaxis_title="Extra conversions (count)")
    return fig
