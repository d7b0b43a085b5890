"""How close to the oracle can any predictor get on the sample data? (issue 6's AUC target)

The evaluation compares the model's AUC with the oracle's: the true response
model's own probabilities on the same held-out campaigns. This script splits the
gap into its causes, on the same campaign split and settings as
``python -m core.sample evaluate``:

1. ``oracle``: the true model scored with each user's purchase history as of the
   send (which is how the sample generator draws outcomes).
2. ``oracle (end-of-window history)``: the same model given the history at the
   END of the 180-day window instead: what the oracle would score with look-ahead.
3. ``model``: the default predictor (no bootstrap), from behaviour before each send only.
4. ``model + hidden traits``: the same predictor also given the two traits the
   data never shows directly (price sensitivity, affinity for the product's
   category): the ceiling for better behavioural proxies of them.

Usage: ``python benchmarks/auc_ceiling.py``. Prints a table, then one JSON line.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import core.prediction.model as model_module  # noqa: E402
from core.ingest.sample import load_sample
from core.prediction.features import build_training_data, load_variants  # noqa: E402
from core.prediction.training import TrainingSettings, fit_predictor  # noqa: E402
from core.sample.evaluate import _subset, history_at_send, split_by_campaign
from core.sample.truth import ResponseModel, category_slug, copy_frame
from core.store import Store  # noqa: E402


def main() -> int:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "s.duckdb") as store:
        load_sample(store)
        data = build_training_data(store, "conversion")
        truth = ResponseModel.load()
        variants = load_variants(store).set_index("variant_id")
        uniq, codes = np.unique(data.variant_ids, return_inverse=True)
        v = variants.loc[uniq]
        copy = copy_frame(v["copy_text"].tolist(), v["channel"].tolist(),
                          [c if isinstance(c, str) else None for c in v["category"]]).iloc[codes].reset_index(drop=True)
        ids = [str(u) for u in data.user_ids]
        traits = truth.users_at_send(ids, history_at_send(store, np.asarray(ids), data.variant_ids.astype(str)))
        at_end = truth.users(ids)
        p_send, p_end = truth.probability(traits, copy), truth.probability(at_end, copy)
        test = split_by_campaign(data.groups, data.X["channel"].to_numpy(), 0.25, 0)
        settings = TrainingSettings(n_bootstrap=0)
        fitted = fit_predictor(_subset(data, ~test), settings)
        model_auc = roc_auc_score(data.y[test], fitted.model.predict_rate(_subset(data, test).X))
        # The ceiling: hand the model the hidden traits as two extra numeric columns.
        product_cat = copy["product_category"].fillna("").to_numpy()
        affinity = np.full(len(product_cat), np.nan)
        for cat in set(product_cat) - {""}:
            rows = product_cat == cat
            affinity[rows] = traits.loc[rows, f"affinity_{category_slug(cat)}"].to_numpy()
        X = data.X.assign(hidden_price_sensitivity=traits["price_sensitivity"].to_numpy(),
                          hidden_category_affinity=affinity)
        model_module.NUMERIC_COLUMNS = [*model_module.NUMERIC_COLUMNS, "hidden_price_sensitivity",
                                        "hidden_category_affinity"]
        told = replace(data, X=X)
        ceiling = fit_predictor(_subset(told, ~test), settings)
        ceiling_auc = roc_auc_score(data.y[test], ceiling.model.predict_rate(_subset(told, test).X))
    figures = {
        "oracle_auc": roc_auc_score(data.y[test], p_send[test]),
        "oracle_end_of_window_history_auc": roc_auc_score(data.y[test], p_end[test]),
        "model_auc": model_auc,
        "model_with_hidden_traits_auc": ceiling_auc,
        "test_rows": int(test.sum()), "seconds": time.perf_counter() - started,
    }
    figures["gap_model"] = figures["oracle_auc"] - model_auc
    figures["gap_with_hidden_traits"] = figures["oracle_auc"] - ceiling_auc
    print(f"{'measurement (held-out campaigns)':44} AUC")
    for name in ("oracle_auc", "oracle_end_of_window_history_auc", "model_auc", "model_with_hidden_traits_auc"):
        print(f"{name:44} {figures[name]:.3f}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
