"""Versioned predictor files: saved with skops, recorded in ``model_versions``, hash-checked on load.

A model file is written by this module only, into the configured predictor
folder, under a name derived from its version. Its SHA-256 goes into the
``model_versions`` row together with the training-data hash, the settings hash
and the evaluation metrics. Loading refuses anything that is not exactly that
file: a path outside the predictor folder, a missing file, a different hash
(``IntegrityError``), or a file that would need types outside our allow-list.
skops never runs code from the file; the allow-list keeps it that way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import skops.io as sio

from core.config import AppConfig
from core.errors import IntegrityError, NotFoundError, PredictionError
from core.hashing import file_sha256
from core.prediction.model import Predictor
from core.store import Store, single_value

# Types skops may rebuild beyond its own defaults: ours, and the scikit-learn /
# numpy pieces our pipeline is made of. Anything else in a file is refused.
TRUSTED_TYPES = frozenset({
    "core.prediction.model.Predictor",
    "core.prediction.model.CalibratedBoostedModel",
    "core.prediction.preprocess.TextComponents",
    "core.prediction.copy_effects.CopyEffectModel",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.preprocessing._encoders.OrdinalEncoder",
    "sklearn.feature_extraction.text.HashingVectorizer",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.decomposition._truncated_svd.TruncatedSVD",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingRegressor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.Interval",
    "sklearn.isotonic.IsotonicRegression",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.utils._bunch.Bunch",
    # ColumnTransformer keeps its passthrough step as partial(check_array, ...); skops lists any
    # other function a partial wraps as a separate type, so this does not open the door wider.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "numpy.float64",
    "numpy.int64",
    "numpy.dtype",
    "builtins.slice",
    "builtins.str",
    "builtins.float",
    "builtins.int",
    "builtins.bool",
    "builtins.NoneType",
    "builtins.tuple",
    "builtins.list",
    "builtins.dict",
})


@dataclass(frozen=True)
class ModelVersion:
    """One row of ``model_versions``."""

    version: int
    outcome: str
    created_at: datetime
    data_hash: str
    settings_hash: str
    file_path: str
    file_sha256: str
    metrics: dict
    note: str | None = None


def _row_to_version(row: tuple) -> ModelVersion:
    version, outcome, created_at, data_hash, settings_hash, path, sha, metrics, note = row
    return ModelVersion(int(version), outcome, created_at, data_hash, settings_hash, path, sha,
                        json.loads(metrics) if metrics else {}, note)


_COLUMNS = "version, outcome, created_at, data_hash, settings_hash, file_path, file_sha256, metrics_json, note"


def list_versions(store: Store, outcome: str | None = None) -> list[ModelVersion]:
    """Stored model versions, newest first."""
    if outcome is None:
        rows = store.rows(f"SELECT {_COLUMNS} FROM model_versions ORDER BY version DESC")
    else:
        rows = store.rows(f"SELECT {_COLUMNS} FROM model_versions WHERE outcome = ? ORDER BY version DESC",
                          [outcome])
    return [_row_to_version(r) for r in rows]


def latest_version(store: Store, outcome: str = "conversion") -> ModelVersion | None:
    versions = list_versions(store, outcome)
    return versions[0] if versions else None


def get_version(store: Store, version: int) -> ModelVersion:
    row = store.one(f"SELECT {_COLUMNS} FROM model_versions WHERE version = ?", [int(version)])
    if row is None:
        raise NotFoundError(f"model version {version} does not exist; train a model on the Predict page")
    return _row_to_version(row)


def save_predictor(store: Store, cfg: AppConfig, predictor: Predictor, note: str | None = None) -> ModelVersion:
    """Write ``predictor`` to a new version file and record it; returns the new version."""
    folder = Path(cfg.predictor_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with store.transaction() as cur:
        version = int(single_value(cur, "SELECT coalesce(max(version), 0) + 1 FROM model_versions"))
        predictor.version = version
        path = folder / f"predictor_v{version:04d}_{predictor.outcome}.skops"
        tmp = path.with_suffix(".tmp")
        sio.dump(predictor, tmp)
        os.replace(tmp, path)  # a reader never sees a half-written file
        sha = file_sha256(path)
        metrics = json.dumps(predictor.metrics, default=float)
        cur.execute(
            "INSERT INTO model_versions (version, outcome, data_hash, settings_hash, file_path, file_sha256, "
            "metrics_json, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            # The path is stored relative to the predictor folder, so a moved data folder still loads.
            [version, predictor.outcome, predictor.data_hash, predictor.settings_hash, path.name, sha, metrics,
             note],
        )
    return get_version(store, version)


def load_version(store: Store, cfg: AppConfig, version: int) -> Predictor:
    """Load a recorded version after checking where its file is, its hash, and its types."""
    mv = get_version(store, version)
    folder = Path(cfg.predictor_dir).resolve()
    path = (folder / mv.file_path).resolve()
    if folder not in path.parents:
        raise IntegrityError(f"model file {path} is outside the app's predictor folder {folder}; "
                             "the app only loads files it wrote. Retrain to make a new version.")
    if not path.exists():
        raise IntegrityError(f"model file for version {version} is missing ({path}); retrain on the Predict page")
    if file_sha256(path) != mv.file_sha256:
        raise IntegrityError(f"model file {path.name} does not match the hash recorded when it was saved; "
                             "it was changed outside the app and will not be loaded. Retrain to replace it.")
    data = path.read_bytes()
    untrusted = set(sio.get_untrusted_types(data=data))
    unknown = sorted(untrusted - TRUSTED_TYPES)
    if unknown:
        raise IntegrityError(f"model file {path.name} contains types the app does not trust: {', '.join(unknown)}")
    try:
        predictor = sio.loads(data, trusted=sorted(untrusted))
    except Exception as err:  # skops raises several unrelated types for a corrupt file
        raise IntegrityError(f"model file {path.name} could not be read ({err}); retrain to replace it") from err
    if not isinstance(predictor, Predictor):
        raise IntegrityError(f"model file {path.name} does not hold a CopyLift predictor")
    predictor.version = mv.version
    return predictor


def load_latest(store: Store, cfg: AppConfig, outcome: str = "conversion") -> Predictor | None:
    """The newest model for ``outcome``, or ``None`` when none has been trained."""
    mv = latest_version(store, outcome)
    return None if mv is None else load_version(store, cfg, mv.version)


def require_latest(store: Store, cfg: AppConfig, outcome: str = "conversion") -> Predictor:
    predictor = load_latest(store, cfg, outcome)
    if predictor is None:
        raise PredictionError(f"no {outcome} model has been trained yet; press Retrain on the Predict page "
                              "or run `python -m core.prediction train`")
    return predictor
