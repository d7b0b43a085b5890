"""Honest evaluation of the predictor: a held-out split by campaign, against baselines and the truth.

``python -m core.sample evaluate [--db PATH] [--fast]`` prints one JSON object.

The split is by campaign, stratified by channel: every variant in the test
set belongs to a campaign the model never saw. In the same run and on the same
split we fit three baselines (the base rate, a segment-only model that sees the
user but not the copy, a copy-only model that sees the copy but not the user)
and, on the sample data, score the oracle (the true response model the sample
was drawn from). For the sample data we also compare predicted and true rates
of every test variant in every built-in segment (Spearman correlation).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from core.config import SAMPLE_DIR
from core.errors import CopyLiftError, NotFoundError
from core.prediction.features import COPY_COLUMNS, USER_COLUMNS, TrainingData, build_training_data, load_variants
from core.prediction.metrics import binary_metrics, regression_metrics
from core.prediction.scoring import predict_variants
from core.prediction.training import TrainingSettings, fit_predictor
from core.sample.history import purchase_history_at
from core.sample.truth import ResponseModel, copy_frame
from core.segments import list_segments, segment_members
from core.store import Store


def split_by_campaign(groups: np.ndarray, channels: np.ndarray, test_fraction: float = 0.25,
                      seed: int = 0) -> np.ndarray:
    """Boolean test mask: whole campaigns go to the test side, about ``test_fraction`` per channel.

    A channel with a single campaign stays in training (the model must have seen the channel).
    """
    groups = np.asarray(groups).astype(str)
    channels = np.asarray(channels).astype(str)
    frame = pd.DataFrame({"g": groups, "c": channels}).drop_duplicates("g").sort_values("g")
    rng = np.random.default_rng(seed)
    test: set[str] = set()
    for _, block in frame.groupby("c", sort=True):
        ids = block["g"].to_numpy()
        if len(ids) < 2:
            continue
        k = max(1, int(round(len(ids) * test_fraction)))
        test.update(rng.choice(ids, size=min(k, len(ids) - 1), replace=False).tolist())
    return np.isin(groups, list(test))


def _subset(data: TrainingData, mask: np.ndarray) -> TrainingData:
    return TrainingData(
        X=data.X[mask].reset_index(drop=True), y=data.y[mask], weight=data.weight[mask],
        groups=data.groups[mask], variant_ids=data.variant_ids[mask], source=data.source[mask],
        user_ids=data.user_ids[mask], outcome=data.outcome,
    )


def _oracle(store: Store, test: TrainingData, truth_dir: Path):
    """The true response model's probabilities for the test rows (None without sample truth)."""

    try:
        truth = ResponseModel.load(truth_dir)
    except NotFoundError:
        return None, None
    variants = load_variants(store).set_index("variant_id")
    users = test.user_ids
    if any(u is None for u in users) or not set(map(str, users)) <= set(truth.users()["user_id"].astype(str)):
        return None, truth  # imported data: no true model for these users
    vids = test.variant_ids
    uniq, codes = np.unique(vids, return_inverse=True)
    v = variants.loc[uniq]
    copy = copy_frame(v["copy_text"].tolist(), v["channel"].tolist(),
                      [c if isinstance(c, str) else None for c in v["category"]])
    ids = [str(u) for u in users]
    traits = truth.users_at_send(ids, history_at_send(store, np.asarray(ids), np.asarray(vids).astype(str)))
    return truth.probability(traits, copy.iloc[codes].reset_index(drop=True)), truth


def history_at_send(store: Store, user_ids: np.ndarray, variant_ids: np.ndarray) -> pd.DataFrame:
    """Organic purchase history of each (user, variant) exposure's user as of that send.

    The same counting as the sample generator (``core.sample.history.purchase_history_at``
    over purchases no campaign caused), read back from the database: the oracle must score
    each past exposure with what the user had done by then, not by the end of the window.
    """

    sent = store.df("SELECT user_id, variant_id, CAST(epoch(min(sent_at)) AS BIGINT) AS sent_s "
                    "FROM exposures GROUP BY user_id, variant_id")
    rows = pd.DataFrame({"user_id": user_ids, "variant_id": variant_ids}).merge(
        sent, how="left", on=["user_id", "variant_id"], validate="many_to_one")
    if rows["sent_s"].isna().any():
        raise NotFoundError("some evaluated rows have no exposure with a send time")
    buys = store.df("SELECT user_id, CAST(epoch(ts) AS BIGINT) AS t, price * quantity AS spend FROM events "
                    "WHERE event_type = 'purchase' AND campaign_id IS NULL AND user_id IS NOT NULL")
    return purchase_history_at(buys["user_id"].to_numpy(), buys["t"].to_numpy(), buys["spend"].fillna(0).to_numpy(),
                               rows["user_id"].to_numpy(), rows["sent_s"].to_numpy())


MAX_SEGMENTS = 12


def _segment_rates(store: Store, predictors: dict, truth, test_variants: pd.DataFrame) -> dict:
    """Spearman between predicted and true variant x segment rates, per predictor."""

    copy = copy_frame(test_variants["copy_text"].tolist(), test_variants["channel"].tolist(),
                      [c if isinstance(c, str) else None for c in test_variants["category"]])
    known = set(truth.users()["user_id"].astype(str))
    true_rates: list[float] = []
    predicted: dict[str, list[float]] = {name: [] for name in predictors}
    segments = [None, *list_segments(store)][:MAX_SEGMENTS]
    used = 0
    for seg in segments:
        members = segment_members(store, seg)
        ids = [u for u in members["user_id"].astype(str) if u in known]
        if len(ids) < 50:
            continue
        used += 1
        traits = truth.users(ids)
        for i in range(len(copy)):
            true_rates.append(float(truth.probability(traits, copy.iloc[[i]]).mean()))
        for name, pred in predictors.items():
            preds = predict_variants(store, pred, test_variants, seg, sample_size=1500)
            predicted[name].extend(p.rate for p in preds)
    out: dict[str, float] = {"segments": used, "variants": int(len(test_variants)), "pairs": len(true_rates)}
    for name, values in predicted.items():
        out[f"spearman_{name}"] = float(spearmanr(values, true_rates).statistic)
    return out


def evaluate(store: Store, outcome: str = "conversion", settings: TrainingSettings | None = None,
             test_fraction: float = 0.25, seed: int = 0, truth_dir: Path = SAMPLE_DIR,
             segments: bool = True) -> dict:
    """Fit on training campaigns, score held-out campaigns; return metrics, baselines and the oracle."""
    settings = settings or TrainingSettings()
    started = time.perf_counter()
    data = build_training_data(store, outcome)
    test_mask = split_by_campaign(data.groups, data.X["channel"].to_numpy(), test_fraction, seed)
    if not test_mask.any() or test_mask.all():
        raise CopyLiftError("need at least two campaigns per channel to hold some out; import more campaigns")
    train, test = _subset(data, ~test_mask), _subset(data, test_mask)
    score = binary_metrics if outcome != "revenue" else regression_metrics
    report: dict = {
        "outcome": outcome,
        "split": "by campaign, stratified by channel",
        "train": {"campaigns": int(len(np.unique(train.groups))), "rows": train.n_rows},
        "test": {"campaigns": int(len(np.unique(test.groups))), "rows": test.n_rows,
                 "variants": int(len(np.unique(test.variant_ids)))},
        "settings": settings.__dict__,
    }
    # Intervals are not scored here, so the bootstrap ensemble is skipped to save time.
    model = fit_predictor(train, TrainingSettings(**{**settings.__dict__, "n_bootstrap": 0}))
    print(f"[{time.perf_counter() - started:.0f}s] model fitted", file=sys.stderr)
    quick = TrainingSettings(**{**settings.__dict__, "n_bootstrap": 0})
    segment_only = fit_predictor(train, quick, columns=USER_COLUMNS)
    copy_only = fit_predictor(train, quick, columns=COPY_COLUMNS)
    base = np.full(test.n_rows, np.average(train.y, weights=train.weight))
    report["model"] = score(test.y, model.model.predict_rate(test.X), test.weight)
    report["baselines"] = {
        "base_rate": score(test.y, base, test.weight),
        "segment_only": score(test.y, segment_only.model.predict_rate(test.X), test.weight),
        "copy_only": score(test.y, copy_only.model.predict_rate(test.X), test.weight),
    }
    report["cross_validated_on_train"] = model.metrics
    print(json.dumps({k: report[k] for k in ("model", "baselines")}, default=float), file=sys.stderr)
    oracle, truth = _oracle(store, test, truth_dir) if outcome == "conversion" else (None, None)
    if oracle is not None:
        report["oracle"] = score(test.y, oracle, test.weight)
        report["auc_gap_to_oracle"] = report["oracle"]["auc"] - report["model"]["auc"]
    if segments and truth is not None and outcome == "conversion":
        variants = load_variants(store)
        tv = variants[variants["variant_id"].isin(np.unique(test.variant_ids))].reset_index(drop=True)
        report["variant_x_segment"] = _segment_rates(
            store, {"model": model, "segment_only": segment_only, "copy_only": copy_only}, truth, tv)
    if outcome != "revenue":
        report["targets"] = {
            "auc_within_0.02_of_oracle": None if oracle is None else bool(report["auc_gap_to_oracle"] <= 0.02),
            "ece_below_0.005": bool(report["model"]["ece"] < 0.005),
            "spearman_at_least_0.85": (bool(report["variant_x_segment"]["spearman_model"] >= 0.85)
                                       if "variant_x_segment" in report else None),
        }
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report
