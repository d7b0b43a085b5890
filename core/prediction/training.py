"""Train a predictor from the store and record it as a new model version.

``train_model`` is the one code path used by the Predict page's Retrain button,
``python -m core.prediction train`` and the benchmarks: assemble rows
(``features.build_training_data``, less any campaigns held out for
evaluation: ``without_campaigns``), fit ``CalibratedBoostedModel``, collect the
reference data scoring needs (``build_reference``), save with the registry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from core.config import AppConfig, load_config
from core.errors import PredictionError
from core.prediction.features import (
    BRIEF_NUMERIC,
    COPY_NUMERIC,
    TrainingData,
    UserFeatureFn,
    build_training_data,
    data_hash,
)
from core.prediction.model import CalibratedBoostedModel, Predictor, copy_vectors, nearest_distance
from core.prediction.registry import ModelVersion, save_predictor
from core.store import Store

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class TrainingSettings:
    """Model settings; hashed into the version record so a result can be traced to them."""

    learning_rate: float = 0.1
    max_iter: int = 120
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0
    n_text_components: int = 8
    calibration: str = "sigmoid"
    n_folds: int = 2
    n_bootstrap: int = 4
    negative_fraction: float | None = 0.3
    copy_model: bool = True
    copy_alpha: float = 10.0
    # The language model's text vectors in the copy score: +0.04 pairwise accuracy on Upworthy,
    # but ~15-30 ms per new text on a 2-core CPU (cached by text hash afterwards).
    text_embeddings: bool = True
    random_state: int = 0

    def hash(self, outcome: str) -> str:
        payload = json.dumps({"outcome": outcome, **asdict(self)}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def model(self, outcome: str, columns: tuple[str, ...] | None = None) -> CalibratedBoostedModel:
        params = asdict(self)
        return CalibratedBoostedModel(task="regression" if outcome == "revenue" else "classification",
                                      columns=columns, **params)


# Small and fast, for tests and the page's quick check; same code path as the default.
FAST_SETTINGS = TrainingSettings(max_iter=60, learning_rate=0.15, n_folds=2, n_bootstrap=3,
                                 min_samples_leaf=50, text_embeddings=False)


def without_campaigns(data: TrainingData, campaigns: Sequence[str]) -> TrainingData:
    """``data`` less every row whose campaign (its ``groups`` entry) is in ``campaigns``.

    Used to hold campaigns out of training so they can test a model honestly.
    Raises ``PredictionError`` when nothing would be left to learn from.
    """
    if not campaigns:
        return data
    keep = ~np.isin(data.groups, np.asarray([str(c) for c in campaigns], dtype=str))
    if not keep.any():
        raise PredictionError("every campaign in the store was held out; nothing is left to train on")
    return replace(data, X=data.X[keep].reset_index(drop=True), y=data.y[keep], weight=data.weight[keep],
                   groups=data.groups[keep], variant_ids=data.variant_ids[keep], source=data.source[keep],
                   user_ids=data.user_ids[keep])


def subset(data: TrainingData, mask: np.ndarray) -> TrainingData:
    """The rows of ``data`` where ``mask`` is true (for held-out evaluations)."""
    return replace(data, X=data.X[mask].reset_index(drop=True), y=data.y[mask], weight=data.weight[mask],
                   groups=data.groups[mask], variant_ids=data.variant_ids[mask], source=data.source[mask],
                   user_ids=data.user_ids[mask])


def _first_per_variant(data: TrainingData) -> np.ndarray:
    _, first = np.unique(data.variant_ids, return_index=True)
    return np.sort(first)


def _stable_round(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32).astype(np.float64)


def build_reference(model: CalibratedBoostedModel, data: TrainingData) -> dict:
    """What scoring needs besides the model: OOD reference, neutral values, historical rates."""
    rows = _first_per_variant(data)
    Xv = data.X.iloc[rows].reset_index(drop=True)
    vec = copy_vectors(Xv, model)
    centre = vec.mean(axis=0)
    scale = vec.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    # Identical copy vectors (the same text in many campaigns) count once as a reference point.
    std = np.unique(_stable_round((vec - centre) / scale), axis=0)
    if len(std) > 1:
        nearest = nearest_distance(std, std, skip_self=True)
        # A new text counts as out of distribution when it is further from every training
        # variant than almost any training variant is from its nearest neighbour.
        threshold = float(np.quantile(nearest, 0.95) * 1.5)
    else:
        threshold = float("inf")
    Z = model.transform(Xv)
    names = [str(n) for n in model.feature_names_out_]
    medians = {n: float(np.nanmedian(Z[:, i])) if np.isfinite(Z[:, i]).any() else 0.0 for i, n in enumerate(names)}
    means = {n: float(np.nanmean(Z[:, i])) if np.isfinite(Z[:, i]).any() else 0.0 for i, n in enumerate(names)}
    offer_codes: dict[str, float] = {}
    cat_step = dict(model.preprocessor_.named_transformers_).get("cat")
    if cat_step is not None and hasattr(cat_step, "categories_"):
        for col, cats in zip(cat_step.feature_names_in_, cat_step.categories_):
            if col == "offer_type":
                offer_codes = {str(c): float(i) for i, c in enumerate(cats)}
    channels = data.X["channel"].astype(str).to_numpy()
    w, y = data.weight, data.y
    channel_weight = {c: float(w[channels == c].sum()) for c in np.unique(channels)}
    channel_rate = {c: float(np.average(y[channels == c], weights=w[channels == c])) for c in np.unique(channels)}
    return {
        "copy_centre": centre,
        "copy_scale": scale,
        "copy_vectors": std,
        "ood_threshold": threshold,
        "medians": medians,
        "means": means,
        "offer_codes": offer_codes,
        "channel_weight": channel_weight,
        "channel_rate": channel_rate,
        "overall_rate": float(np.average(y, weights=w)),
        "target_sd": float(np.sqrt(np.average((y - np.average(y, weights=w)) ** 2, weights=w))),
        "n_variants": int(len(rows)),
        "n_campaigns": int(len(np.unique(data.groups))),
        "n_rows": int(data.n_rows),
        "n_sends": float(w.sum()),
        "uses_user_features": bool(any(n in model.feature_names_out_ for n in ("recency_days", "frequency_180d"))
                                   or any(str(n).startswith(("attr_num::", "attr_cat::")) for n in names)),
        "uses_attributes": bool(any(str(n).startswith(("attr_num::", "attr_cat::")) for n in names)),
        "copy_score": model.copy_ is not None,
        "text_representation": text_representation(model),
        "copy_numeric": [n for n in names if n in COPY_NUMERIC + BRIEF_NUMERIC],
    }


def text_representation(model: CalibratedBoostedModel) -> str:
    """Plain words for what the model reads of the copy (shown on the Predict page and the CLI)."""
    parts = ["interpretable copy features"]
    if any(str(n).startswith("text_") for n in model.booster_names_):
        parts.append("n-gram components")
    if model.copy_ is not None:
        words = "word and character n-grams"
        if model.copy_.text_embeddings:
            from core.prediction.embeddings import MODEL_LABEL

            words += f" + {MODEL_LABEL} text vectors"
        parts.append(f"within-campaign copy score ({words})")
    return "; ".join(parts)


def fit_predictor(data: TrainingData, settings: TrainingSettings | None = None,
                  progress: Progress | None = None, columns: tuple[str, ...] | None = None) -> Predictor:
    """Fit a model on ``data`` and wrap it with its reference data (nothing is saved)."""
    settings = settings or TrainingSettings()
    model = settings.model(data.outcome, columns)
    model.fit(data.X, data.y, sample_weight=data.weight, groups=data.groups,
              progress=(lambda f, m: progress(0.3 + 0.65 * f, m)) if progress else None)
    reference = build_reference(model, data)
    metrics = dict(model.cv_metrics_)
    metrics.update(n_campaigns=reference["n_campaigns"], n_variants=reference["n_variants"],
                   n_rows=reference["n_rows"], n_sends=reference["n_sends"],
                   sources=sorted(set(map(str, data.source))), outcome=data.outcome,
                   text_representation=reference["text_representation"],
                   # Which campaigns this model learned from, so a later retrain can tell
                   # which results it never saw (core.learning's held-out comparison).
                   campaigns=sorted(set(map(str, data.groups))))
    return Predictor(model, data.outcome, reference, metrics, data_hash(data), settings.hash(data.outcome))


def train_model(store: Store, cfg: AppConfig | None = None, outcome: str = "conversion",
                progress: Progress | None = None, *, settings: TrainingSettings | None = None,
                user_features: UserFeatureFn | None = None, note: str | None = None,
                exclude_campaigns: Sequence[str] = ()) -> ModelVersion:
    """Train on everything in the store (less ``exclude_campaigns``) and save a new model version.

    Parameters
    ----------
    outcome:
        ``"conversion"`` (default), ``"open"``, ``"click"`` or ``"revenue"`` (per send).
    progress:
        ``progress(fraction, message)``, called as the work advances (for ``st.status``).
    settings:
        Model settings; ``FAST_SETTINGS`` trains a smaller model in a few seconds.
    exclude_campaigns:
        Campaign ids (as in ``TrainingData.groups``) whose rows are left out, e.g. campaigns
        held out to evaluate the model; recorded in the version's metrics.
    """
    cfg = cfg or load_config()
    if progress:
        progress(0.0, "Reading exposures and results")
    data = build_training_data(store, outcome, user_features=user_features, progress=progress)
    data = without_campaigns(data, exclude_campaigns)
    predictor = fit_predictor(data, settings, progress)
    if exclude_campaigns:
        predictor.metrics["excluded_campaigns"] = sorted(map(str, exclude_campaigns))
    if progress:
        progress(0.97, "Saving the model")
    version = save_predictor(store, cfg, predictor, note=note)
    if progress:
        progress(1.0, f"Model version {version.version} saved")
    return version


def training_summary(data: TrainingData) -> pd.DataFrame:
    """Rows and weight per source, for the CLI and the page."""
    frame = pd.DataFrame({"source": data.source, "weight": data.weight, "y": data.y * data.weight})
    return frame.groupby("source", as_index=False).agg(rows=("weight", "size"), sends=("weight", "sum"),
                                                      outcomes=("y", "sum"))
