"""Retraining the predictor as a new version, with before/after metrics on campaigns held out of both compared models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats

from core.config import AppConfig
from core.errors import PredictionError
from core.learning.results import measured_campaigns, measured_cells, strategy_recency
from core.learning.trust import add_observed
from core.prediction.features import TrainingData, build_training_data, load_variants
from core.prediction.metrics import binary_metrics
from core.prediction.model import Predictor
from core.prediction.scoring import predict_variants
from core.progress import Progress, no_progress, progress_span
from core.segments import Segment, get_segment
from core.store import Store

if TYPE_CHECKING:  # the training module loads skops through the registry; imported where it is used
    from core.prediction.training import TrainingSettings


AUTO_RETRAIN_KEY = "learning.auto_retrain"


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


def predict_cells(store: Store, predictor: Predictor, cells: pd.DataFrame) -> pd.DataFrame:
    """Re-predict segment x variant cells with ``predictor`` (rate and 90% interval).

    Cells whose arm has no stored copy (a holdout that received nothing) are left out.
    """
    variants = load_variants(store)
    out: list[dict] = []
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


def working_set_movement(store: Store, old: Predictor | None, new: Predictor, variants: pd.DataFrame,
                         segment: Segment | None = None) -> pd.DataFrame:
    """Predicted rate of each working-set variant under the old and the new model."""
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
    cfg: AppConfig,
    *,
    working_set: pd.DataFrame | None = None,
    segment: Segment | None = None,
    progress: Progress | None = None,
    settings: TrainingSettings | None = None,
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
    # Lazy: the registry loads skops (seconds), which the Results page needs only when it retrains.
    from core.prediction import training
    from core.prediction.registry import get_version, load_latest, save_predictor

    say = progress or no_progress
    old = load_latest(store, cfg)
    old_mv = get_version(store, old.version) if old is not None and old.version is not None else None
    campaigns = measured_campaigns(store)
    seen = campaigns_seen(old_mv, campaigns)
    held = pick_held_out(campaigns, seen, holdout_share)
    say(0.02, "Reading exposures and results")
    data = build_training_data(store, "conversion", progress=progress_span(say, 0.02, 0.1))
    rows, notes = _held_out_comparison(store, data, old, held, seen, settings, say)
    say(0.5, "Training the new version on every result stored")
    final = training.fit_predictor(data, settings, progress_span(say, 0.5, 0.88))
    say(0.89, "Saving the model")
    version = save_predictor(store, cfg, final, note="retrained from results")
    movement = pd.DataFrame()
    if working_set is not None and not working_set.empty:
        say(0.94, "Re-scoring the working set")
        movement = working_set_movement(store, old, final, working_set, segment)
    say(1.0, f"Model version {version.version} is ready")
    return RetrainReport(
        old_version=None if old is None else old.version,
        new_version=version.version,
        metrics=_metrics_table(rows, old_mv.metrics if old_mv is not None else {}, version.metrics),
        movement=movement,
        notes=tuple(notes),
        held_out=held,
    )


def _held_out_comparison(store: Store, data: TrainingData, old: Predictor | None, held: HeldOut, seen: set[str],
                         settings: TrainingSettings | None, say: Progress) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Score the current model and a comparison model trained without ``held`` on the held-out results.

    Returns the metric rows (``{"held-out: <metric>": {"before": ..., "after": ...}}``) and the notes
    that say which strategies were held out and what "before" and "after" mean for them.
    """
    from core.prediction import training  # lazy, as in ``retrain``

    notes: list[str] = [held.rule] if held.strategies else []
    rows: dict[str, dict[str, float]] = {}
    cells = measured_cells(store, list(held.strategies)) if held.strategies else pd.DataFrame()
    cells = cells[cells["variant_id"] != "control"] if not cells.empty else cells  # a holdout arm has no copy
    if cells.empty:
        return rows, notes
    try:
        train_part = training.without_campaigns(data, held.campaigns)
    except PredictionError as err:
        notes.append(f"No comparison on held-out campaigns: {err}.")
        return rows, notes
    say(0.12, f"Training a comparison model without {len(held.campaigns)} held-out campaign(s)")
    comparison = training.fit_predictor(train_part, settings, progress_span(say, 0.12, 0.45))
    say(0.46, "Scoring the held-out results with the current and the comparison model")
    before = predict_cells(store, old, cells) if old is not None and not held.old_saw else None
    for label, preds in (("before", before), ("after", predict_cells(store, comparison, cells))):
        for metric, value in _scored(cells, preds).items():
            rows.setdefault(f"held-out: {metric}", {})[label] = value
    fresh = sorted(set(map(str, train_part.groups)) - seen)
    notes.append(f"Held-out strategies: {', '.join(held.strategies)} (campaigns {', '.join(held.campaigns)}). "
                 + _before_note(held) + _after_note(len(fresh), old is not None))
    return rows, notes


def _before_note(held: HeldOut) -> str:
    if held.old_saw:
        return ("The current model was trained on them, so its figures there would show fit, not forecast; "
                "'before' is left empty.")
    return "'Before' is the current model's forecast of them."


def _after_note(fresh_campaigns: int, had_model: bool) -> str:
    """What the comparison model's "after" can show: learning from new campaigns, or only retraining noise."""
    if not had_model:
        return ""
    if fresh_campaigns:
        return (f" 'After' comes from a model that also learned from {fresh_campaigns} campaign(s) the current "
                "model had not seen.")
    return (" The comparison model learned from no result the current model lacked, so a difference "
            "there is retraining noise, not learning; the next campaign will test the new version.")


def _metrics_table(rows: dict[str, dict[str, float]], old_cv: dict, new_cv: dict) -> pd.DataFrame:
    """The before/after table: held-out rows, then each version's own cross-validated metrics."""
    rows = {k: dict(v) for k, v in rows.items()}
    for key in ("auc", "log_loss", "brier", "ece"):
        if key in new_cv:
            rows.setdefault(f"cross-validated {key} (each version's own campaign folds)", {}).update(
                {"before": old_cv.get(key, np.nan), "after": new_cv[key]}
            )
    return pd.DataFrame(
        [{"metric": k, "before": v.get("before", np.nan), "after": v.get("after", np.nan)} for k, v in rows.items()],
        columns=["metric", "before", "after"],
    )


def after_import(store: Store, cfg: AppConfig, import_id: int, progress: Progress | None = None) -> RetrainReport | None:
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
