"""Plotly figures for the pages. Each function takes a tidy frame and returns a figure."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.errors import ValidationError


def _require(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"chart data lacks columns: {', '.join(missing)}")


def events_per_day_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked daily event counts by type."""
    _require(frame, ["day", "event_type", "events"])
    fig = px.area(
        frame,
        x="day",
        y="events",
        color="event_type",
        title="Events per day by type",
        labels={"day": "Day", "events": "Events per day", "event_type": "Event type"},
    )
    fig.update_layout(legend_title_text="Event type", hovermode="x unified")
    return fig
