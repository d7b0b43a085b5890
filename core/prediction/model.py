"""The conversion model: a preprocessing pipeline, a boosted classifier, calibration, an ensemble.

``CalibratedBoostedModel`` follows scikit-learn's estimator contract: settings
in ``__init__``, learning in ``fit`` (returns ``self``), learned state in
attributes ending in ``_``. Inside ``fit``:

1. a ``ColumnTransformer`` (numbers passed through, categories ordinal-coded,
   the copy text turned into a few hashed word/char n-gram components) is fitted
   on the training rows only;
2. the booster is cross-fitted over campaign folds (``GroupKFold``), and the
   out-of-fold scores, which come from models that never saw those campaigns,
   fit the calibrator (isotonic or Platt) and give honest cross-validated metrics;
3. the final booster is fitted on all rows, and a campaign-level Poisson
   bootstrap ensemble is fitted for model uncertainty (all members share the
   preprocessing and the calibrator).

``Predictor`` bundles the fitted model with what scoring needs besides it:
reference copy vectors for the out-of-distribution check, training counts per
channel, historical rates, the neutral values used for reasons, and metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, KFold
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

from core.errors import PredictionError
from core.prediction.features import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, TEXT_COLUMN
from core.prediction.metrics import binary_metrics, regression_metrics

_EPS = 1e-6


class TextComponents(TransformerMixin, BaseEstimator):
    """Hashed word and character n-grams of one text column, reduced to a few components.

    Each distinct text is transformed once (campaign data repeats one text over
    thousands of rows), so transforming a million rows costs a factorize.
    """

    def __init__(self, n_components: int = 8, n_features: int = 2**14, random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_features = n_features
        self.random_state = random_state

    def _vectorizers(self) -> tuple[HashingVectorizer, HashingVectorizer]:
        word = HashingVectorizer(n_features=self.n_features, ngram_range=(1, 2), alternate_sign=False,
                                 norm=None)
        char = HashingVectorizer(n_features=self.n_features, analyzer="char_wb", ngram_range=(3, 5),
                                 alternate_sign=False, norm=None)
        return word, char

    def _counts(self, texts: list[str]):
        word, char = self._vectorizers()
        return sparse.hstack([word.transform(texts), char.transform(texts)]).tocsr()

    @staticmethod
    def _texts(X) -> np.ndarray:
        col = X.iloc[:, 0] if isinstance(X, pd.DataFrame) else pd.Series(np.asarray(X).ravel())
        return col.astype(object).where(col.notna(), "").astype(str).to_numpy()

    def fit(self, X, y=None):
        uniques = pd.unique(self._texts(X))
        counts = self._counts(list(uniques))
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(counts)
        k = int(max(1, min(self.n_components, len(uniques) - 1, counts.shape[1] - 1)))
        self.svd_ = TruncatedSVD(n_components=k, random_state=self.random_state).fit(self.tfidf_.transform(counts))
        self.n_components_ = k
        return self

    def transform(self, X) -> np.ndarray:
        check_is_fitted(self, "svd_")
        codes, uniques = pd.factorize(self._texts(X))
        comps = self.svd_.transform(self.tfidf_.transform(self._counts(list(uniques))))
        return comps[codes]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        check_is_fitted(self, "n_components_")
        return np.array([f"text_{i}" for i in range(self.n_components_)], dtype=object)


def make_preprocessor(numeric: list[str], categorical: list[str], text: str | None,
                      n_text_components: int, random_state: int) -> ColumnTransformer:
    """The preprocessing step: numbers as they are, categories coded, text components."""
    steps = [("num", "passthrough", numeric),
             ("cat", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan,
                                    encoded_missing_value=np.nan), categorical)]
    if text and n_text_components > 0:
        steps.append(("text", TextComponents(n_text_components, random_state=random_state), [text]))
    return ColumnTransformer(steps, verbose_feature_names_out=False, sparse_threshold=0.0)


class CalibratedBoostedModel(BaseEstimator):
    """Gradient-boosted model of one outcome with calibration and a bootstrap ensemble.

    Parameters
    ----------
    task:
        ``"classification"`` (open, click, conversion) or ``"regression"`` (revenue per send).
    columns:
        Which input columns to use; ``None`` = every known model column present in ``X``.
        Baselines pass a subset (user columns only, copy columns only).
    n_text_components:
        Components of the hashed n-gram text representation (0 = no text components).
    calibration:
        ``"isotonic"`` or ``"sigmoid"`` (Platt) for classification.
    n_folds:
        Campaign folds for cross-fitting the calibrator.
    n_bootstrap:
        Members of the campaign-bootstrap ensemble used for model intervals.
    negative_fraction:
        For classification, keep this fraction of the unit-weight negative rows and
        up-weight them by its inverse (an unbiased, ~3x cheaper fit when outcomes are
        rare); ``None`` keeps every row. Aggregate rows are never dropped.
    """

    def __init__(self, task: str = "classification", columns: tuple[str, ...] | None = None,
                 learning_rate: float = 0.05, max_iter: int = 250, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 200, l2_regularization: float = 1.0,
                 n_text_components: int = 8, calibration: str = "isotonic", n_folds: int = 3,
                 n_bootstrap: int = 6, negative_fraction: float | None = 0.3,
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
        if self.task == "classification":
            return est.predict_proba(Z)[:, 1]
        return est.predict(Z)

    def _fit_calibrator(self, scores: np.ndarray, y: np.ndarray, w: np.ndarray):
        if self.calibration == "isotonic":
            return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y, sample_weight=w)
        logit = np.log(np.clip(scores, _EPS, 1 - _EPS) / (1 - np.clip(scores, _EPS, 1 - _EPS)))
        return LogisticRegression(C=1e4).fit(logit.reshape(-1, 1), y, sample_weight=w)

    def _calibrate(self, calibrator, scores: np.ndarray) -> np.ndarray:
        if self.task != "classification" or calibrator is None:
            return scores if self.task == "classification" else np.maximum(scores, 0.0)
        if isinstance(calibrator, IsotonicRegression):
            return calibrator.predict(scores)
        s = np.clip(scores, _EPS, 1 - _EPS)
        return calibrator.predict_proba(np.log(s / (1 - s)).reshape(-1, 1))[:, 1]

    # -- fitting --------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None, progress=None) -> CalibratedBoostedModel:
        """Fit on rows ``X`` (a model-column frame) with targets ``y``.

        ``groups`` are the campaign ids; folds and bootstrap draws never split a campaign.
        ``progress(fraction, message)`` is called between steps when given.
        """
        if self.task not in ("classification", "regression"):
            raise PredictionError(f"unknown task {self.task!r}")
        if self.calibration not in ("isotonic", "sigmoid"):
            raise PredictionError(f"unknown calibration {self.calibration!r}; use 'isotonic' or 'sigmoid'")
        y = np.asarray(y, dtype=float)
        n = len(y)
        w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        groups = np.arange(n).astype(str) if groups is None else np.asarray(groups).astype(str)
        if n == 0 or w.sum() <= 0:
            raise PredictionError("no training rows with positive weight")
        if self.task == "classification" and len(np.unique(y[w > 0])) < 2:
            raise PredictionError("the outcome never varies in the training data (all 0 or all 1); "
                                  "import results with both successes and failures")
        wanted = set(self.columns) if self.columns is not None else None
        # Columns never observed in training (e.g. user features when only aggregates exist) carry
        # nothing to learn and break binning, so they are left out.
        use = lambda cols: [c for c in cols if c in X.columns and (wanted is None or c in wanted)  # noqa: E731
                            and X[c].notna().any()]
        numeric, categorical = use(NUMERIC_COLUMNS), use(CATEGORICAL_COLUMNS)
        text = TEXT_COLUMN if use((TEXT_COLUMN,)) else None
        self.feature_names_in_ = np.array(numeric + categorical + ([text] if text else []), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        self.preprocessor_ = make_preprocessor(numeric, categorical, text, self.n_text_components,
                                               self.random_state)
        Xu = X[list(self.feature_names_in_)]
        Z = self.preprocessor_.fit_transform(Xu).astype(float)
        self.feature_names_out_ = np.asarray(self.preprocessor_.get_feature_names_out(), dtype=object)
        self.categorical_mask_ = np.array([name in categorical for name in self.feature_names_out_])
        if self.task == "classification":
            self.classes_ = np.array([0, 1])
            if self.negative_fraction is not None and 0 < self.negative_fraction < 1:
                rng = np.random.default_rng(self.random_state + 7)
                thin = (y == 0) & (w <= 1)
                keep = ~thin | (rng.random(n) < self.negative_fraction)
                w = np.where(thin, w / self.negative_fraction, w)[keep]
                Z, y, groups = Z[keep], y[keep], groups[keep]
                n = len(y)
        self.n_rows_ = n
        steps = self.n_folds + 1 + self.n_bootstrap
        done = 0

        def tick(msg: str) -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done / steps, msg)

        # Cross-fitting over campaigns: out-of-fold scores for calibration and metrics.
        codes, uniq = pd.factorize(groups)
        n_groups = len(uniq)
        if n_groups >= 2:
            splitter = GroupKFold(n_splits=min(self.n_folds, n_groups))
            splits = list(splitter.split(Z, y, codes))
            self.cv_unit_ = "campaign"
        else:
            splitter = KFold(n_splits=self.n_folds, shuffle=True, random_state=self.random_state)
            splits = list(splitter.split(Z))
            self.cv_unit_ = "row"
        oof = np.zeros(n)
        fold_of = np.zeros(n, dtype=int)
        for k, (tr, te) in enumerate(splits):
            est = self._booster(self.random_state + k).fit(Z[tr], y[tr], sample_weight=w[tr])
            oof[te] = self._raw(est, Z[te])
            fold_of[te] = k
            tick(f"Cross-fitting fold {k + 1} of {len(splits)}")
        if self.task == "classification":
            self.calibrator_ = self._fit_calibrator(oof, y, w)
            # Honest CV metrics: each fold calibrated by a calibrator that never saw it.
            cal = np.zeros(n)
            for k in range(len(splits)):
                m = fold_of == k
                c = self._fit_calibrator(oof[~m], y[~m], w[~m]) if (~m).any() else self.calibrator_
                cal[m] = self._calibrate(c, oof[m])
            self.cv_metrics_ = binary_metrics(y, cal, w)
        else:
            self.calibrator_ = None
            self.cv_metrics_ = regression_metrics(y, np.maximum(oof, 0), w)
        self.cv_metrics_["cv_unit"] = self.cv_unit_
        self.cv_metrics_["folds"] = len(splits)
        self.estimator_ = self._booster(self.random_state).fit(Z, y, sample_weight=w)
        tick("Final model")
        rng = np.random.default_rng(self.random_state)
        self.members_ = []
        for b in range(self.n_bootstrap):
            draw = rng.poisson(1.0, size=n_groups).astype(float)
            if draw.sum() == 0:
                draw[rng.integers(n_groups)] = 1.0
            bw = w * draw[codes]
            keep = bw > 0
            self.members_.append(self._booster(self.random_state + 100 + b).fit(Z[keep], y[keep], sample_weight=bw[keep]))
            tick(f"Bootstrap model {b + 1} of {self.n_bootstrap}")
        return self

    # -- prediction -----------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The preprocessed matrix the boosters read."""
        check_is_fitted(self, "estimator_")
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise PredictionError(f"input lacks model column(s): {', '.join(missing)}")
        return self.preprocessor_.transform(X[list(self.feature_names_in_)]).astype(float)

    def predict_matrix(self, Z: np.ndarray, member: int | None = None) -> np.ndarray:
        """Calibrated rates for a preprocessed matrix; ``member`` picks a bootstrap model."""
        est = self.estimator_ if member is None else self.members_[member]
        return self._calibrate(self.calibrator_, self._raw(est, Z))

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
    """The copy part of preprocessed rows (copy/brief numbers and text components), for distance checks."""
    from core.prediction.features import BRIEF_NUMERIC, COPY_NUMERIC

    Z = model.transform(X)
    names = list(model.feature_names_out_)
    idx = [i for i, n in enumerate(names) if n in COPY_NUMERIC + BRIEF_NUMERIC or str(n).startswith("text_")]
    return Z[:, idx]


def fresh(model: CalibratedBoostedModel, **changes) -> CalibratedBoostedModel:
    """An unfitted copy of ``model`` with some settings changed (for baselines)."""
    return clone(model).set_params(**changes)
