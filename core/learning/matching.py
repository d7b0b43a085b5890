"""Matching uploaded results to the exported plan, by strategy id and variant id, saying which ids could not be matched."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.errors import NotFoundError, ValidationError
from core.segments import EVERYONE
from core.store import Store
from core.strategy.records import StrategyRecord, load_strategy

PLAN_COLUMNS = (
    "strategy_id", "strategy_version", "strategy_name", "segment_name", "segment_id", "segment_version",
    "variant_id", "is_control", "share", "planned_sends", "pred_rate", "pred_low", "pred_high", "model_version",
)


# -- the plan that results are matched against ------------------------------------
def exported_record(store: Store, strategy_id: str) -> StrategyRecord:
    """The strategy version results belong to: the latest exported or measured one, else the latest."""
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
        named = set(results["segment_name"].dropna().astype(str)) - {EVERYONE.name}
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
    """Match what the database holds for ``strategy_id`` against its plan (not found: a report that says so)."""
    try:
        plan = plan_frame(exported_record(store, strategy_id))
    except NotFoundError:
        plan = None  # results that name a strategy this database does not know: imported, then reported
    stored = store.df(
        "SELECT variant_id, segment_name FROM variant_results WHERE strategy_id = ? "
        "UNION ALL SELECT DISTINCT variant_id, NULL FROM exposures WHERE strategy_id = ?",
        [strategy_id, strategy_id],
    )
    return match_results(plan, stored, strategy_id)


RESULT_STATUSES = ("exported", "measured")
