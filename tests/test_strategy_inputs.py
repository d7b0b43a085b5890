"""Frequency guard counts, manual-share parsing and the strategy charts."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from core.errors import ValidationError
from core.strategy.charts import allocation_chart, expected_conversions_chart, lift_chart
from core.strategy.frames import outcome_frame, segment_frame
from core.strategy.inputs import average_order_value, message_counts, parse_manual_shares
from core.strategy.plan import PlanSettings
from core.strategy.records import save_strategy, set_status
from tests.strategy_helpers import simple_plan


def test_message_counts_add_past_exposures_and_other_active_plans(store):
    settings = PlanSettings(send_date="2026-03-10", window_days=7)
    rows = [("u1", "2026-03-05"), ("u1", "2026-03-09"), ("u2", "2026-03-10 18:00"), ("u3", "2026-02-01")]
    for uid, ts in rows:
        store.execute("INSERT INTO exposures (user_id, variant_id, sent_at, converted) VALUES (?, 'x', ?, false)", [uid, ts])
    other = simple_plan()
    other = replace(other, settings=replace(other.settings, send_date="2026-03-12"))
    rec = save_strategy(store, other)
    members = {"Seg A": ["u1", "u4"]}
    members_of = lambda ref: members[ref.name]  # noqa: E731
    assert message_counts(store, settings, members_of=members_of) == {"u1": 2, "u2": 1}  # draft: not active
    set_status(store, rec.strategy_id, "submitted")
    assert message_counts(store, settings, members_of=members_of) == {"u1": 3, "u2": 1, "u4": 1}
    assert message_counts(store, settings, members_of=members_of, exclude_strategy_id=rec.strategy_id) == {"u1": 2, "u2": 1}
    far = PlanSettings(send_date="2026-04-30", window_days=7)
    assert message_counts(store, far, members_of=members_of) == {}


def test_parse_manual_shares_reads_percentages_and_names_problems():
    assert parse_manual_shares("v1=45, v2 = 45%", ["v1", "v2"]) == {"v1": 0.45, "v2": 0.45}
    with pytest.raises(ValidationError) as err:
        parse_manual_shares("v1=abc; v9=10", ["v1", "v2"])
    assert len(err.value.problems) == 2 and "v9" in err.value.problems[1]


def test_average_order_value_ignores_non_buyers():
    frame = pd.DataFrame({"avg_order_value": [0.0, None, 30.0, 50.0]})
    assert average_order_value(frame) == 40.0
    assert average_order_value(pd.DataFrame({"user_id": ["a"]})) == 0.0


def test_charts_have_titles_axes_and_intervals():
    plan = simple_plan()
    conv = expected_conversions_chart(segment_frame(plan))
    assert "Expected conversions" in conv.layout.title.text and conv.layout.yaxis.title.text
    bar = conv.data[0]
    assert bar.y[0] == pytest.approx(plan.segments[0].total("conversions"))
    assert bar.error_y.array[0] == pytest.approx(plan.segments[0].total("conversions_high") - bar.y[0])
    alloc = allocation_chart(outcome_frame(plan))
    assert sum(sum(t.x) for t in alloc.data) == pytest.approx(100.0)
    lift = lift_chart(outcome_frame(plan))
    assert {p for t in lift.data for p in t.y} == {"v1", "v2"}
    with pytest.raises(ValidationError):
        allocation_chart(pd.DataFrame({"segment": []}))
