"""Predicted vs observed: predictive intervals, coverage, reliability curve and drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.intervals import beta_from_interval
from core.learning.trust import (
    add_observed,
    coverage,
    drift_check,
    predictive_interval,
    recent_window,
    reliability_curve,
)


def test_beta_from_interval_matches_mean_and_spread():
    # rate 0.05, 90% interval 0.04-0.06: sd = 0.02 / (2 * 1.6449) = 0.006079
    # k = 0.05 * 0.95 / 0.006079^2 - 1 = 1284.4; alpha = 64.2, beta = 1220.2
    a, b = beta_from_interval(0.05, 0.04, 0.06)
    assert a / (a + b) == pytest.approx(0.05)
    assert a + b == pytest.approx(1284.4, rel=1e-3)
    a, b = beta_from_interval(0.05, 0.04, 0.06, max_pseudo=100)
    assert a + b == pytest.approx(100)


def test_predictive_interval_adds_sampling_noise():
    lo, hi = predictive_interval(0.05, 0.049, 0.051, sends=1000)
    # Model sd 0.002 / 3.29 = 0.0006 (0.6 conversions) next to binomial sd sqrt(1000 * 0.05 * 0.95) = 6.89:
    # 50 +- 1.645 * 6.92 = 38.6-61.4 conversions (the discrete quantiles land on 38 and 63, a right skew).
    assert lo == pytest.approx(0.0386, abs=0.002) and hi == pytest.approx(0.0614, abs=0.002)
    lo_big, hi_big = predictive_interval(0.05, 0.049, 0.051, sends=1_000_000)
    assert hi_big - lo_big < hi - lo


def _cells(rng, n_cells: int, shift: float) -> pd.DataFrame:
    """Cells whose true rate lies in the model's interval; ``shift`` moves the world away from it."""
    rate = rng.uniform(0.02, 0.08, n_cells)
    sd = 0.004
    truth = np.clip(rng.normal(rate, sd) + shift, 0.001, 0.999)
    sends = rng.integers(2000, 6000, n_cells)
    return pd.DataFrame(
        {
            "pred_rate": rate, "pred_low": rate - 1.645 * sd, "pred_high": rate + 1.645 * sd,
            "sends": sends, "conversions": rng.binomial(sends, truth),
            "model_version": np.where(np.arange(n_cells) < n_cells // 2, 1, 2),
        }
    )


def test_honest_model_covers_about_90_percent_and_no_drift():
    data = add_observed(_cells(np.random.default_rng(0), 250, 0.0))
    share = data["inside"].mean()
    assert 0.85 <= share <= 0.96
    by_version = coverage(data)
    assert list(by_version["model_version"]) == [1, 2] and by_version["cells"].sum() == 250
    report = drift_check(data)
    assert not report.drifting and "No sign of drift" in report.message


def test_shifted_world_is_flagged_as_drift():
    report = drift_check(_cells(np.random.default_rng(1), 120, 0.015))
    assert report.drifting
    assert report.share_outside > 0.3
    assert report.message.startswith("Drift:")
    assert "all 120 measured results" in report.message  # no strategy ids: the whole frame is the window


def _strategies(rng, shifts: list[float], cells_each: int = 40) -> pd.DataFrame:
    """One block of cells per strategy, measured a week apart, each with its own shift of the world."""
    parts = []
    for i, shift in enumerate(shifts):
        part = _cells(rng, cells_each, shift)
        part["strategy_id"] = f"S{i + 1}"
        part["measured_at"] = pd.Timestamp("2026-01-05") + pd.Timedelta(weeks=i)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def test_recent_window_takes_the_newest_strategies_whatever_the_row_order():
    frame = _strategies(np.random.default_rng(2), [0.0] * 5, cells_each=2).sample(frac=1, random_state=0)
    window, words = recent_window(frame, 2)
    assert set(window["strategy_id"]) == {"S4", "S5"} and len(window) == 4
    assert words == "the 2 most recently measured strategies of 5, sent 2026-01-26 to 2026-02-02"
    everything, words = recent_window(frame, 9)
    assert len(everything) == 10 and words.startswith("all 5 measured strategies")
    with pytest.raises(ValidationError):
        recent_window(frame, 0)


def test_drift_in_recent_strategies_is_flagged_though_old_ones_were_fine():
    # Four strategies where the model held, then three where the world moved by +1.5 pts.
    data = add_observed(_strategies(np.random.default_rng(3), [0.0] * 4 + [0.015] * 3))
    report = drift_check(data, recent=3)
    assert report.drifting and report.cells == 120
    assert report.message.startswith("Drift: in the 3 most recently measured strategies of 7")
    assert "2026-02-02 to 2026-02-16" in report.message  # the window's send dates, S5-S7


def test_old_drift_that_recent_results_no_longer_show_is_not_flagged():
    # The reverse: the world had moved in the first three strategies; the model (retrained) holds again.
    data = add_observed(_strategies(np.random.default_rng(4), [0.015] * 3 + [0.0] * 4))
    assert drift_check(data, recent=None).drifting  # over every result, the old misses would still alarm
    report = drift_check(data, recent=3)
    assert not report.drifting and report.cells == 120
    assert report.message.startswith("No sign of drift in the 3 most recently measured strategies of 7")


def test_drift_check_on_nothing():
    assert not drift_check(pd.DataFrame()).drifting


def test_reliability_curve_pools_by_bin():
    frame = pd.DataFrame(
        {"pred_rate": [0.01, 0.01, 0.05, 0.05], "sends": [100, 300, 200, 200], "conversions": [2, 2, 10, 14]}
    )
    curve = reliability_curve(frame, bins=2)
    assert list(curve["observed"]) == pytest.approx([4 / 400, 24 / 400])
    assert list(curve["predicted"]) == pytest.approx([0.01, 0.05])


def test_coverage_chart_labels_versions_and_keeps_unversioned_strategies():
    import pandas as pd

    from core.learning.charts import coverage_chart

    cov = pd.DataFrame({"model_version": [2.0, float("nan")], "cells": [4, 3], "inside": [4, 2],
                        "coverage": [1.0, 2 / 3]})
    bars = coverage_chart(cov).data[0]
    assert list(bars.x) == ["v2", "no model version"]
    assert [round(y, 1) for y in bars.y] == [100.0, 66.7]
