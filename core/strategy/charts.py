"""Plotly figures for strategies: expected conversions with intervals, allocation, predicted lift.

Each function takes the tidy frames of ``core.strategy`` (``segment_frame`` /
``outcome_frame``), checks its columns and returns a figure; pages only show it.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.charts import require_columns

CONTROL_COLOUR = "#9e9e9e"


def _error(frame: pd.DataFrame, mid: str, low: str, high: str) -> dict:
    return dict(
        type="data", symmetric=False,
        array=(frame[high] - frame[mid]).clip(lower=0).tolist(),
        arrayminus=(frame[mid] - frame[low]).clip(lower=0).tolist(),
    )


def expected_conversions_chart(segments: pd.DataFrame) -> go.Figure:
    """Expected and incremental conversions per segment, with 90% intervals."""
    require_columns(segments, ["segment", "conversions", "conversions_low", "conversions_high",
                        "incremental", "incremental_low", "incremental_high"])
    fig = go.Figure()
    total = segments.dropna(subset=["conversions"])
    fig.add_bar(x=total["segment"], y=total["conversions"], name="Expected conversions",
                error_y=_error(total, "conversions", "conversions_low", "conversions_high"))
    inc = segments.dropna(subset=["incremental"])
    if not inc.empty:
        fig.add_bar(x=inc["segment"], y=inc["incremental"], name="Incremental over control",
                    error_y=_error(inc, "incremental", "incremental_low", "incremental_high"))
    fig.update_layout(
        title="Expected conversions by segment (bars: 90% interval)", barmode="group",
        xaxis_title="Segment", yaxis_title="Conversions (count)", legend_title_text="",
    )
    return fig


def allocation_chart(outcomes: pd.DataFrame) -> go.Figure:
    """Share of each segment's audience per arm, control included."""
    require_columns(outcomes, ["segment", "variant_id", "is_control", "share", "sends"])
    frame = outcomes.assign(
        arm=outcomes["variant_id"].where(~outcomes["is_control"].astype(bool), "control (holdout)"),
        share_pct=outcomes["share"] * 100,
    )
    arms = frame["arm"].unique().tolist()
    colours = dict(zip(arms, px.colors.qualitative.Safe * 3))
    colours["control (holdout)"] = CONTROL_COLOUR
    fig = px.bar(
        frame, y="segment", x="share_pct", color="arm", orientation="h", color_discrete_map=colours,
        hover_data={"sends": ":,", "share_pct": ":.1f"},
        title="Traffic allocation per segment",
        labels={"share_pct": "Share of the segment's audience (%)", "segment": "Segment", "arm": "Arm",
                "sends": "Sends"},
    )
    fig.update_layout(barmode="stack", xaxis_range=[0, 100])
    return fig


def lift_chart(outcomes: pd.DataFrame) -> go.Figure:
    """Predicted lift over control per variant and segment, in percentage points with intervals."""
    require_columns(outcomes, ["segment", "variant_id", "is_control", "lift_pts", "lift_low", "lift_high"])
    frame = outcomes[~outcomes["is_control"].astype(bool)].dropna(subset=["lift_pts"]).copy()
    for col in ("lift_pts", "lift_low", "lift_high"):
        frame[col] = frame[col].astype(float) * 100
    frame["lift_low"] = frame["lift_low"].fillna(frame["lift_pts"])
    frame["lift_high"] = frame["lift_high"].fillna(frame["lift_pts"])
    fig = go.Figure()
    for segment, part in frame.groupby("segment", sort=False):
        fig.add_trace(go.Scatter(
            x=part["lift_pts"], y=part["variant_id"], mode="markers", name=str(segment),
            error_x=_error(part, "lift_pts", "lift_low", "lift_high"), marker_size=10,
        ))
    fig.add_vline(x=0, line_dash="dash", line_color=CONTROL_COLOUR)
    fig.update_layout(
        title="Predicted lift over control (90% interval)",
        xaxis_title="Lift (percentage points)", yaxis_title="Variant", legend_title_text="Segment",
    )
    return fig
