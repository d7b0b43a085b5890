"""Learning from campaign results: match, read out, reallocate, retrain, check trust.

After a strategy has been sent, its results come back through the importer
(user-level rows into ``exposures``, aggregate rows into ``variant_results``,
both tagged with ``strategy_id``). This module matches them to the exported
plan by strategy id and variant id (and says which ids it could not match),
turns them into per segment x arm counts for ``core.experiments.readout``,
proposes the next send's allocation by Thompson sampling on a posterior that
uses the model's prediction as a prior, retrains the predictor as a new
version (the old one is kept; before/after metrics come from campaigns held
out of both compared models, see ``pick_held_out``), and gathers predicted-vs-observed pairs for the
trust checks in ``core.trust``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import NotFoundError, PredictionError, ValidationError
from core.experiments import Readout, posterior_draws, readout
from core.store import Store
from core.trust import add_observed, beta_from_interval

AUTO_RETRAIN_KEY = "learning.auto_retrain"
RESULT_STATUSES = ("exported", "measured")
ALL_CUSTOMERS = "All customers"
PLAN_COLUMNS = (
    "strategy_id", "strategy_version", "strategy_name", "segment_name", "segment_id", "segment_version",
    "variant_id", "is_control", "share", "planned_sends", "pred_rate", "pred_low", "pred_high", "model_version",
)
Progress = Callable[[str, float], None]


# -- the plan that results are matched against ------------------------------------
def exported_record(store: Store, strategy_id: str):
    """The strategy version results belong to: the latest exported or measured one, else the latest."""
    from core.strategy import load_strategy

    version = store.scalar(
        "SELECT max(version) FROM strategies WHERE strategy_id = ? AND status IN (?, ?)",
        [strategy_id, *RESULT_STATUSES],
    )
    return load_strategy(store, strategy_id, None if version is None else int(version))


def plan_frame(record) -> pd.DataFrame:
    """One row per segment x arm of a saved strategy, with what was predicted for it."""
    plan = record.plan
    rows = [
        {
            "strategy_id": record.strategy_id,
            "strategy_version": record.version,
            "strategy_name": record.name,
            "segment_name": seg.segment.name,
            "segment_id": seg.segment.segment_id,
            "segment_version": seg.segment.version,
            "variant_id": arm.variant_id,
            "is_control": arm.is_control,
            "share": arm.share,
            "planned_sends": arm.sends,
            "pred_rate": arm.rate,
            "pred_low": arm.low,
            "pred_high": arm.high,
            "model_version": plan.predictor_version,
        }
        for seg in plan.segments
        for arm in seg.arms
    ]
    return pd.DataFrame(rows, columns=list(PLAN_COLUMNS))


# -- matching ----------------------------------------------------------------------
@dataclass(frozen=True)
class MatchReport:
    """How uploaded results line up with one strategy's exported plan."""

    strategy_id: str | None
    strategy_found: bool
    matched: tuple[str, ...] = ()
    unknown_variants: tuple[str, ...] = ()  # in the results, not in the plan
    missing_variants: tuple[str, ...] = ()  # in the plan, no results yet
    unknown_segments: tuple[str, ...] = ()
    rows: int = 0
    unmatched_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.strategy_found and not self.unknown_variants and not self.unknown_segments

    @property
    def messages(self) -> list[str]:
        sid = self.strategy_id or "(no strategy id)"
        if self.strategy_id is None:
            return [f"{self.rows} rows carry no strategy id; they are read as an unplanned campaign."]
        if not self.strategy_found:
            return [f"Strategy {sid} is not known here ({self.rows} rows): check the strategy id in the file."]
        out = [f"Strategy {sid}: {len(self.matched)} arms matched."]
        if self.unknown_variants:
            out.append(
                f"Strategy {sid}: variant ids not in the exported plan ({self.unmatched_rows} rows): "
                + ", ".join(self.unknown_variants)
            )
        if self.unknown_segments:
            out.append(f"Strategy {sid}: segments not in the plan: " + ", ".join(self.unknown_segments))
        if self.missing_variants:
            out.append(f"Strategy {sid}: no results yet for " + ", ".join(self.missing_variants))
        return out


def match_results(plan: pd.DataFrame | None, results: pd.DataFrame, strategy_id: str | None) -> MatchReport:
    """Compare result rows (``variant_id`` and optionally ``segment_name``) with a plan frame.

    Pure: ``plan`` is None when the strategy id is unknown. Nothing is dropped;
    the report lists every id that did not match so the analyst can fix the file.
    """
    if "variant_id" not in results.columns:
        raise ValidationError("results lack a variant id column; map the column that names the arm")
    ids = results["variant_id"].astype(str)
    if plan is None:
        return MatchReport(strategy_id, strategy_id is None, rows=len(results), unmatched_rows=len(results))
    planned = set(plan["variant_id"].astype(str))
    seen = set(ids)
    unknown = tuple(sorted(seen - planned))
    segs: tuple[str, ...] = ()
    if "segment_name" in results.columns:
        named = set(results["segment_name"].dropna().astype(str)) - {ALL_CUSTOMERS}
        segs = tuple(sorted(named - set(plan["segment_name"].astype(str))))
    return MatchReport(
        strategy_id=strategy_id,
        strategy_found=True,
        matched=tuple(sorted(seen & planned)),
        unknown_variants=unknown,
        missing_variants=tuple(sorted(planned - seen)),
        unknown_segments=segs,
        rows=len(results),
        unmatched_rows=int(ids.isin(unknown).sum()),
    )


def match_upload(store: Store, results: pd.DataFrame) -> list[MatchReport]:
    """Match every strategy id in an upload (a frame with ``strategy_id`` and ``variant_id``)."""
    if "strategy_id" not in results.columns:
        return [match_results(None, results, None)]
    reports = []
    sids = results["strategy_id"]
    for sid, group in results.groupby(sids.fillna(""), sort=True):
        if sid == "":
            reports.append(match_results(None, group, None))
            continue
        try:
            plan = plan_frame(exported_record(store, str(sid)))
        except NotFoundError:
            plan = None
        reports.append(match_results(plan, group, str(sid)))
    return reports


def match_stored(store: Store, strategy_id: str) -> MatchReport:
    """Match what the database holds for ``strategy_id`` against its plan."""
    plan = plan_frame(exported_record(store, strategy_id))
    stored = store.df(
        "SELECT variant_id, segment_name FROM variant_results WHERE strategy_id = ? "
        "UNION ALL SELECT DISTINCT variant_id, NULL FROM exposures WHERE strategy_id = ?",
        [strategy_id, strategy_id],
    )
    return match_results(plan, stored, strategy_id)


# -- counts per segment x arm ----------------------------------------------------------
def _segment_of_users(store: Store, plan: pd.DataFrame, users: pd.Series) -> pd.Series:
    """Segment name of each exposed user, from the plan's segment definitions (first match wins)."""
    from core.segments import get_segment, segment_members

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
    """``core.experiments.readout`` on a strategy's results; segments without a measured control are skipped."""
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
        [ALL_CUSTOMERS, campaign_id, ALL_CUSTOMERS, campaign_id],
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


# -- next send's allocation -------------------------------------------------------------------
def next_allocation(
    plan: pd.DataFrame,
    arms: pd.DataFrame,
    *,
    floor: float = 0.01,
    holdout: float = 0.10,
    max_prior_sends: float = 1000.0,
    draws: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Thompson-sampling shares per segment for the treated variants of a plan.

    Prior per variant: the Beta matching the model's predicted rate and 90%
    interval, worth at most ``max_prior_sends`` pseudo-sends so results can
    overrule a wrong prediction; posterior = prior + observed conversions and
    misses. Each variant's share is ``floor`` plus its probability of being
    best times the rest of the treated traffic (so new variants keep being
    tried), and the holdout stays fixed.
    """
    from core.strategy import thompson_allocation

    counts = arms.set_index(["segment_name", "variant_id"]) if not arms.empty else None
    rows = []
    for segment, group in plan[~plan["is_control"].astype(bool)].groupby("segment_name", sort=False):
        priors = [
            beta_from_interval(r, lo, hi, max_pseudo=max_prior_sends) if pd.notna(r) else (1.0, 1.0)
            for r, lo, hi in zip(group["pred_rate"], group["pred_low"], group["pred_high"])
        ]
        post = []
        for (a, b), vid in zip(priors, group["variant_id"]):
            x = n = 0
            if counts is not None and (segment, vid) in counts.index:
                x, n = int(counts.loc[(segment, vid), "conversions"]), int(counts.loc[(segment, vid), "sends"])
            post.append((a + x, b + n - x, x, n))
        shares = thompson_allocation(
            [p[0] for p in post], [p[1] for p in post], floor=floor, holdout=holdout, seed=seed, draws=draws
        )
        samples = posterior_draws([p[0] for p in post], [p[1] for p in post], draws, seed)
        p_best = np.bincount(samples.argmax(axis=1), minlength=len(post)) / draws
        for vid, (a, b), (pa, pb, x, n), s, pb_ in zip(group["variant_id"], priors, post, shares, p_best):
            rows.append(
                {
                    "segment_name": segment, "variant_id": vid, "prior_alpha": a, "prior_beta": b,
                    "sends": n, "conversions": x, "posterior_alpha": pa, "posterior_beta": pb,
                    "posterior_mean": pa / (pa + pb), "prob_best": float(pb_), "share": float(s),
                }
            )
    return pd.DataFrame(rows)


def update_allocation(store: Store, strategy_id: str, *, author: str | None = None, seed: int = 0):
    """Save the strategy's next-send allocation as a new ``measured`` version (old versions stay)."""
    from core.strategy import save_strategy, with_allocation

    record = exported_record(store, strategy_id)
    arms, _ = strategy_results(store, strategy_id)
    settings = record.plan.settings
    alloc = next_allocation(
        plan_frame(record), arms, floor=settings.floor, holdout=settings.holdout, seed=seed
    )
    plan = record.plan
    for segment, group in alloc.groupby("segment_name", sort=False):
        plan = with_allocation(plan, str(segment), dict(zip(group["variant_id"], group["share"])))
    return save_strategy(
        store, plan, author=author, strategy_id=strategy_id, status="measured",
        comment="allocation updated from results (Thompson sampling, model prior + observed counts)",
    )


# -- retraining -------------------------------------------------------------------------------
def auto_retrain_enabled(store: Store) -> bool:
    return bool(store.get_setting(AUTO_RETRAIN_KEY, False))


def set_auto_retrain(store: Store, enabled: bool) -> None:
    """Remember whether every results import should retrain the predictor."""
    store.set_setting(AUTO_RETRAIN_KEY, bool(enabled))


@dataclass(frozen=True)
class RetrainReport:
    """What a retrain changed: versions, metrics before/after on held-out campaigns, how predictions moved."""

    old_version: int | None
    new_version: int
    metrics: pd.DataFrame  # metric, before, after
    movement: pd.DataFrame = field(default_factory=pd.DataFrame)  # variant_id, segment_name, before, after, change
    notes: tuple[str, ...] = ()
    held_out: HeldOut | None = None


# -- which results a model has not seen -------------------------------------------------------
# Share of measured strategies (most recent first) held out of the comparison model; at least one.
HOLDOUT_SHARE = 0.25
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


def campaigns_seen(version, campaigns: pd.DataFrame) -> set[str]:
    """Campaign ids a saved model version learned from.

    Versions record their training campaigns (``metrics["campaigns"]``). For
    older versions that do not, a campaign counts as seen when all its rows were
    stored before the version was created (rows without an import time count as
    seen, to stay on the safe side).
    """
    if version is None:
        return set()
    recorded = version.metrics.get("campaigns")
    if recorded is not None:
        return set(map(str, recorded))
    per_campaign = campaigns.groupby("campaign_id")["imported_at"].max()
    created = pd.Timestamp(version.created_at)
    return {str(c) for c, t in per_campaign.items() if pd.isna(t) or pd.Timestamp(t) <= created}


@dataclass(frozen=True)
class HeldOut:
    """Strategies whose results test the models, and the campaigns kept out of the comparison model."""

    strategies: tuple[str, ...]
    campaigns: tuple[str, ...]
    old_saw: bool  # True: the old model was trained on them, so its figures there would be fit, not forecast
    share: float = HOLDOUT_SHARE

    @property
    def rule(self) -> str:
        return (
            f"Held out: the most recent {self.share:.0%} of measured strategies (at least one) that the current "
            "model had not seen; a comparison model is trained on everything else and both models are scored on "
            "them. The saved new version is then trained on everything, held-out results included."
        )


def pick_held_out(campaigns: pd.DataFrame, seen: set[str], share: float = HOLDOUT_SHARE) -> HeldOut:
    """Choose the held-out strategies (pure; see ``HeldOut.rule``).

    Strategies are ordered by ``measured_at`` (newest first, ties by id). The
    newest ``max(1, ceil(share * n))`` among those none of whose campaigns are in
    ``seen`` are held out; when the old model saw every strategy, the newest ones
    are held out anyway and ``old_saw`` says that "before" cannot be a forecast.
    A strategy is evaluated when all its campaigns are held out, so the
    comparison model saw none of its results.
    """
    if campaigns.empty:
        return HeldOut((), (), False, share)
    camps = campaigns.groupby("strategy_id")["campaign_id"].agg(lambda s: frozenset(map(str, s)))
    recency = strategy_recency(campaigns)
    order = sorted(camps.index, key=lambda s: (pd.Timestamp(recency[s]) if pd.notna(recency[s])
                                               else pd.Timestamp.min, str(s)), reverse=True)
    k = max(1, int(np.ceil(share * len(order))))
    unseen = [s for s in order if not camps[s] & seen]
    picked = (unseen or order)[:k]
    held = frozenset().union(*(camps[s] for s in picked))
    evaluated = tuple(s for s in order if camps[s] <= held)
    return HeldOut(evaluated, tuple(sorted(held)), old_saw=not unseen, share=share)


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


def predict_cells(store: Store, predictor, cells: pd.DataFrame) -> pd.DataFrame:
    """Re-predict segment x variant cells with ``predictor`` (rate and 90% interval).

    Cells whose arm has no stored copy (a holdout that received nothing) are left out.
    """
    from core.prediction.features import load_variants
    from core.prediction.scoring import predict_variants
    from core.segments import get_segment

    variants = load_variants(store)
    out = []
    keys = cells[["segment_id", "segment_name"]].drop_duplicates()
    for seg_id, seg_name in keys.itertuples(index=False):
        wanted = set(cells.loc[cells["segment_name"] == seg_name, "variant_id"].astype(str))
        v = variants[variants["variant_id"].astype(str).isin(wanted)].reset_index(drop=True)
        if v.empty:
            continue
        segment = None if seg_id is None or pd.isna(seg_id) else get_segment(store, seg_id)
        # Naming a control avoids the history look-ups that lift needs; lift is not used here.
        preds = predict_variants(store, predictor, v, segment, control_variant_id=str(v["variant_id"].iloc[0]))
        out.extend(
            {"segment_name": seg_name, "variant_id": p.variant_id, "rate": p.rate, "low": p.low, "high": p.high}
            for p in preds
        )
    return pd.DataFrame(out, columns=["segment_name", "variant_id", "rate", "low", "high"])


def cell_metrics(cells: pd.DataFrame) -> dict[str, float]:
    """How well predicted rates match observed ones, over segment x variant cells.

    ``cells`` has ``pred_rate, pred_low, pred_high, sends, conversions``. AUC,
    log loss and calibration error are per send (each cell's conversions and
    misses carry its prediction), so big cells count more; AUC therefore only
    measures how well the model ranks cells. Coverage uses the predictive
    interval (model uncertainty plus sampling noise of the actual sends).
    """
    from scipy import stats

    from core.prediction.metrics import binary_metrics

    if cells.empty:
        return {}
    data = add_observed(cells)
    p = np.clip(data["pred_rate"].to_numpy(float), 1e-6, 1 - 1e-6)
    x, n = data["conversions"].to_numpy(float), data["sends"].to_numpy(float)
    per_send = binary_metrics(np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[p, p], np.r_[x, n - x])
    rho = stats.spearmanr(data["pred_rate"], data["obs_rate"]).statistic if len(data) > 2 else float("nan")
    return {
        "cells": float(len(data)),
        "sends": float(n.sum()),
        "AUC (per send)": np.nan if per_send["auc"] is None else float(per_send["auc"]),
        "log loss per send": float(per_send["log_loss"]),
        "calibration error (ECE, pts)": float(per_send["ece"]) * 100,
        "share inside 90% interval": float(data["inside"].mean()),
        "mean abs error (pts)": float(np.mean(np.abs(data["pred_rate"] - data["obs_rate"])) * 100),
        "bias (pts, predicted - observed)": float((np.average(p, weights=n) - x.sum() / n.sum()) * 100),
        "rank correlation (Spearman)": float(rho),
    }


def working_set_movement(store: Store, old, new, variants: pd.DataFrame, segment=None) -> pd.DataFrame:
    """Predicted rate of each working-set variant under the old and the new model."""
    from core.prediction.scoring import predict_variants

    if variants.empty:
        return pd.DataFrame(columns=["variant_id", "segment_name", "before", "after", "change"])
    ctrl = str(variants["variant_id"].iloc[0])
    after = {p.variant_id: p for p in predict_variants(store, new, variants, segment, control_variant_id=ctrl)}
    before = (
        {p.variant_id: p.rate for p in predict_variants(store, old, variants, segment, control_variant_id=ctrl)}
        if old is not None
        else {}
    )
    rows = [
        {
            "variant_id": vid, "segment_name": p.segment_name, "before": before.get(vid, np.nan),
            "after": p.rate, "change": p.rate - before.get(vid, np.nan),
        }
        for vid, p in after.items()
    ]
    return pd.DataFrame(rows).sort_values("after", ascending=False).reset_index(drop=True)


def _scored(cells: pd.DataFrame, preds: pd.DataFrame | None) -> dict[str, float]:
    if preds is None or preds.empty:
        return {}
    joined = cells.drop(columns=["pred_rate", "pred_low", "pred_high"]).merge(
        preds.rename(columns={"rate": "pred_rate", "low": "pred_low", "high": "pred_high"}),
        on=["segment_name", "variant_id"],
    )
    return cell_metrics(joined)


def retrain(
    store: Store,
    cfg,
    *,
    working_set: pd.DataFrame | None = None,
    segment=None,
    progress: Progress | None = None,
    settings=None,
    holdout_share: float = HOLDOUT_SHARE,
) -> RetrainReport:
    """Train a new model version on everything stored (the old version stays) and report what changed.

    Before/after metrics are an honest forecast check on the same held-out
    campaigns (``pick_held_out``): the newest measured strategies the current
    ("before") model never saw. "After" is a comparison model fitted exactly
    like the new version but without those campaigns (it is not saved); the
    saved new version then learns from everything, held-out results included,
    so its own forecast test is the next campaign. When the current model had
    already seen every measured strategy, "before" is left empty and a note says
    why. Each version's cross-validated metrics (campaign folds) are added too.
    """
    from core.prediction.features import build_training_data
    from core.prediction.registry import get_version, load_latest, save_predictor
    from core.prediction.training import fit_predictor, without_campaigns

    say = progress or (lambda f, m: None)
    span = lambda a, b: (lambda f, m: say(a + (b - a) * f, m))  # noqa: E731
    old = load_latest(store, cfg)
    old_mv = get_version(store, old.version) if old is not None else None
    campaigns = measured_campaigns(store)
    seen = campaigns_seen(old_mv, campaigns)
    held = pick_held_out(campaigns, seen, holdout_share)
    say(0.02, "Reading exposures and results")
    data = build_training_data(store, "conversion", progress=span(0.02, 0.1))
    notes: list[str] = [held.rule] if held.strategies else []
    rows: dict[str, dict[str, float]] = {}
    cells = measured_cells(store, list(held.strategies)) if held.strategies else pd.DataFrame()
    cells = cells[cells["variant_id"] != "control"] if not cells.empty else cells  # a holdout arm has no copy
    if not cells.empty:
        try:
            train_part = without_campaigns(data, held.campaigns)
        except PredictionError as err:
            train_part = None
            notes.append(f"No comparison on held-out campaigns: {err}.")
        if train_part is not None:
            say(0.12, f"Training a comparison model without {len(held.campaigns)} held-out campaign(s)")
            comparison = fit_predictor(train_part, settings, span(0.12, 0.45))
            say(0.46, "Scoring the held-out results with the current and the comparison model")
            before = predict_cells(store, old, cells) if old is not None and not held.old_saw else None
            for label, preds in (("before", before), ("after", predict_cells(store, comparison, cells))):
                for metric, value in _scored(cells, preds).items():
                    rows.setdefault(f"held-out: {metric}", {})[label] = value
            fresh = sorted(set(map(str, train_part.groups)) - seen)
            notes.append(
                f"Held-out strategies: {', '.join(held.strategies)} (campaigns {', '.join(held.campaigns)}). "
                + ("The current model was trained on them, so its figures there would show fit, not forecast; "
                   "'before' is left empty." if held.old_saw else
                   "'Before' is the current model's forecast of them.")
                + (f" 'After' comes from a model that also learned from {len(fresh)} campaign(s) the current model "
                   "had not seen." if fresh and old is not None else
                   " The comparison model learned from no result the current model lacked, so a difference "
                   "there is retraining noise, not learning; the next campaign will test the new version."
                   if old is not None else "")
            )
    say(0.5, "Training the new version on every result stored")
    final = fit_predictor(data, settings, span(0.5, 0.88))
    say(0.89, "Saving the model")
    version = save_predictor(store, cfg, final, note="retrained from results")
    old_cv = old_mv.metrics if old_mv is not None else {}
    for key in ("auc", "log_loss", "brier", "ece"):
        if key in version.metrics:
            rows.setdefault(f"cross-validated {key} (each version's own campaign folds)", {}).update(
                {"before": old_cv.get(key, np.nan), "after": version.metrics[key]}
            )
    metrics = pd.DataFrame(
        [{"metric": k, "before": v.get("before", np.nan), "after": v.get("after", np.nan)} for k, v in rows.items()],
        columns=["metric", "before", "after"],
    )
    movement = pd.DataFrame()
    if working_set is not None and not working_set.empty:
        say(0.94, "Re-scoring the working set")
        movement = working_set_movement(store, old, final, working_set, segment)
    say(1.0, f"Model version {version.version} is ready")
    return RetrainReport(
        old_version=None if old is None else old.version,
        new_version=version.version,
        metrics=metrics,
        movement=movement,
        notes=tuple(notes),
        held_out=held,
    )


def after_import(store: Store, cfg, import_id: int, progress: Progress | None = None) -> RetrainReport | None:
    """Retrain automatically after a results import when the setting is on and the import added results."""
    if not auto_retrain_enabled(store):
        return None
    added = store.scalar(
        "SELECT (SELECT count(*) FROM exposures WHERE import_id = ?) + "
        "(SELECT count(*) FROM variant_results WHERE import_id = ?)",
        [import_id, import_id],
    )
    if not added:
        return None
    return retrain(store, cfg, progress=progress)


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


def mark_measured(store: Store, strategy_id: str, author: str | None = None):
    """Record that an exported strategy's results are in (a new ``measured`` version; same plan)."""
    from core.strategy import load_strategy, set_status

    current = load_strategy(store, strategy_id)
    if current.status != "exported":
        return current
    return set_status(store, strategy_id, "measured", author=author, comment="results imported")
