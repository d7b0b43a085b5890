"""Learning as outcomes arrive: live counts, scheduled allocation updates, background retrains.

Counts per segment x arm come from the stored decisions and events: a user is
*exposed* once a delivery event arrives (or at decision time for a holdout arm
that sends nothing), and *converted* when a conversion event arrives for an
exposed user. Every ``every_conversions`` new conversions, or every
``every_seconds`` when anything new arrived, the treated shares are re-drawn
by ``core.learning.next_allocation`` (Thompson sampling with the model's
prediction as a capped prior, a floor per arm, the holdout share fixed) and
the update is stored with the counts it used. Users already decided keep
their arm. A retrain (``core.learning.retrain`` with its held-out report)
starts on its own thread once ``retrain_after_conversions`` conversions have
arrived since the last one; decisions never wait for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.api.decide import LATEST, Allocation, LiveStrategy
from core.learning.allocation import next_allocation
from core.learning.matching import plan_frame
from core.store import Store

COUNT_COLUMNS = ["segment_name", "variant_id", "is_control", "decided", "sends", "opens", "clicks", "conversions",
                 "revenue"]


@dataclass(frozen=True)
class LearnSettings:
    """When the live allocation moves and when the predictor retrains."""

    every_conversions: int = 50
    every_seconds: float = 300.0
    retrain_after_conversions: int = 500
    max_prior_sends: float = 1000.0
    draws: int = 10_000


def arm_counts(store: Store, strategy_id: str) -> pd.DataFrame:
    """Decided, exposed (sends), opened, clicked, converted users and revenue per segment x arm."""
    frame = store.df(
        f"""WITH u AS (
               SELECT user_id, bool_or(event_type = 'delivery') AS delivered, bool_or(event_type = 'open') AS opened,
                      bool_or(event_type = 'click') AS clicked, bool_or(event_type = 'conversion') AS converted,
                      coalesce(sum(value) FILTER (WHERE event_type IN ('conversion', 'revenue')), 0) AS revenue
               FROM api_events WHERE strategy_id = ? GROUP BY user_id),
           j AS (SELECT d.*, coalesce(u.delivered, false) OR d.action = 'holdout' AS exposed,
                        coalesce(u.opened, false) AS opened, coalesce(u.clicked, false) AS clicked,
                        coalesce(u.converted, false) AS converted, coalesce(u.revenue, 0) AS revenue
                 FROM (SELECT * FROM api_decisions WHERE strategy_id = ? {LATEST}) d LEFT JOIN u USING (user_id))
           SELECT segment_name, variant_id, bool_or(is_control) AS is_control, count(*) AS decided,
                  count_if(exposed) AS sends, count_if(opened) AS opens, count_if(clicked) AS clicks,
                  count_if(converted AND exposed) AS conversions, sum(revenue) AS revenue
           FROM j GROUP BY ALL ORDER BY segment_name, NOT bool_or(is_control), variant_id""",
        [strategy_id, strategy_id],
    )
    return frame if not frame.empty else pd.DataFrame(columns=COUNT_COLUMNS)


def next_live_allocation(live: LiveStrategy, counts: pd.DataFrame, settings: LearnSettings,
                         trigger: str) -> tuple[Allocation, pd.DataFrame]:
    """The next allocation (holdout fixed) and the rows that record it with the counts used."""
    plan = plan_frame(live.record)
    arms = counts.loc[~counts["is_control"].astype(bool), ["segment_name", "variant_id", "sends", "conversions"]]
    alloc = next_allocation(plan, arms, floor=live.floor, holdout=live.holdout,
                            max_prior_sends=settings.max_prior_sends, draws=settings.draws,
                            seed=live.seed + live.allocation.update_no + 1)
    by_key = alloc.set_index(["segment_name", "variant_id"])
    got = counts.set_index(["segment_name", "variant_id"])
    number = live.allocation.update_no + 1
    shares, rows = {}, []
    for seg in live.segments:
        seg_shares = []
        for j, arm in enumerate(seg.arms):
            key = (seg.name, arm.variant_id)
            share = live.holdout if j == 0 else float(by_key.loc[key, "share"])
            seg_shares.append(share)
            sends = int(got.loc[key, "sends"]) if key in got.index else 0
            conv = int(got.loc[key, "conversions"]) if key in got.index else 0
            rows.append({
                "strategy_id": live.strategy_id, "update_no": number, "strategy_version": live.version,
                "segment_name": seg.name, "variant_id": arm.variant_id, "is_control": arm.is_control,
                "share": share, "sends": sends, "conversions": conv,
                "posterior_mean": None if j == 0 else float(by_key.loc[key, "posterior_mean"]),
                "prob_best": None if j == 0 else float(by_key.loc[key, "prob_best"]), "trigger": trigger,
            })
        shares[seg.name] = tuple(seg_shares)
    return Allocation(number, shares, trigger), pd.DataFrame(rows)


def allocation_rows(live: LiveStrategy, alloc: Allocation) -> pd.DataFrame:
    """Rows recording an allocation without new counts (the approved shares when first served)."""
    return pd.DataFrame([
        {"strategy_id": live.strategy_id, "update_no": alloc.update_no, "strategy_version": live.version,
         "segment_name": seg.name, "variant_id": arm.variant_id, "is_control": arm.is_control,
         "share": alloc.shares[seg.name][j], "sends": 0, "conversions": 0, "posterior_mean": None,
         "prob_best": None, "trigger": alloc.trigger}
        for seg in live.segments for j, arm in enumerate(seg.arms)
    ])


def record_allocation(store: Store, rows: pd.DataFrame) -> None:
    cols = list(rows.columns)
    with store.transaction() as cur:
        cur.register("_alloc_rows", rows)
        try:
            cur.execute(f"INSERT INTO api_allocations ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _alloc_rows")
        finally:
            cur.unregister("_alloc_rows")


def restore_allocation(store: Store, live: LiveStrategy) -> None:
    """Continue from the last stored allocation of this strategy version, else record the approved one."""
    last = store.one("SELECT max(update_no) FROM api_allocations WHERE strategy_id = ?", [live.strategy_id])[0]
    if last is not None:
        rows = store.df(
            "SELECT segment_name, variant_id, share, strategy_version, trigger FROM api_allocations "
            "WHERE strategy_id = ? AND update_no = ?", [live.strategy_id, int(last)])
        shares = {(r.segment_name, r.variant_id): float(r.share) for r in rows.itertuples()}
        same = (rows["strategy_version"] == live.version).all() and all(
            (s.name, a.variant_id) in shares for s in live.segments for a in s.arms)
        if same:
            live.allocation = Allocation(int(last), {
                s.name: tuple(shares[(s.name, a.variant_id)] for a in s.arms) for s in live.segments},
                str(rows["trigger"].iloc[0]))
            return
    # A new strategy version starts from its own (approved) shares, numbered after the old updates.
    base = live.plan_allocation
    live.allocation = Allocation(0 if last is None else int(last) + 1, base.shares, base.trigger)
    record_allocation(store, allocation_rows(live, live.allocation))


def allocation_history(store: Store, strategy_id: str) -> pd.DataFrame:
    """Every recorded allocation of a strategy, oldest first, one row per update x segment x arm."""
    return store.df(
        "SELECT update_no, strategy_version, segment_name, variant_id, is_control, share, sends, conversions, "
        "posterior_mean, prob_best, trigger, created_at FROM api_allocations WHERE strategy_id = ? "
        "ORDER BY update_no, segment_name, NOT is_control, variant_id", [strategy_id])


def materialize_exposures(store: Store) -> int:
    """Write the service's exposed users into ``exposures`` (source 'api') so the predictor learns from them.

    The service's rows are replaced as a whole (they are derived from the
    decisions and events, which stay the record), in one transaction.
    """
    sql = f"""
        WITH u AS (
            SELECT strategy_id, user_id, min(ts) FILTER (WHERE event_type = 'delivery') AS delivered_at,
                   bool_or(event_type = 'open') AS opened, bool_or(event_type = 'click') AS clicked,
                   bool_or(event_type = 'conversion') AS converted,
                   coalesce(sum(value) FILTER (WHERE event_type IN ('conversion', 'revenue')), 0) AS revenue
            FROM api_events GROUP BY ALL)
        INSERT INTO exposures (user_id, variant_id, sent_at, opened, clicked, converted, revenue, strategy_id, source)
        SELECT d.user_id, coalesce(d.copy_variant_id, d.variant_id), coalesce(u.delivered_at, d.decided_at),
               coalesce(u.opened, false), coalesce(u.clicked, false), coalesce(u.converted, false),
               coalesce(u.revenue, 0), d.strategy_id, 'api'
        FROM (SELECT * FROM api_decisions {LATEST}) d LEFT JOIN u USING (strategy_id, user_id)
        WHERE u.delivered_at IS NOT NULL OR d.action = 'holdout'"""
    with store.transaction() as cur:
        cur.execute("DELETE FROM exposures WHERE source = 'api'")
        cur.execute(sql)
        return int(cur.execute("SELECT count(*) FROM exposures WHERE source = 'api'").fetchone()[0])
