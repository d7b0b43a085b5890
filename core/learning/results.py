"""Measured results of strategies: per segment x arm counts, readouts, measured campaigns and cells, trust pairs."""

from __future__ import annotations

import pandas as pd

from core.errors import NotFoundError
from core.learning.experiments import Readout, readout
from core.learning.matching import PLAN_COLUMNS, exported_record, plan_frame
from core.learning.trust import add_observed
from core.segments import EVERYONE, get_segment, segment_members
from core.store import Store
from core.strategy.records import StrategyRecord, load_strategy, set_status


# -- counts per segment x arm ----------------------------------------------------------
def _segment_of_users(store: Store, plan: pd.DataFrame, users: pd.Series) -> pd.Series:
    """Segment name of each exposed user, from the plan's segment definitions (first match wins)."""
    out = pd.Series(pd.NA, index=users.index, dtype="object")
    for _, seg in plan.drop_duplicates("segment_name").iterrows():
        segment = None if seg["segment_id"] is None else get_segment(store, seg["segment_id"])
        members = set(segment_members(store, segment)["user_id"].astype(str))
        todo = out.isna() & users.astype(str).isin(members)
        out[todo] = seg["segment_name"]
    return out


def strategy_results(store: Store, strategy_id: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Observed counts per segment x arm for a strategy, and user-level revenue when there is any.

    Aggregate rows keep their segment name. User-level rows take the segment of
    the arm in the plan; an arm planned for several segments (a shared control)
    is split by segment membership. Arms not in the plan are left out here
    (``match_stored`` reports them).
    """
    plan = plan_frame(exported_record(store, strategy_id))
    agg = store.df(
        "SELECT segment_name, variant_id, sum(sends)::BIGINT AS sends, sum(conversions)::BIGINT AS conversions, "
        "sum(revenue) AS revenue FROM variant_results WHERE strategy_id = ? GROUP BY ALL",
        [strategy_id],
    )
    users = store.df(
        "SELECT user_id, variant_id, converted, revenue FROM exposures WHERE strategy_id = ?", [strategy_id]
    )
    user_revenue = None
    if not users.empty:
        seg_count = plan.groupby("variant_id")["segment_name"].agg(["first", "nunique"])
        users = users[users["variant_id"].isin(seg_count.index)].copy()
        users["segment_name"] = users["variant_id"].map(seg_count["first"])
        shared = users["variant_id"].map(seg_count["nunique"]) > 1
        if shared.any():
            users.loc[shared, "segment_name"] = _segment_of_users(store, plan, users.loc[shared, "user_id"])
        users = users.dropna(subset=["segment_name"])
        user_counts = users.groupby(["segment_name", "variant_id"], as_index=False).agg(
            sends=("user_id", "size"), conversions=("converted", "sum"), revenue=("revenue", "sum")
        )
        agg = pd.concat([agg, user_counts], ignore_index=True)
        user_revenue = users[["segment_name", "variant_id", "revenue"]]
    if agg.empty:
        return pd.DataFrame(columns=["segment_name", "variant_id", "sends", "conversions", "revenue", "is_control"]), None
    agg = agg.groupby(["segment_name", "variant_id"], as_index=False)[["sends", "conversions", "revenue"]].sum()
    keys = plan[["segment_name", "variant_id", "is_control"]]
    arms = agg.merge(keys, on=["segment_name", "variant_id"], how="inner")
    arms["sends"] = arms["sends"].astype(int)
    arms["conversions"] = arms["conversions"].astype(int)
    # Aggregate rows for a variant make user-level bootstrap incomplete; fall back to totals then.
    if user_revenue is not None and len(user_revenue) != int(arms["sends"].sum()):
        user_revenue = None
    return arms.reset_index(drop=True), user_revenue


def strategy_readout(store: Store, strategy_id: str, **kwargs) -> Readout:
    """``core.learning.experiments.readout`` on a strategy's results; segments without a measured control are skipped."""
    arms, users = strategy_results(store, strategy_id)
    if arms.empty:
        raise NotFoundError(f"no results for strategy {strategy_id} yet; upload the campaign results first")
    has_control = arms.groupby("segment_name")["is_control"].transform("any")
    skipped = sorted(arms.loc[~has_control, "segment_name"].unique())
    result = readout(arms[has_control], users, **kwargs)
    if skipped:
        warn = f"No control results for {', '.join(skipped)}: lift cannot be read there."
        return Readout(result.table, result.summary, [*result.warnings, warn])
    return result


def campaign_arms(store: Store, campaign_id: str, control_variant_id: str | None = None) -> pd.DataFrame:
    """Counts per arm for a campaign that was not planned in CopyLift (an imported A/B test)."""
    frame = store.df(
        "SELECT coalesce(r.segment_name, ?) AS segment_name, v.variant_id, sum(r.sends)::BIGINT AS sends, "
        "sum(r.conversions)::BIGINT AS conversions, sum(r.revenue) AS revenue, any_value(v.is_control) AS is_control "
        "FROM variants v JOIN variant_results r USING (variant_id) WHERE v.campaign_id = ? GROUP BY ALL "
        "UNION ALL "
        "SELECT ? AS segment_name, v.variant_id, count(*) AS sends, count_if(e.converted) AS conversions, "
        "sum(e.revenue) AS revenue, any_value(v.is_control) AS is_control "
        "FROM variants v JOIN exposures e USING (variant_id) WHERE v.campaign_id = ? GROUP BY ALL",
        [EVERYONE.name, campaign_id, EVERYONE.name, campaign_id],
    )
    if frame.empty:
        raise NotFoundError(f"campaign {campaign_id} has no results; import its A/B export first")
    frame = frame.groupby(["segment_name", "variant_id"], as_index=False).agg(
        sends=("sends", "sum"), conversions=("conversions", "sum"), revenue=("revenue", "sum"),
        is_control=("is_control", "any"),
    )
    frame[["sends", "conversions"]] = frame[["sends", "conversions"]].astype(int)
    if control_variant_id is not None:
        if control_variant_id not in set(frame["variant_id"]):
            raise NotFoundError(f"control {control_variant_id} is not an arm of campaign {campaign_id}")
        frame["is_control"] = frame["variant_id"] == control_variant_id
    return frame


# -- trust: predicted vs observed ---------------------------------------------------------
def trust_frame(store: Store, strategy_ids: list[str] | None = None) -> pd.DataFrame:
    """Predicted vs observed for every measured strategy x segment x arm that had a prediction."""
    cells = measured_cells(store, strategy_ids).dropna(subset=["pred_rate", "pred_low", "pred_high"])
    return add_observed(cells.reset_index(drop=True))
CAMPAIGN_COLUMNS = ["strategy_id", "campaign_id", "measured_at", "imported_at"]


def measured_campaigns(store: Store) -> pd.DataFrame:
    """Each measured strategy's results by training campaign, with when they were sent and imported.

    ``campaign_id`` is the id the predictor's training rows carry for these
    results (``TrainingData.groups``): the exposure's campaign, else its
    variant's campaign, else the variant id; aggregate rows take their
    variant's campaign and count only for variants without user-level rows.
    This mirrors ``core.prediction.features.build_training_data`` so that
    holding these ids out removes exactly the strategy's results from training.
    ``measured_at``: the latest send time (user-level rows) or period
    (aggregate rows), else the import time.
    """
    frame = store.df(
        """SELECT e.strategy_id, coalesce(e.campaign_id, v.campaign_id, e.variant_id) AS campaign_id,
                  max(e.sent_at) AS measured_at, max(l.imported_at) AS imported_at
           FROM exposures e JOIN variants v ON v.variant_id = e.variant_id
           LEFT JOIN import_log l ON l.import_id = e.import_id
           WHERE e.strategy_id IS NOT NULL GROUP BY ALL
           UNION ALL
           SELECT r.strategy_id, coalesce(v.campaign_id, v.variant_id) AS campaign_id,
                  max(coalesce(r.period_end, r.period_start, l.imported_at)) AS measured_at,
                  max(l.imported_at) AS imported_at
           FROM variant_results r JOIN variants v ON v.variant_id = r.variant_id
           LEFT JOIN import_log l ON l.import_id = r.import_id
           WHERE r.strategy_id IS NOT NULL AND r.sends > 0
             AND NOT EXISTS (SELECT 1 FROM exposures e WHERE e.variant_id = r.variant_id)
           GROUP BY ALL"""
    )
    if frame.empty:
        return pd.DataFrame(columns=CAMPAIGN_COLUMNS)
    return (frame.groupby(["strategy_id", "campaign_id"], as_index=False)
            .agg(measured_at=("measured_at", "max"), imported_at=("imported_at", "max")))


def strategy_recency(campaigns: pd.DataFrame) -> pd.Series:
    """When each strategy's results were measured (latest of its campaigns), indexed by strategy id."""
    if campaigns.empty:
        return pd.Series(dtype="datetime64[ns]", name="measured_at")
    return campaigns.groupby("strategy_id")["measured_at"].max()


def measured_cells(store: Store, strategy_ids: list[str] | None = None) -> pd.DataFrame:
    """Plan rows of every strategy with results, joined with the observed counts and when they were measured."""
    recency = strategy_recency(measured_campaigns(store))
    if strategy_ids is None:
        strategy_ids = [
            r[0]
            for r in store.rows(
                "SELECT DISTINCT strategy_id FROM variant_results WHERE strategy_id IS NOT NULL "
                "UNION SELECT DISTINCT strategy_id FROM exposures WHERE strategy_id IS NOT NULL"
            )
        ]
    parts = []
    for sid in sorted(strategy_ids):
        try:
            plan = plan_frame(exported_record(store, sid))
        except NotFoundError:
            continue
        arms, _ = strategy_results(store, sid)
        if not arms.empty:
            cells = plan.merge(arms.drop(columns="is_control"), on=["segment_name", "variant_id"])
            parts.append(cells.assign(measured_at=recency.get(sid, pd.NaT)))
    if not parts:
        return pd.DataFrame(columns=[*PLAN_COLUMNS, "sends", "conversions", "revenue", "measured_at"])
    return pd.concat(parts, ignore_index=True)


def strategies_in_import(store: Store, import_id: int) -> list[str]:
    """Strategy ids carried by the rows of one import."""
    rows = store.rows(
        "SELECT DISTINCT strategy_id FROM exposures WHERE import_id = ? AND strategy_id IS NOT NULL "
        "UNION SELECT DISTINCT strategy_id FROM variant_results WHERE import_id = ? AND strategy_id IS NOT NULL",
        [import_id, import_id],
    )
    return sorted(r[0] for r in rows)


def strategies_with_results(store: Store) -> pd.DataFrame:
    """Strategies that have results stored: id, name, latest status and how many sends came back."""
    return store.df(
        """WITH r AS (
               SELECT strategy_id, sum(sends) AS sends FROM variant_results WHERE strategy_id IS NOT NULL GROUP BY 1
               UNION ALL
               SELECT strategy_id, count(*) FROM exposures WHERE strategy_id IS NOT NULL GROUP BY 1),
           s AS (SELECT strategy_id, name, status, created_at FROM strategies
                 QUALIFY row_number() OVER (PARTITION BY strategy_id ORDER BY version DESC) = 1)
           SELECT r.strategy_id, any_value(s.name) AS name, any_value(s.status) AS status,
                  sum(r.sends)::BIGINT AS sends, max(s.created_at) AS updated_at
           FROM r LEFT JOIN s USING (strategy_id) GROUP BY r.strategy_id ORDER BY updated_at DESC NULLS LAST"""
    )


def unplanned_campaigns(store: Store) -> pd.DataFrame:
    """Campaigns with results but no strategy id (past or imported A/B tests), with at least two arms."""
    return store.df(
        """WITH measured AS (
               SELECT variant_id FROM variant_results WHERE strategy_id IS NULL
               UNION SELECT DISTINCT variant_id FROM exposures WHERE strategy_id IS NULL)
           SELECT v.campaign_id, any_value(c.name) AS name, count(DISTINCT v.variant_id) AS arms
           FROM variants v JOIN measured USING (variant_id) LEFT JOIN campaigns c USING (campaign_id)
           WHERE v.campaign_id IS NOT NULL GROUP BY v.campaign_id HAVING count(DISTINCT v.variant_id) >= 2
           ORDER BY v.campaign_id"""
    )


def mark_measured(store: Store, strategy_id: str, author: str | None = None) -> StrategyRecord:
    """Record that an exported strategy's results are in (a new ``measured`` version; same plan)."""
    current = load_strategy(store, strategy_id)
    if current.status != "exported":
        return current
    return set_status(store, strategy_id, "measured", author=author, comment="results imported")
