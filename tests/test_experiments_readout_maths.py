"""Readout maths against numbers worked out by hand (the working is in the comments)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.learning.experiments import (
    aggregate_revenue_per_send,
    beta_posterior,
    bootstrap_revenue_per_send,
    confidence_sequence,
    holm_adjust,
    newcombe_interval,
    prob_beats_exact,
    prob_best,
    readout,
    relative_lift_interval,
    two_proportion_z_test,
    wilson_interval,
)

# Control 100 of 1000 (10%), variant 130 of 1000 (13%); z = 1.959964, z^2 = 3.841459.


def test_wilson_interval_by_hand():
    # centre = (0.1 + 3.841459/2000) / (1 + 3.841459/1000) = 0.101531
    # half   = 1.959964 * sqrt(0.09/1000 + 3.841459/4e6) / 1.003841 = 0.018621
    lo, hi = wilson_interval(100, 1000)
    assert lo == pytest.approx(0.08291, abs=2e-5)
    assert hi == pytest.approx(0.12015, abs=2e-5)


def test_wilson_interval_edges():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(0, 50)
    assert lo == pytest.approx(0.0, abs=1e-12) and 0 < hi < 0.08  # z^2/(n+z^2) = 3.84/53.84 = 0.0713
    assert hi == pytest.approx(0.0713, abs=1e-4)
    with pytest.raises(ValidationError):
        wilson_interval(5, 3)


def test_two_proportion_z_test_by_hand():
    # pooled = 230/2000 = 0.115; se = sqrt(0.115 * 0.885 * (2/1000)) = 0.014267
    # z = 0.03 / 0.014267 = 2.1027; p = 2 * (1 - Phi(2.1027)) = 0.0355
    z, p = two_proportion_z_test(100, 1000, 130, 1000)
    assert z == pytest.approx(2.1027, abs=1e-3)
    assert p == pytest.approx(0.0355, abs=5e-4)


def test_newcombe_interval_by_hand():
    # Wilson(130/1000) = (0.110571, 0.152275); Wilson(100/1000) = (0.082909, 0.120152)
    # low  = 0.03 - sqrt((0.13 - 0.110571)^2 + (0.120152 - 0.1)^2) = 0.03 - 0.027992 = 0.002008
    # high = 0.03 + sqrt((0.152275 - 0.13)^2 + (0.1 - 0.082909)^2) = 0.03 + 0.028076 = 0.058076
    lo, hi = newcombe_interval(100, 1000, 130, 1000)
    assert lo == pytest.approx(0.00201, abs=5e-5)
    assert hi == pytest.approx(0.05808, abs=5e-5)


def test_relative_lift_interval_by_hand():
    # ratio 1.3; se(log) = sqrt(1/130 - 1/1000 + 1/100 - 1/1000) = 0.125269
    # exp(ln 1.3 -+ 1.959964 * 0.125269) - 1 = (0.01698, 0.66178)
    rel, lo, hi = relative_lift_interval(100, 1000, 130, 1000)
    assert rel == pytest.approx(0.30)
    assert lo == pytest.approx(0.01698, abs=5e-5)
    assert hi == pytest.approx(0.66178, abs=5e-5)
    assert relative_lift_interval(0, 1000, 5, 1000) == (None, None, None)


def test_holm_by_hand():
    # sorted 0.01*3 = 0.03; 0.03*2 = 0.06; 0.04*1 = 0.04 -> raised to the running max 0.06
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5]) == [0.5]


def test_beta_binomial_update_and_exact_probability():
    assert beta_posterior(3, 10) == (4, 8)
    assert beta_posterior(3, 10, prior_alpha=2, prior_beta=5) == (5, 12)
    # X ~ Beta(2, 1) (density 2x) against Y ~ Uniform: P(X > Y) = int 2x * x dx = 2/3
    assert prob_beats_exact(1, 1, 2, 1) == pytest.approx(2 / 3)
    # Symmetric arms: exactly one half.
    assert prob_beats_exact(5, 20, 5, 20) == pytest.approx(0.5)
    with pytest.raises(ValidationError):
        beta_posterior(11, 10)


def test_prob_best_monte_carlo_matches_exact_and_is_seeded():
    # Arm A: 1 success of 1 -> Beta(2, 1); arm B: no data -> Beta(1, 1). P(A best) = 2/3.
    p = prob_best([1, 0], [1, 0], draws=200_000, seed=1)
    assert p[0] == pytest.approx(2 / 3, abs=0.005)
    assert p.sum() == pytest.approx(1.0)
    exact = prob_beats_exact(1 + 20, 1 + 480, 1 + 30, 1 + 470)  # 30/500 vs 20/500
    mc = prob_best([20, 30], [500, 500], draws=200_000, seed=2)
    assert mc[1] == pytest.approx(exact, abs=0.005)
    np.testing.assert_array_equal(prob_best([3, 4], [50, 50], seed=7), prob_best([3, 4], [50, 50], seed=7))


def test_confidence_sequence_by_hand_and_wider_than_fixed():
    # V = 0.115 * 0.885 * 0.002 = 2.0355e-4; t = 0.25 * 0.115, t^2 = 8.2656e-4
    # half = sqrt(V (V + t^2) / t^2 * (2 ln 20 + ln((V + t^2) / V))) = sqrt(2.5368e-4 * 7.6130) = 0.043947
    lo, hi, p = confidence_sequence(100, 1000, 130, 1000)
    assert lo == pytest.approx(0.03 - 0.043947, abs=5e-5)
    assert hi == pytest.approx(0.03 + 0.043947, abs=5e-5)
    fixed_lo, fixed_hi = newcombe_interval(100, 1000, 130, 1000)
    assert lo < fixed_lo and hi > fixed_hi
    assert 0.05 < p <= 1.0  # significant at a fixed horizon (p=0.035), not yet always-valid


def test_confidence_sequence_rarely_crosses_under_repeated_looks():
    # A/A test looked at 40 times: the always-valid interval should exclude 0 at some look
    # in well under 5% of runs, while the naive z test at every look does so far more often.
    rng = np.random.default_rng(3)
    sims, looks, step, rate = 200, 40, 250, 0.05
    seq_false = naive_false = 0
    for _ in range(sims):
        a = rng.binomial(1, rate, looks * step).cumsum()
        b = rng.binomial(1, rate, looks * step).cumsum()
        seq_hit = naive_hit = False
        for k in range(1, looks + 1):
            n = k * step
            lo, hi, _ = confidence_sequence(int(a[n - 1]), n, int(b[n - 1]), n)
            seq_hit |= lo > 0 or hi < 0
            naive_hit |= two_proportion_z_test(int(a[n - 1]), n, int(b[n - 1]), n)[1] < 0.05
        seq_false += seq_hit
        naive_false += naive_hit
    assert seq_false / sims <= 0.05
    assert naive_false / sims > 0.10


def test_revenue_per_send_bootstrap_and_aggregate():
    values = np.zeros(1000)
    values[:50] = 40.0  # 5% buy at 40 -> 2.00 per send
    mean, lo, hi = bootstrap_revenue_per_send(values, seed=0)
    assert mean == pytest.approx(2.0)
    # se = 40 * sqrt(0.05 * 0.95 / 1000) = 0.2757 -> about 2 -+ 0.54
    assert lo == pytest.approx(2 - 0.54, abs=0.12)
    assert hi == pytest.approx(2 + 0.54, abs=0.12)
    mean, lo, hi = aggregate_revenue_per_send(100, 1000, 5000.0)  # AOV 50, Wilson(100/1000) * 50
    assert mean == 5.0
    assert lo == pytest.approx(0.08291 * 50, abs=1e-3)
    assert hi == pytest.approx(0.12015 * 50, abs=1e-3)


def _arms() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "segment_name": ["Cart abandoners"] * 3 + ["Champions"] * 2,
            "variant_id": ["ctl", "B", "C", "ctl", "B"],
            "sends": [10000, 10000, 10000, 2000, 2000],
            "conversions": [300, 370, 310, 100, 104],
            "revenue": [3000.0, 3700.0, 3100.0, 1000.0, 1040.0],
            "is_control": [True, False, False, True, False],
        }
    )


def test_readout_table_and_manager_summary():
    result = readout(_arms(), labels={"B": "Variant B", "C": "Variant C"})
    t = result.table.set_index(["segment_name", "variant_id"])
    b = t.loc[("Cart abandoners", "B")]
    assert b["lift_pts"] == pytest.approx(0.007)
    assert b["significant"]
    # Holm across B (p ~ 0.0083) and C (p ~ 0.71): B's p doubles.
    assert b["p_holm"] == pytest.approx(2 * b["p_value"])
    assert not t.loc[("Cart abandoners", "C"), "significant"]
    assert not t.loc[("Champions", "B"), "significant"]
    assert result.summary[0].startswith("Variant B beat control by +0.7 pts (0.2-1.2) in Cart abandoners")
    assert result.summary[1] == "No reliable difference from control in Champions."
    assert t.loc[("Cart abandoners", "B"), "prob_best"] > 0.95


def test_readout_before_planned_size_warns_and_uses_always_valid_interval():
    result = readout(_arms(), planned_sends_per_arm=50_000)
    assert any("do not peek" in w for w in result.warnings)
    assert all("interim look" in s for s in result.summary)
    b = result.table.set_index(["segment_name", "variant_id"]).loc[("Cart abandoners", "B")]
    assert b["decision_low"] == b["seq_low"]


def test_readout_refuses_segment_without_one_control():
    arms = _arms()
    arms.loc[3, "is_control"] = False
    with pytest.raises(ValidationError, match="Champions"):
        readout(arms)


def test_readout_bootstraps_revenue_from_user_level_rows():
    arms = _arms().iloc[3:]
    users = pd.DataFrame(
        {
            "segment_name": "Champions",
            "variant_id": ["ctl"] * 2000 + ["B"] * 2000,
            "revenue": np.r_[np.repeat([10.0, 0.0], [100, 1900]), np.repeat([10.0, 0.0], [104, 1896])],
        }
    )
    t = readout(arms, users).table
    assert set(t["revenue_method"]) == {"bootstrap"}
    assert t.loc[t["variant_id"] == "B", "revenue_per_send"].item() == pytest.approx(0.52)
