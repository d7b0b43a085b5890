"""Allocation maths: shares plus holdout sum to 1, the Thompson floor holds, seeds repeat."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ValidationError
from core.intervals import beta_from_interval
from core.strategy.allocation import best_allocation, manual_allocation, thompson_allocation
from core.strategy.plan import PlanSettings, allocate, split_sends
from tests.strategy_helpers import pred


def test_best_sends_all_treated_traffic_to_top_variant():
    shares = best_allocation([0.02, 0.05, 0.03], holdout=0.1)
    assert shares.tolist() == pytest.approx([0.0, 0.9, 0.0])


def test_thompson_shares_sum_with_holdout_and_respect_floor():
    shares = thompson_allocation([20, 30, 5], [980, 970, 995], floor=0.01, holdout=0.1, seed=1, draws=5000)
    assert shares.sum() + 0.1 == pytest.approx(1.0)
    assert shares.min() >= 0.01 - 1e-12
    assert shares.argmax() == 1  # clearly the best arm
    assert shares[2] == pytest.approx(0.01, abs=1e-3)  # hopeless arm sits on the floor


def test_thompson_is_deterministic_with_a_seed_and_varies_without():
    a = thompson_allocation([10, 11], [990, 989], seed=5, draws=2000)
    b = thompson_allocation([10, 11], [990, 989], seed=5, draws=2000)
    c = thompson_allocation([10, 11], [990, 989], seed=6, draws=2000)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_thompson_floor_too_big_is_refused():
    with pytest.raises(ValidationError, match="minimum share"):
        thompson_allocation([1, 1, 1], [1, 1, 1], floor=0.4, holdout=0.1)


def test_beta_from_interval_matches_mean_and_spread():
    a, b = beta_from_interval(0.05, 0.04, 0.06)
    mean = a / (a + b)
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    assert mean == pytest.approx(0.05)
    assert sd == pytest.approx(0.02 / (2 * 1.6448536), rel=1e-3)


def test_manual_shares_must_add_up_with_holdout():
    assert manual_allocation([0.45, 0.45], 0.1).sum() == pytest.approx(0.9)
    with pytest.raises(ValidationError, match="not 100%") as err:
        manual_allocation([0.5, 0.5], 0.1, ["v1", "v2"])
    assert "90.0%" in str(err.value)
    with pytest.raises(ValidationError, match="v1"):
        manual_allocation([-0.1, 1.0], 0.1, ["v1", "v2"])


def test_allocate_modes_from_predictions():
    preds = [pred("v1", 0.03, 0.025, 0.035), pred("v2", 0.025, 0.02, 0.03)]
    best = allocate(preds, PlanSettings(mode="best"))
    assert best.tolist() == pytest.approx([0.9, 0.0])
    explore = allocate(preds, PlanSettings(mode="explore", floor=0.05, seed=3, draws=3000))
    assert explore.sum() == pytest.approx(0.9) and explore.min() >= 0.05 and explore[0] > explore[1]
    manual = allocate(preds, PlanSettings(mode="manual"), {"v1": 0.3, "v2": 0.6})
    assert manual.tolist() == pytest.approx([0.3, 0.6])
    with pytest.raises(ValidationError, match="lacks a share for v2"):
        allocate(preds, PlanSettings(mode="manual"), {"v1": 0.9})


def test_split_sends_is_whole_and_exact():
    sends = split_sends(1001, [0.1, 0.45, 0.45])
    assert sum(sends) == 1001 and sends[0] == 100


def test_settings_are_validated():
    with pytest.raises(ValidationError, match="holdout"):
        PlanSettings(holdout=0.0)
    with pytest.raises(ValidationError, match="mode"):
        PlanSettings(mode="yolo")
