"""What the Results page shows, as plain frames."""

from __future__ import annotations


import numpy as np
import pandas as pd

from core.learning.experiments import Readout


def readout_table(result: Readout) -> pd.DataFrame:
    """The readout as a table for people: rates and lifts in percent, intervals as text."""
    t = result.table
    pct = lambda v: "" if pd.isna(v) else f"{v * 100:.2f}"  # noqa: E731
    span = lambda lo, hi: "" if pd.isna(lo) else f"{lo * 100:.2f} to {hi * 100:.2f}"  # noqa: E731
    return pd.DataFrame(
        {
            "Segment": t["segment_name"],
            "Arm": t["variant_id"].astype(str) + np.where(t["is_control"], " (control)", ""),
            "Sends": t["sends"],
            "Conversions": t["conversions"],
            "Rate %": [pct(v) for v in t["rate"]],
            "95% interval": [span(a, b) for a, b in zip(t["rate_low"], t["rate_high"])],
            "Lift pts": [pct(v) for v in t.get("lift_pts", pd.Series(np.nan, index=t.index))],
            "Lift interval": [span(a, b) for a, b in zip(t.get("decision_low", t["rate_low"] * np.nan),
                                                          t.get("decision_high", t["rate_low"] * np.nan))],
            "Relative lift %": [pct(v) for v in t.get("lift_rel", pd.Series(np.nan, index=t.index))],
            "p (Holm)": [("" if pd.isna(v) else f"{v:.3f}") for v in t.get("p_holm", pd.Series(np.nan, index=t.index))],
            "P(best)": t["prob_best"].round(3),
            "Revenue / send": t["revenue_per_send"].round(3),
            "Revenue interval": [
                "" if pd.isna(a) else f"{a:.3f} to {b:.3f}" for a, b in zip(t["revenue_low"], t["revenue_high"])
            ],
        }
    )
