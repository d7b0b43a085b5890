"""Scores for predicted probabilities: AUC, log loss, Brier score, calibration error.

All take sample weights, because aggregate rows stand for many sends. The
expected calibration error uses equal-weight bins (quantiles of the
prediction): with conversion rates of a few percent, equal-width bins would put
nearly every row in the first bin and make any model look calibrated.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None,
                               n_bins: int = 20) -> float:
    """Weighted mean |observed rate - mean prediction| over ``n_bins`` equal-weight bins."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    w = np.ones_like(p) if w is None else np.asarray(w, float)
    order = np.argsort(p, kind="stable")
    cw = np.cumsum(w[order])
    total = cw[-1]
    bins = np.minimum((cw - w[order] / 2) / total * n_bins, n_bins - 1e-9).astype(int)
    err = 0.0
    for b in range(n_bins):
        m = bins == b
        ww = w[order][m]
        if not ww.sum():  # empty, or only zero-weight rows (an arm with no conversions yet): nothing to weigh
            continue
        err += ww.sum() / total * abs(np.average(y[order][m], weights=ww) - np.average(p[order][m], weights=ww))
    return float(err)


def binary_metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray | None = None) -> dict:
    """AUC, log loss, Brier score, ECE, base rate and mean prediction (weighted)."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    w = np.ones_like(p) if w is None else np.asarray(w, float)
    out: dict[str, float | None] = {
        "rows": int(len(y)),
        "weight": float(w.sum()),
        "base_rate": float(np.average(y, weights=w)),
        "mean_prediction": float(np.average(p, weights=w)),
        "log_loss": float(log_loss(y, p, sample_weight=w, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p, sample_weight=w)),
        "ece": expected_calibration_error(y, p, w),
    }
    out["auc"] = float(roc_auc_score(y, p, sample_weight=w)) if len(np.unique(y)) == 2 else None
    return out


def regression_metrics(y: np.ndarray, pred: np.ndarray, w: np.ndarray | None = None) -> dict:
    """Weighted RMSE, mean target and mean prediction (revenue per send)."""
    y, pred = np.asarray(y, float), np.asarray(pred, float)
    w = np.ones_like(y) if w is None else np.asarray(w, float)
    return {
        "rows": int(len(y)),
        "weight": float(w.sum()),
        "mean_target": float(np.average(y, weights=w)),
        "mean_prediction": float(np.average(pred, weights=w)),
        "rmse": float(np.sqrt(np.average((y - pred) ** 2, weights=w))),
    }
