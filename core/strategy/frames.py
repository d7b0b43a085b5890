"""A plan as tidy frames and totals: one row per segment x arm, one per segment, and the plan's sums."""

from __future__ import annotations

import pandas as pd

from core.strategy.plan import Plan, sum_if_all_known


def plan_totals(plan: Plan) -> dict[str, float | None]:
    """Sends, conversions, revenue and incremental conversions summed over segments (with intervals).

    Interval ends are summed, which treats model errors as fully correlated across
    segments: wider than independent errors would give, never narrower.
    """
    out: dict[str, float | None] = {"sends": float(sum(s.audience for s in plan.segments))}
    for attr in ("conversions", "conversions_low", "conversions_high", "revenue", "revenue_low", "revenue_high"):
        out[attr] = sum_if_all_known([s.total(attr) for s in plan.segments])
    for attr in ("incremental", "incremental_low", "incremental_high"):
        out[attr] = sum_if_all_known([getattr(s, attr) for s in plan.segments])
    return out


def outcome_frame(plan: Plan) -> pd.DataFrame:
    """One row per segment x arm: tidy input for tables and charts."""
    rows = []
    for seg in plan.segments:
        for arm in seg.arms:
            rows.append({
                "segment_id": seg.segment.segment_id, "segment": seg.segment.name,
                "variant_id": arm.variant_id, "is_control": arm.is_control, "channel": arm.channel,
                "copy_text": arm.copy_text, "share": arm.share, "sends": arm.sends,
                "rate": arm.rate, "rate_low": arm.low, "rate_high": arm.high,
                "lift_pts": arm.lift_pts, "lift_low": arm.lift_low, "lift_high": arm.lift_high,
                "conversions": arm.conversions, "conversions_low": arm.conversions_low,
                "conversions_high": arm.conversions_high, "revenue": arm.revenue,
                "do_not_send": seg.do_not_send,
            })
    return pd.DataFrame(rows)


def segment_frame(plan: Plan) -> pd.DataFrame:
    """One row per segment with totals, incremental conversions and flags."""
    return pd.DataFrame([
        {
            "segment": s.segment.name, "members": s.members, "audience": s.audience,
            "over_frequency": s.over_frequency, "excluded": len(s.excluded_user_ids),
            "avg_order_value": s.avg_order_value, "conversions": s.total("conversions"),
            "conversions_low": s.total("conversions_low"), "conversions_high": s.total("conversions_high"),
            "revenue": s.total("revenue"), "incremental": s.incremental,
            "incremental_low": s.incremental_low, "incremental_high": s.incremental_high,
            "do_not_send": s.do_not_send, "reason": s.reason,
            "sample_size_ok": None if s.sample_size is None else s.sample_size.enough,
        }
        for s in plan.segments
    ])
