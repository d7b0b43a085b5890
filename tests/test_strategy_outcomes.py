"""Expected outcomes on a hand-checkable plan, do-not-send flags, sample size and frequency guard."""

from __future__ import annotations

import math

import pytest

from core.errors import NotFoundError, ValidationError
from core.segments.catalog import SegmentRef
from core.strategy.frames import plan_totals
from core.strategy.plan import (
    Plan,
    PlanSettings,
    build_segment_plan,
    over_frequency,
    plan_from_dict,
    plan_to_dict,
    required_sample_size,
    with_allocation,
)
from tests.strategy_helpers import INFO, pred, simple_plan

Z = 1.6448536269514722
REF = SegmentRef("seg-a", 1, "Seg A")


def _best_plan(members=1000, aov=50.0):
    preds = [pred("ctrl", 0.02, 0.018, 0.022, is_control=True), pred("v1", 0.03, 0.025, 0.035)]
    return build_segment_plan(REF, preds, members=members, avg_order_value=aov,
                              settings=PlanSettings(mode="best"), variant_info=INFO)


def test_expected_outcome_by_hand():
    seg = _best_plan()
    ctrl, v1 = seg.arms
    assert (ctrl.sends, v1.sends) == (100, 900)
    assert v1.conversions == pytest.approx(27.0)
    assert v1.conversions_low == pytest.approx(22.5 - Z * math.sqrt(900 * 0.025 * 0.975))
    assert v1.conversions_high == pytest.approx(31.5 + Z * math.sqrt(900 * 0.035 * 0.965))
    assert v1.revenue == pytest.approx(27.0 * 50)
    assert ctrl.conversions == pytest.approx(2.0)
    assert seg.total("conversions") == pytest.approx(29.0)
    # incremental = treated sends x lift (and its interval)
    assert (seg.incremental, seg.incremental_low, seg.incremental_high) == pytest.approx((9.0, 4.5, 13.5))
    assert not seg.do_not_send and v1.copy_text == INFO["v1"]["copy_text"]


def test_plan_totals_sum_segments():
    settings = PlanSettings(mode="best")
    plan = Plan("p", settings, (_best_plan(1000), _best_plan(2000)))
    totals = plan_totals(plan)
    assert totals["sends"] == 3000
    assert totals["conversions"] == pytest.approx(29.0 * 3)
    assert totals["incremental"] == pytest.approx(27.0)


def test_plan_totals_are_unknown_not_partial_when_a_segment_has_no_baseline():
    no_baseline = build_segment_plan(REF, [pred("v1", 0.03, 0.025, 0.035, control_rate=None)], members=100,
                                     avg_order_value=10, settings=PlanSettings())
    totals = plan_totals(Plan("p", PlanSettings(mode="best"), (_best_plan(1000), no_baseline)))
    assert totals["sends"] == 1100
    assert totals["conversions"] is None and totals["revenue_high"] is None and totals["incremental"] is None


def test_do_not_send_when_best_variant_does_not_beat_control():
    preds = [pred("ctrl", 0.03, 0.027, 0.033, is_control=True),
             pred("v1", 0.029, 0.02, 0.04, control_rate=0.03)]
    seg = build_segment_plan(REF, preds, members=500, avg_order_value=40, settings=PlanSettings())
    assert seg.do_not_send and "not predicted to beat control" in seg.reason
    assert seg.sample_size is not None and not seg.sample_size.enough


def test_do_not_send_when_predicted_to_hurt():
    preds = [pred("ctrl", 0.05, 0.048, 0.052, is_control=True),
             pred("v1", 0.02, 0.015, 0.025, control_rate=0.05)]
    seg = build_segment_plan(REF, preds, members=500, avg_order_value=40, settings=PlanSettings())
    assert seg.do_not_send and seg.reason.startswith("Predicted to hurt")
    assert seg.incremental < 0


def test_no_control_means_no_lift_and_no_flag():
    preds = [pred("v1", 0.03, 0.025, 0.035, control_rate=None)]
    seg = build_segment_plan(REF, preds, members=100, avg_order_value=10, settings=PlanSettings())
    assert seg.control.variant_id == "control" and seg.control.conversions is None
    assert seg.incremental is None and not seg.do_not_send and "cannot be estimated" in seg.reason


def test_no_control_copy_uses_the_historical_baseline_from_predictions():
    # the predictor gave lift against the segment's historical rate (2%) rather than a control copy
    preds = [pred("v1", 0.03, 0.025, 0.035, control_rate=0.02), pred("v2", 0.015, 0.01, 0.018, control_rate=0.02)]
    seg = build_segment_plan(REF, preds, members=1000, avg_order_value=10, settings=PlanSettings(mode="best"))
    assert seg.control.variant_id == "control" and seg.control.rate == pytest.approx(0.02)
    assert seg.control.conversions == pytest.approx(2.0) and seg.incremental == pytest.approx(9.0)
    assert not seg.do_not_send and "historical rate" in seg.reason


def test_required_sample_size_matches_textbook():
    # 5% vs 6%, equal groups, 80% power, alpha 0.05: ~8,158 per group (standard tables)
    assert required_sample_size(0.05, 0.06) == (8158, 8158)
    n_c, n_v = required_sample_size(0.02, 0.03, ratio=9)
    assert n_v == math.ceil(n_c * 9) and n_c < 8158 * 2
    assert required_sample_size(0.05, 0.05) is None


def test_sample_size_warning_on_small_audience():
    small, big = _best_plan(members=1000), _best_plan(members=200_000)
    assert not small.sample_size.enough and "too small" in small.sample_size.message
    assert big.sample_size.enough


def test_frequency_guard_counts_users_over_the_cap():
    counts = {"u1": 2, "u2": 3, "u3": 0}
    assert over_frequency(counts, ["u1", "u2", "u3", "u4"], max_messages=3) == ["u2"]
    assert over_frequency(counts, ["u1", "u2", "u3"], max_messages=2) == ["u1", "u2"]


def test_excluded_users_shrink_the_audience():
    preds = [pred("ctrl", 0.02, 0.018, 0.022, is_control=True), pred("v1", 0.03, 0.025, 0.035)]
    seg = build_segment_plan(REF, preds, members=1000, avg_order_value=50, settings=PlanSettings(),
                             over_frequency=100, excluded_user_ids=[f"u{i}" for i in range(100)])
    assert seg.audience == 900 and sum(a.sends for a in seg.arms) == 900


def test_with_allocation_recomputes_outcomes_and_roundtrips():
    plan = simple_plan()
    new = with_allocation(plan, "Seg A", {"v1": 0.2, "v2": 0.7})
    assert [a.share for a in new.segments[0].variants] == pytest.approx([0.2, 0.7])
    assert new.segments[0].arms[2].sends == 700
    assert plan_from_dict(plan_to_dict(new)) == new
    with pytest.raises(NotFoundError):
        with_allocation(plan, "nope", {})
    with pytest.raises(ValidationError):
        with_allocation(plan, "Seg A", {"v1": 0.5, "v2": 0.5})
