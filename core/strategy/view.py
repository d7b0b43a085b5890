"""What the Strategy page shows about a plan, computed here so the page stays a short script.

Headline figures formatted for people (counts, money with its currency sign),
the notes a planner must read (do-not-send verdicts, sample sizes, thin data,
the frequency cap), and the per-arm table with rates and lifts in percent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.number_format import DEFAULT_CURRENCY, Headline, count, money
from core.strategy.frames import outcome_frame, plan_totals
from core.strategy.plan import Plan

MODE_LABELS = {"best": "Best predicted", "explore": "Explore (Thompson sampling)", "manual": "Manual shares"}


@dataclass(frozen=True)
class Note:
    """A message for the planner; ``level`` is ``warning``, ``info`` or ``caption``."""

    level: str
    text: str
    icon: str | None = None


def headlines(plan: Plan, currency: str = DEFAULT_CURRENCY) -> list[Headline]:
    """Sends, expected and incremental conversions, expected revenue, with their 90% intervals."""
    t = plan_totals(plan)
    return [
        Headline("Sends", count(t["sends"])),
        Headline("Expected conversions", count(t["conversions"]),
                 f"90% interval {count(t['conversions_low'])} to {count(t['conversions_high'])}"),
        Headline("Incremental over control", count(t["incremental"]),
                 f"90% interval {count(t['incremental_low'])} to {count(t['incremental_high'])}"),
        Headline("Expected revenue", money(t["revenue"], currency),
                 f"90% interval {money(t['revenue_low'], currency)} to {money(t['revenue_high'], currency)}"),
    ]


def plan_notes(plan: Plan) -> list[Note]:
    """Verdicts and warnings per segment, in the order a planner should read them."""
    notes: list[Note] = []
    for seg in plan.segments:
        name = seg.segment.name
        if seg.do_not_send:
            notes.append(Note("warning", f"Do not send to {name}. {seg.reason}", "🛑"))
        elif seg.reason:
            notes.append(Note("info", f"{name}: {seg.reason}"))
        if seg.sample_size is not None and not seg.sample_size.enough and not seg.do_not_send:
            notes.append(Note("warning", f"{name}: {seg.sample_size.message}", "📏"))
        thin = [a.variant_id for a in seg.arms if a.thin_data]
        if thin:
            notes.append(Note("caption", f"{name}: predictions for {', '.join(thin)} rest on little comparable data."))
        if seg.over_frequency:
            done = "excluded" if seg.excluded_user_ids else "not excluded (tick the box to exclude them)"
            notes.append(Note("caption", f"{name}: {seg.over_frequency:,} users would get more than "
                                         f"{plan.settings.max_messages} messages in {plan.settings.window_days} "
                                         f"days; {done}."))
    return notes


PERCENT_COLUMNS = ("share", "rate", "rate_low", "rate_high")
POINT_COLUMNS = ("lift_pts", "lift_low", "lift_high")


def arms_table(plan: Plan) -> pd.DataFrame:
    """One row per segment x arm for people: shares and rates in percent, lifts in percentage points."""
    frame = outcome_frame(plan).drop(columns=["segment_id"])
    for col in (*PERCENT_COLUMNS, *POINT_COLUMNS):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") * 100
    return frame
