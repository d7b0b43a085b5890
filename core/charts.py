"""Plotly figures for the pages. Each function takes a tidy frame and returns a figure."""

from __future__ import annotations

import pandas as pd

from core.errors import ValidationError


def require_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValidationError(f"chart data lacks columns: {', '.join(missing)}")
