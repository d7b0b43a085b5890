"""Did the predictions deserve trust? Predicted against observed conversion.

Works on a tidy "trust frame": one row per measured strategy x segment x
variant with the predicted rate and its 90% model interval (``pred_rate,
pred_low, pred_high``), the model version that made it, and the observed
``sends`` and ``conversions``. An observed rate carries sampling noise the
model interval does not, so the interval we check it against is the
*predictive* one: the Beta distribution matching the model interval, pushed
through a Binomial of the actual send size (a Beta-Binomial). If the model is
honest, about 90% of observed rates land inside; far fewer among the recent
results (the drift window: the last few measured strategies) means the world
has moved away from what the model learned (drift).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from core.errors import ValidationError
from core.intervals import beta_from_interval
from core.learning.experiments import wilson_interval

TRUST_COLUMNS = ("pred_rate", "pred_low", "pred_high", "sends", "conversions")


def predictive_interval(
    rate: float, low: float, high: float, sends: int, level: float = 0.90
) -> tuple[float, float]:
    """Interval for the *observed* rate of ``sends`` messages: model uncertainty plus sampling noise."""
    if sends <= 0:
        return 0.0, 1.0
    a, b = beta_from_interval(rate, low, high)
    dist = stats.betabinom(int(sends), a, b)
    tail = (1 - level) / 2
    return float(dist.ppf(tail)) / sends, float(dist.ppf(1 - tail)) / sends


def add_observed(frame: pd.DataFrame, level: float = 0.90) -> pd.DataFrame:
    """Add observed rate, its Wilson interval, the predictive interval and an ``inside`` flag."""
    missing = [c for c in TRUST_COLUMNS if c not in frame.columns]
    if missing:
        raise ValidationError(f"trust data lacks columns: {', '.join(missing)}")
    out = frame.copy()
    out = out[out["sends"] > 0].reset_index(drop=True)
    out["obs_rate"] = out["conversions"] / out["sends"]
    wil = [wilson_interval(int(x), int(n)) for x, n in zip(out["conversions"], out["sends"])]
    out["obs_low"] = [w[0] for w in wil]
    out["obs_high"] = [w[1] for w in wil]
    pi = [
        predictive_interval(r, lo, hi, int(n), level)
        for r, lo, hi, n in zip(out["pred_rate"], out["pred_low"], out["pred_high"], out["sends"])
    ]
    out["pi_low"] = [p[0] for p in pi]
    out["pi_high"] = [p[1] for p in pi]
    out["inside"] = (out["obs_rate"] >= out["pi_low"]) & (out["obs_rate"] <= out["pi_high"])
    return out


def coverage(frame: pd.DataFrame, by: str | None = "model_version") -> pd.DataFrame:
    """Share of observed rates inside their predicted 90% interval (overall or per ``by``)."""
    if frame.empty:
        return pd.DataFrame(columns=[by or "group", "cells", "inside", "coverage"])
    data = frame if "inside" in frame.columns else add_observed(frame)
    key = by if by and by in data.columns else None
    groups = data.groupby(key, dropna=False) if key else [("all", data)]
    rows = [
        {key or "group": name, "cells": len(g), "inside": int(g["inside"].sum()), "coverage": float(g["inside"].mean())}
        for name, g in groups
    ]
    return pd.DataFrame(rows)


def reliability_curve(frame: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """Mean predicted vs pooled observed rate in quantile bins of the prediction, weighted by sends."""
    if frame.empty:
        return pd.DataFrame(columns=["bin", "cells", "sends", "predicted", "observed", "obs_low", "obs_high"])
    data = frame.copy()
    n_bins = max(1, min(bins, data["pred_rate"].nunique()))
    data["bin"] = pd.qcut(data["pred_rate"].rank(method="first"), n_bins, labels=False)
    rows = []
    for b, g in data.groupby("bin"):
        sends, conv = int(g["sends"].sum()), int(g["conversions"].sum())
        lo, hi = wilson_interval(conv, sends)
        rows.append(
            {
                "bin": int(b),
                "cells": len(g),
                "sends": sends,
                "predicted": float(np.average(g["pred_rate"], weights=g["sends"])),
                "observed": conv / sends,
                "obs_low": lo,
                "obs_high": hi,
            }
        )
    return pd.DataFrame(rows)


# The drift window: the results of this many most recently measured strategies. Older results
# say how the model did then, not whether customers have moved since.
DRIFT_RECENT_STRATEGIES = 3


def recent_window(frame: pd.DataFrame, strategies: int | None = DRIFT_RECENT_STRATEGIES) -> tuple[pd.DataFrame, str]:
    """The cells of the ``strategies`` most recently measured strategies, and words naming that window.

    Needs ``strategy_id`` and ``measured_at`` columns (as ``core.learning.trust_frame``
    gives); without them, or with ``strategies=None``, every row is the window.
    Strategies are ordered by ``measured_at`` (newest first; ties by id).
    """
    if strategies is not None and strategies < 1:
        raise ValidationError(f"the drift window needs at least one strategy, got {strategies}")
    if strategies is None or frame.empty or not {"strategy_id", "measured_at"} <= set(frame.columns):
        return frame, f"all {len(frame)} measured results"
    when = pd.to_datetime(frame.groupby("strategy_id")["measured_at"].max())
    order = sorted(when.index, key=lambda s: (when[s] if pd.notna(when[s]) else pd.Timestamp.min, str(s)),
                   reverse=True)
    keep = order[:strategies]
    window = frame[frame["strategy_id"].isin(keep)]
    dates = when[keep].dropna()
    span = f", sent {dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}" if len(dates) else ""
    if len(order) == 1:
        what = "the only measured strategy"
    elif len(keep) == len(order):
        what = f"all {len(order)} measured strategies"
    else:
        what = (f"the {len(keep)} most recently measured strateg{'y' if len(keep) == 1 else 'ies'} "
                f"of {len(order)}")
    return window, what + span


@dataclass(frozen=True)
class DriftReport:
    """How often recent observed rates fell outside their predicted intervals, against the expected share."""

    cells: int
    outside: int
    expected_share: float
    p_value: float
    drifting: bool
    message: str
    window: str = ""

    @property
    def share_outside(self) -> float:
        return self.outside / self.cells if self.cells else 0.0


def drift_check(frame: pd.DataFrame, level: float = 0.90, alpha: float = 0.01,
                recent: int | None = DRIFT_RECENT_STRATEGIES) -> DriftReport:
    """Flag drift when recent observed rates leave the predicted intervals more often than ``1 - level``.

    Only the window from ``recent_window`` is tested (the ``recent`` most
    recently measured strategies; ``None`` = all). A one-sided binomial test of
    the number of cells outside against the expected share; ``alpha`` is strict
    because a false alarm prompts a retrain.
    """
    expected = 1 - level
    if frame.empty:
        return DriftReport(0, 0, expected, 1.0, False, "No measured results yet, so drift cannot be checked.")
    data = frame if "inside" in frame.columns else add_observed(frame, level)
    data, window = recent_window(data, recent)
    cells = len(data)
    outside = int((~data["inside"]).sum())
    p = float(stats.binomtest(outside, cells, expected, alternative="greater").pvalue)
    drifting = p < alpha
    share = outside / cells
    if drifting:
        msg = (
            f"Drift: in {window}, {outside} of {cells} results ({share:.0%}) fell outside the predicted 90% "
            f"intervals, against about {expected:.0%} expected. Customers' responses have moved; retrain the "
            "predictor and treat current predictions with caution."
        )
    else:
        msg = (
            f"No sign of drift in {window}: {outside} of {cells} results ({share:.0%}) fell outside the "
            f"predicted 90% intervals (about {expected:.0%} expected)."
        )
    return DriftReport(cells, outside, expected, p, drifting, msg, window)
