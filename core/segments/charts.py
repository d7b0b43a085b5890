"""Plotly figures for the Segments page. Each takes a tidy frame and returns a figure."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.charts import require_columns
from core.segments.profile import SegmentProfile


def share_bar_chart(frame: pd.DataFrame, dimension: str, title: str, label: str) -> go.Figure:
    """Grouped bars: share of each group's users per value of ``dimension`` (segment vs base)."""
    require_columns(frame, [dimension, "group", "share", "users"])
    fig = px.bar(
        frame, x=dimension, y="share", color="group", barmode="group", title=title,
        hover_data={"users": ":,"},
        labels={dimension: label, "share": "Share of users", "group": ""},
    )
    fig.update_yaxes(tickformat=".0%")
    return fig


def rfm_chart(frame: pd.DataFrame) -> go.Figure:
    return share_bar_chart(frame, "rfm_group", "RFM groups: segment vs all customers", "RFM group")


def response_chart(frame: pd.DataFrame) -> go.Figure:
    """Past campaign open/click/conversion rates by channel, segment vs all customers."""
    require_columns(frame, ["channel", "metric", "group", "rate", "sends"])
    if frame.empty:
        fig = go.Figure()
        fig.update_layout(title="Past campaign response: no sends before this date")
        return fig
    fig = px.bar(
        frame, x="metric", y="rate", color="group", barmode="group", facet_col="channel",
        hover_data={"sends": ":,"}, title="Past campaign response by channel",
        labels={"metric": "", "rate": "Rate (share of sends)", "group": "", "channel": "Channel"},
    )
    fig.update_yaxes(tickformat=".0%")
    return fig


def size_history_chart(frame: pd.DataFrame, name: str) -> go.Figure:
    """Members at each month start of the last months (line), share of all users on hover."""
    require_columns(frame, ["as_of", "members", "share"])
    fig = px.line(
        frame, x="as_of", y="members", markers=True, title=f"Size of '{name}' over the last months",
        hover_data={"share": ":.1%"}, labels={"as_of": "As of", "members": "Members (users)"},
    )
    fig.update_yaxes(rangemode="tozero")
    return fig


def index_chart(frame: pd.DataFrame) -> go.Figure:
    """Compare segments: each metric as an index against all customers (100 = same as base)."""
    require_columns(frame, ["metric", "group", "index_vs_base"])
    data = frame[frame["metric"] != "Customers"]
    fig = px.bar(
        data, y="metric", x="index_vs_base", color="group", barmode="group", orientation="h",
        title="Segments compared (index, all customers = 100)",
        labels={"metric": "", "index_vs_base": "Index vs all customers (100 = same)", "group": ""},
    )
    fig.add_vline(x=100, line_dash="dot", line_color="grey")
    return fig


def overlap_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Share of row segment's members who are also in the column segment."""
    require_columns(frame, ["a", "b", "both", "share_of_a"])
    order = list(dict.fromkeys(frame["a"]))
    grid = frame.pivot(index="a", columns="b", values="share_of_a").reindex(index=order, columns=order)
    counts = frame.pivot(index="a", columns="b", values="both").reindex(index=order, columns=order)
    fig = go.Figure(go.Heatmap(
        z=grid.values, x=order, y=order, zmin=0, zmax=1, colorscale="Blues",
        customdata=counts.values, colorbar={"title": "Share", "tickformat": ".0%"},
        hovertemplate="%{customdata:,} of '%{y}' are also in '%{x}' (%{z:.0%})<extra></extra>",
    ))
    fig.update_layout(title="Overlap: share of the row segment also in the column segment",
                      xaxis_title="Also in", yaxis_title="Members of")
    return fig


def profile_figures(profile: SegmentProfile) -> list[tuple[str, go.Figure]]:
    """The profile's six figures with a short name each, in reading order (two per row on the page)."""
    return [
        ("rfm", rfm_chart(profile.rfm)),
        ("categories", share_bar_chart(profile.categories, "category", "Favourite categories", "Category")),
        ("devices", share_bar_chart(profile.devices, "device", "Device mix", "Device")),
        ("regions", share_bar_chart(profile.regions, "region", "Region mix", "Region")),
        ("response", response_chart(profile.response)),
        ("history", size_history_chart(profile.size_history, profile.name)),
    ]
