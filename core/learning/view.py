"""What the Results page shows, as plain values and frames: trust figures, readout tables, labels, captions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.learning import trust
from core.learning.allocation import next_allocation
from core.learning.experiments import Readout
from core.learning.matching import MatchReport, exported_record, plan_frame
from core.learning.results import strategy_results
from core.store import Store

# The page's explanations, kept with the figures they explain.
NO_TRUST_YET = ("No measured strategies yet. Export a strategy, send it, and upload its results below: "
                "this section then shows how close the predictions came.")
UPLOAD_HELP = ("User-level rows (user id, variant, converted, revenue) or aggregate rows (variant, sends, "
               "conversions, revenue), with the strategy id from the export. Unplanned A/B tests are welcome too.")
HELD_OUT_HELP = ("Held-out rows: 'before' is the previous version, 'after' a model trained like the new one but "
                 "without the held-out campaigns, both scored on results neither had seen. The saved version "
                 "learned from everything, held-out results included.")
DRIFT_WINDOW_DEFAULT = trust.DRIFT_RECENT_STRATEGIES


@dataclass(frozen=True)
class TrustView:
    """The trust section: headline metrics, the drift verdict, and the frames its charts draw."""

    metrics: tuple[tuple[str, str, str | None], ...]  # (label, value, help)
    drift: trust.DriftReport
    reliability: pd.DataFrame
    coverage: pd.DataFrame  # per model version


def trust_view(cells: pd.DataFrame, window: int) -> TrustView:
    """What the trust section shows for a trust frame (``trust_frame``), drift read on the ``window`` newest strategies."""
    metrics = (
        ("Measured variant x segment cells", f"{len(cells):,}", None),
        ("Inside the predicted 90% interval", f"{cells['inside'].mean():.0%}", "Should be near 90%."),
        ("Strategies measured", f"{cells['strategy_id'].nunique():,}", None),
    )
    return TrustView(metrics, trust.drift_check(cells, recent=window), trust.reliability_curve(cells),
                     trust.coverage(cells))


def match_warnings(match: MatchReport) -> list[str]:
    """What the readout warns about a strategy's stored results (the "N arms matched" line only when all is well)."""
    if match.ok:
        return []
    return match.messages[1:] if match.strategy_found else match.messages


def strategy_labels(measured: pd.DataFrame) -> dict[str, str]:
    """Strategy id -> "name (id)" for the Strategy box, from ``strategies_with_results``."""
    names = measured["name"].fillna("(unknown strategy)")
    return {sid: f"{name} ({sid})" for sid, name in zip(measured["strategy_id"], names)}


def campaign_labels(campaigns: pd.DataFrame) -> dict[str, str]:
    """Campaign id -> "id name" for the unplanned-campaign box, from ``unplanned_campaigns``."""
    return {cid: f"{cid} {name}" for cid, name in zip(campaigns["campaign_id"], campaigns["name"].fillna(""))}


@dataclass(frozen=True)
class AllocationView:
    """The next send's shares per segment x variant and the caption that explains them."""

    shares: pd.DataFrame  # ``next_allocation``'s frame
    caption: str


def allocation_view(store: Store, strategy_id: str) -> AllocationView:
    """The next send's Thompson-sampling allocation for a measured strategy, with the words that explain it."""
    record = exported_record(store, strategy_id)
    arms, _ = strategy_results(store, strategy_id)
    settings = record.plan.settings
    shares = next_allocation(plan_frame(record), arms, floor=settings.floor, holdout=settings.holdout)
    caption = ("Thompson sampling on the model's prediction (as a prior) plus the observed counts: winners get "
               f"more traffic, every variant keeps at least {settings.floor:.0%}, the "
               f"{settings.holdout:.0%} holdout stays.")
    return AllocationView(shares, caption)


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
