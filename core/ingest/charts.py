"""Figures for the Data page."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.charts import require_columns


def events_per_day_chart(frame: pd.DataFrame) -> go.Figure:
    """Stacked daily event counts by type."""
    require_columns(frame, ["day", "event_type", "events"])
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
