"""The conversion model: the booster, the within-campaign copy score, calibration, an ensemble.

``CalibratedBoostedModel`` follows scikit-learn's estimator contract: settings
in ``__init__``, learning in ``fit`` (returns ``self``), learned state in
attributes ending in ``_``. Inside ``fit``:

1. the booster's preprocessing (``core.prediction.preprocess``) is fitted on the
   training rows only; without user data the booster reads only the brief;
2. the copy score (``core.prediction.copy_effects``) is learned within campaigns from
   each variant's counts, and cross-fitted over the same campaign folds as the booster;
3. the out-of-fold booster logit and copy score fit one logistic calibrator, which
   keeps the ranking and the spread both learned (an isotonic step function over
   4,536 Upworthy headlines left 29 distinct rates and erased Hillstrom's arm effects);
4. the final booster is fitted on all rows, and campaign-level Poisson bootstrap
   members (booster and copy score) give model uncertainty.

Fits run under one BLAS/OpenMP thread limit (``core.prediction.threads``), inputs are
rounded to float32 precision and rows sorted before the copy fit, so the same data
gives byte-identical predictions.

``Predictor`` bundles the fitted model with what scoring needs besides it:
reference copy vectors for the out-of-distribution check, training counts per
channel, historical rates, the neutral values used for reasons, and metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold
from sklearn.utils.validation import check_is_fitted

from core.errors import PredictionError
from core.prediction.copy_effects import copy_scores, fit_copy_score
from core.prediction.features import (
    ATTR_CAT_PREFIX,
    ATTR_NUM_PREFIX,
    BRIEF_CATEGORICAL,
    BRIEF_NUMERIC,
    CATEGORICAL_COLUMNS,
    COPY_NUMERIC,
    NUMERIC_COLUMNS,
    TEXT_COLUMN,
    USER_CATEGORICAL,
    USER_NUMERIC,
)
from core.prediction.metrics import binary_metrics, regression_metrics
from core.prediction.preprocess import TextComponents, make_preprocessor  # noqa: F401 (TextComponents: saved files)
from core.prediction.threads import limited_threads

_EPS = 1e-6


class CalibratedBoostedModel(BaseEstimator):
    """Boosted audience model + within-campaign copy score, combined and calibrated in one step.

    Parameters
    ----------
    task:
        ``"classification"`` (open, click, conversion) or ``"regression"`` (revenue per send).
    columns:
        Which input columns the booster may use; ``None`` = every known model column present in ``X``.
        Baselines pass a subset (user columns only, copy columns only).
    n_text_components:
        Components of the booster's hashed n-gram text representation (0 = none).
    calibration:
        ``"sigmoid"`` (default): a logistic regression on the out-of-fold booster logit and copy
        score, which keeps the ranking and the spread the models learned; ``"isotonic"`` (booster
        only, no copy score): a step function that can flatten learned effects.
    copy_model:
        Learn the within-campaign copy score (``core.prediction.copy_effects``); classification only.
    copy_alpha, text_embeddings:
        The copy score's L2 penalty, and whether it also reads the language model's text vectors.
    n_folds, n_bootstrap, negative_fraction:
        Campaign folds for cross-fitting; campaign-bootstrap members for intervals; for
        classification, the kept fraction of unit-weight negative rows (up-weighted by its
        inverse; aggregate rows are never dropped), ``None`` keeps every row.
    """

    def __init__(self, task: str = "classification", columns: tuple[str, ...] | None = None,
                 learning_rate: float = 0.05, max_iter: int = 250, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 200, l2_regularization: float = 1.0,
                 n_text_components: int = 8, calibration: str = "sigmoid", n_folds: int = 3,
                 n_bootstrap: int = 6, negative_fraction: float | None = 0.3,
                 copy_model: bool = True, copy_alpha: float = 10.0, text_embeddings: bool = False,
                 random_state: int = 0) -> None:
        self.task = task
        self.columns = columns
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.n_text_components = n_text_components
        self.calibration = calibration
        self.n_folds = n_folds
        self.n_bootstrap = n_bootstrap
        self.negative_fraction = negative_fraction
        self.copy_model = copy_model
        self.copy_alpha = copy_alpha
        self.text_embeddings = text_embeddings
        self.random_state = random_state

    # -- building blocks ------------------------------------------------------
    def _booster(self, seed: int):
        # Leaves count rows, not sends: with a few hundred aggregate rows (each standing for
        # thousands of sends) the row minimum must shrink or no split is ever allowed.
        leaf = int(max(1, min(self.min_samples_leaf, self.n_rows_ // 10)))
        params = dict(learning_rate=self.learning_rate, max_iter=self.max_iter,
                      max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=leaf,
                      l2_regularization=self.l2_regularization, early_stopping=False,
                      categorical_features=self.categorical_mask_, random_state=seed)
        if self.task == "classification":
            return HistGradientBoostingClassifier(**params)
        return HistGradientBoostingRegressor(**params)

    def _raw(self, est, Z: np.ndarray) -> np.ndarray:
        if est is None:  # no booster: a constant the calibrator's intercept absorbs
            return np.full(len(Z), 0.5)
        if self.task == "classification":
            return est.predict_proba(Z)[:, 1]
        return est.predict(Z)

    def _stack_inputs(self, raw: np.ndarray, copy: np.ndarray | None) -> np.ndarray:
        cols = [_logit(raw)] if self.uses_booster_ else []
        if copy is not None and self.copy_ is not None:
            cols.append(copy)
        return np.column_stack(cols) if cols else np.zeros((len(raw), 0))

    def _fit_calibrator(self, raw: np.ndarray, copy: np.ndarray | None, y: np.ndarray, w: np.ndarray):
        if self.calibration == "isotonic" and self.copy_ is None and self.uses_booster_:
            return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, y, sample_weight=w)
        F = self._stack_inputs(raw, copy)
        if F.shape[1] == 0:
            return float(np.average(y, weights=w))
        return LogisticRegression(C=1e4, max_iter=1000).fit(F, y, sample_weight=w / w.mean())

    def _calibrate(self, calibrator, raw: np.ndarray, copy: np.ndarray | None = None) -> np.ndarray:
        if self.task != "classification":
            return np.maximum(raw, 0.0)
        if isinstance(calibrator, IsotonicRegression):
            return calibrator.predict(raw)
        if isinstance(calibrator, float):
            return np.full(len(raw), calibrator)
        return calibrator.predict_proba(self._stack_inputs(raw, copy))[:, 1]

    # -- fitting --------------------------------------------------------------
    def _check(self, X: pd.DataFrame, y, sample_weight, groups):
        if self.task not in ("classification", "regression"):
            raise PredictionError(f"unknown task {self.task!r}")
        if self.calibration not in ("isotonic", "sigmoid"):
            raise PredictionError(f"unknown calibration {self.calibration!r}; use 'sigmoid' or 'isotonic'")
        y = np.asarray(y, dtype=float)
        n = len(y)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        groups = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
        if n == 0 or w.sum() <= 0:
            raise PredictionError("no training rows with positive weight")
        if self.task == "classification" and len(np.unique(y[w > 0])) < 2:
            raise PredictionError("the outcome never varies in the training data (all 0 or all 1); "
                                  "import results with both successes and failures")
        return y, w, groups

    def _choose_columns(self, X: pd.DataFrame) -> tuple[list[str], list[str], str | None]:
        wanted = set(self.columns) if self.columns is not None else None
        attr_num = sorted(c for c in X.columns if str(c).startswith(ATTR_NUM_PREFIX))
        attr_cat = sorted(c for c in X.columns if str(c).startswith(ATTR_CAT_PREFIX))
        known = lambda c: wanted is None or c in wanted or (  # noqa: E731
            str(c).startswith(("attr_num::", "attr_cat::")) and set(USER_NUMERIC) & wanted)
        # Columns never observed in training (e.g. user features when only aggregates exist) carry
        # nothing to learn and break binning, so they are left out.
        use = lambda cols: [c for c in cols if c in X.columns and known(c) and X[c].notna().any()]  # noqa: E731
        numeric = use(list(NUMERIC_COLUMNS) + attr_num)
        categorical = use(list(CATEGORICAL_COLUMNS) + attr_cat)
        text = TEXT_COLUMN if use((TEXT_COLUMN,)) else None
        user_cols = set(USER_NUMERIC) | set(USER_CATEGORICAL) | set(attr_num) | set(attr_cat)
        self.aggregate_only_ = not any(c in user_cols for c in numeric + categorical)
        if self.aggregate_only_ and self.copy_model and self.task == "classification":
            # Without user data, differences between campaigns are differences between audiences:
            # the copy score (learned within campaigns) speaks for the copy, the booster only for
            # the brief (channel, offer).
            brief = set(BRIEF_NUMERIC) | set(BRIEF_CATEGORICAL)
            numeric = [c for c in numeric if c in brief]
            categorical = [c for c in categorical if c in brief]
            text = None
        return numeric, categorical, text

    def _splits(self, Z: np.ndarray, groups: np.ndarray) -> list:
        codes, uniq = pd.factorize(groups)
        if len(uniq) >= 2:
            self.cv_unit_ = "campaign"
            return list(GroupKFold(n_splits=min(self.n_folds, len(uniq))).split(Z, groups=codes))
        self.cv_unit_ = "row"
        return list(KFold(n_splits=self.n_folds, shuffle=True, random_state=self.random_state).split(Z))

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None, progress=None) -> CalibratedBoostedModel:
        """Fit on rows ``X`` (a model-column frame) with targets ``y``.

        ``groups`` are the campaign ids; folds and bootstrap draws never split a campaign.
        ``progress(fraction, message)`` is called between steps when given.
        """
        y, w, groups = self._check(X, y, sample_weight, groups)
        with limited_threads():
            return self._fit(X.reset_index(drop=True), y, w, groups, progress or (lambda f, m: None))

    def _fit(self, X: pd.DataFrame, y: np.ndarray, w: np.ndarray, groups: np.ndarray, progress) -> CalibratedBoostedModel:
        numeric, categorical, text = self._choose_columns(X)
        self.feature_names_in_ = np.array(numeric + categorical + ([text] if text else []), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.preprocessor_ = make_preprocessor(numeric, categorical, text, self.n_text_components,
                                               self.random_state)
        Zb = _stable(self.preprocessor_.fit_transform(X[list(self.feature_names_in_)]).astype(float))
        names = np.asarray(self.preprocessor_.get_feature_names_out(), dtype=object)
        self.booster_names_ = names
        self.categorical_mask_ = np.array([name in categorical for name in names])
        self.uses_booster_ = bool(Zb.shape[1] and (np.nanstd(Zb, axis=0) > 0).any())
        splits = self._splits(Zb, groups)
        use_copy = self.copy_model and self.task == "classification"
        fitted: tuple[Any, Any] = fit_copy_score(self, X, y, w, groups, splits) if use_copy else (None, None)
        self.copy_, copy_oof = fitted
        progress(0.2, "Copy effects learned within campaigns")
        if self.task == "classification":
            self.classes_ = np.array([0, 1])
            keep = self._thin(y, w)
            w = np.where((y == 0) & (w <= 1), w / (self.negative_fraction or 1.0), w)[keep]
            Zb, y, groups = Zb[keep], y[keep], groups[keep]
            copy_oof = copy_oof[keep] if copy_oof is not None else None
            splits = self._splits(Zb, groups)
        self.n_rows_ = len(y)
        oof = self._cross_fit(Zb, y, w, splits, progress)
        self._fit_final(Zb, y, w, groups, oof, copy_oof, splits, progress)
        return self

    def _thin(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        frac = self.negative_fraction
        if frac is None or not 0 < frac < 1:
            return np.ones(len(y), dtype=bool)
        rng = np.random.default_rng(self.random_state + 7)
        thin = (y == 0) & (w <= 1)
        return ~thin | (rng.random(len(y)) < frac)

    def _cross_fit(self, Zb: np.ndarray, y: np.ndarray, w: np.ndarray, splits: list, progress) -> np.ndarray:
        """Out-of-fold booster scores: from models that never saw those campaigns."""
        oof = np.full(len(y), 0.5)
        if not self.uses_booster_:
            return oof
        for k, (tr, te) in enumerate(splits):
            est = self._booster(self.random_state + k).fit(Zb[tr], y[tr], sample_weight=w[tr])
            oof[te] = self._raw(est, Zb[te])
            progress(0.2 + 0.3 * (k + 1) / len(splits), f"Cross-fitting fold {k + 1} of {len(splits)}")
        return oof

    def _fit_final(self, Zb, y, w, groups, oof, copy_oof, splits, progress) -> None:
        if self.task == "classification":
            self.calibrator_ = self._fit_calibrator(oof, copy_oof, y, w)
            # Honest CV metrics: each fold calibrated by a calibrator that never saw it.
            cal = np.zeros(len(y))
            for tr, te in splits:
                c = self._fit_calibrator(oof[tr], None if copy_oof is None else copy_oof[tr], y[tr], w[tr])
                cal[te] = self._calibrate(c, oof[te], None if copy_oof is None else copy_oof[te])
            self.cv_metrics_ = binary_metrics(y, cal, w)
            self.cv_metrics_["calibration_check"] = spread_check(oof, cal, w, self.uses_booster_)
        else:
            self.calibrator_ = None
            self.cv_metrics_ = regression_metrics(y, np.maximum(oof, 0), w)
        self.cv_metrics_.update(cv_unit=self.cv_unit_, folds=len(splits), copy_score=self.copy_ is not None,
                                booster=self.uses_booster_)
        self.estimator_ = self._booster(self.random_state).fit(Zb, y, sample_weight=w) if self.uses_booster_ else None
        progress(0.7, "Final model")
        codes, uniq = pd.factorize(groups)
        rng = np.random.default_rng(self.random_state)
        self.members_ = []
        for b in range(self.n_bootstrap if self.uses_booster_ else 0):
            draw = rng.poisson(1.0, size=len(uniq)).astype(float)
            if draw.sum() == 0:
                draw[rng.integers(len(uniq))] = 1.0
            bw = w * draw[codes]
            keep = bw > 0
            self.members_.append(self._booster(self.random_state + 100 + b).fit(Zb[keep], y[keep],
                                                                                  sample_weight=bw[keep]))
            progress(0.7 + 0.3 * (b + 1) / self.n_bootstrap, f"Bootstrap model {b + 1} of {self.n_bootstrap}")
        self.feature_names_out_ = np.concatenate([self.booster_names_, np.array(self._copy_names(), dtype=object)])

    def _copy_names(self) -> list[str]:
        if self.copy_ is None:
            return []
        return ["copy_score"] + [f"copy_score_m{b + 1}" for b in range(len(self.copy_.members_coef_))]

    @property
    def n_members(self) -> int:
        """Bootstrap members available for intervals (booster members, else copy-score members)."""
        if self.members_:
            return len(self.members_)
        return len(self.copy_.members_coef_) if self.copy_ is not None else 0

    # -- prediction -----------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The matrix the models read: the booster's columns, then the copy score(s)."""
        check_is_fitted(self, "feature_names_out_")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise PredictionError(f"input lacks model column(s): {', '.join(missing)}")
        with limited_threads():
            Zb = _stable(self.preprocessor_.transform(X[list(self.feature_names_in_)]).astype(float))
            if self.copy_ is None:
                return Zb
            return np.column_stack([Zb, copy_scores(self.copy_, X)])

    def predict_matrix(self, Z: np.ndarray, member: int | None = None) -> np.ndarray:
        """Calibrated rates for a transformed matrix; ``member`` picks a bootstrap model."""
        nb = len(self.booster_names_)
        est = self.estimator_ if member is None or not self.members_ else self.members_[member]
        copy = None
        if self.copy_ is not None:
            k = 0 if member is None or not self.copy_.members_coef_ else 1 + member % len(self.copy_.members_coef_)
            copy = Z[:, nb + k]
        with limited_threads():
            return self._calibrate(self.calibrator_, self._raw(est, Z[:, :nb]), copy)

    def predict_rate(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability (classification) or expected value (regression) per row."""
        return self.predict_matrix(self.transform(X))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if self.task != "classification":
            raise PredictionError("predict_proba is only defined for open/click/conversion models")
        p = self.predict_rate(X)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        if self.task == "classification":
            return (self.predict_rate(X) >= 0.5).astype(int)
        return self.predict_rate(X)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _stable(Z: np.ndarray) -> np.ndarray:
    """Inputs rounded to float32 precision: sums that differ only in their last bits (a parallel
    SQL aggregate) must not change the bins, so the same data gives the same model."""
    return Z.astype(np.float32).astype(np.float64)


def spread_check(raw: np.ndarray, calibrated: np.ndarray, w: np.ndarray, booster: bool) -> dict:
    """How much of the learned spread survives calibration (out-of-fold; recorded with the model)."""
    out = {"calibrated_sd": float(np.sqrt(np.cov(calibrated, aweights=w))) if len(calibrated) > 1 else 0.0,
           "calibrated_distinct": int(len(np.unique(np.round(calibrated, 12))))}
    if booster:
        out["raw_sd"] = float(np.sqrt(np.cov(raw, aweights=w))) if len(raw) > 1 else 0.0
        out["raw_distinct"] = int(len(np.unique(np.round(raw, 12))))
    return out


class Predictor:
    """A fitted model plus what scoring needs: reference data, neutral values, metrics.

    Attributes are plain numbers, strings, lists, dicts and numpy arrays so the
    whole object saves with skops without executing code on load.
    """

    def __init__(self, model: CalibratedBoostedModel, outcome: str, reference: dict,
                 metrics: dict, data_hash: str, settings_hash: str, version: int | None = None) -> None:
        self.model = model
        self.outcome = outcome
        self.reference = reference
        self.metrics = metrics
        self.data_hash = data_hash
        self.settings_hash = settings_hash
        self.version = version


def copy_vectors(X: pd.DataFrame, model: CalibratedBoostedModel) -> np.ndarray:
    """The copy part of rows (copy/brief numbers, the booster's text components), for distance checks."""
    cols = [c for c in COPY_NUMERIC + BRIEF_NUMERIC if c in X.columns]
    base = X[cols].apply(pd.to_numeric, errors="coerce").fillna(0.0).to_numpy(float)
    names = list(model.booster_names_)
    idx = [i for i, n in enumerate(names) if str(n).startswith("text_")]
    if not idx:
        return base
    Z = _stable(model.preprocessor_.transform(X[list(model.feature_names_in_)]).astype(float))
    return np.column_stack([base, Z[:, idx]])


def nearest_distance(points: np.ndarray, reference: np.ndarray, skip_self: bool = False) -> np.ndarray:
    """Euclidean distance from each point to its nearest reference point, in O(n) memory.

    A k-d tree instead of an all-pairs array: 18,130 Upworthy variants x 26 copy numbers made
    the all-pairs version ask for 63.7 GiB. ``skip_self``: the points are the reference itself.
    """
    from sklearn.neighbors import NearestNeighbors

    if len(reference) == 0:
        return np.full(len(points), np.inf)
    k = 2 if skip_self else 1
    if len(reference) < k:
        return np.full(len(points), np.inf)
    nn = NearestNeighbors(n_neighbors=k, algorithm="kd_tree").fit(reference)
    with limited_threads():
        dist, _ = nn.kneighbors(points)
    return dist[:, k - 1]


def fresh(model: CalibratedBoostedModel, **changes) -> CalibratedBoostedModel:
    """An unfitted copy of ``model`` with some settings changed (for baselines)."""
    return clone(model).set_params(**changes)
