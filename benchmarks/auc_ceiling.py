"""How close to the oracle can any predictor get on the sample data? (issue 6's AUC target)

The evaluation compares the model's AUC with the oracle's: the true response
model's own probabilities on the same held-out campaigns. This script splits the
gap into its causes, on the same campaign split and settings as
``python -m core.prediction.evaluate``:

1. ``oracle (as generated)``: the sample generator draws each exposure's outcome
   from purchase history at the END of the 180-day window (``user_traits.csv``),
   i.e. partly from purchases made after the send, which no honest model sees.
2. ``oracle (send-time history)``: outcomes redrawn (seeded) from the same true
   model with recency/frequency/spend as of each send; this is what a generator
   without look-ahead would give.
3. ``model``: the default predictor (no bootstrap) on those redrawn outcomes,
   from behaviour before each send only.
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
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

import core.prediction.model as model_module  # noqa: E402
from core.prediction.evaluate import _subset, split_by_campaign  # noqa: E402
from core.prediction.features import build_training_data, load_variants  # noqa: E402
from core.prediction.training import TrainingSettings, fit_predictor  # noqa: E402
from core.response_model import ResponseModel, category_slug, copy_frame  # noqa: E402
from core.sample import load_sample  # noqa: E402
from core.store import Store  # noqa: E402


def send_time_history(store: Store, user_ids: np.ndarray, variant_ids: np.ndarray) -> pd.DataFrame:
    """Organic purchase recency/frequency/spend of each exposure's user as of its send (as the generator counts)."""
    sent = store.df("SELECT user_id, variant_id, min(sent_at) AS sent_at FROM exposures GROUP BY ALL")
    key = pd.DataFrame({"rid": np.arange(len(user_ids)), "user_id": user_ids.astype(str),
                        "variant_id": variant_ids.astype(str)}).merge(sent, how="left", on=["user_id", "variant_id"])
    cur = store.cursor()
    try:
        cur.register("rows_at_send", key)
        snap = cur.execute("""
            SELECT r.rid, count(e.ts) AS frequency, coalesce(sum(e.price * e.quantity), 0) AS spend,
                   max(e.ts) AS last, any_value(r.sent_at) AS sent_at
            FROM rows_at_send r LEFT JOIN events e
              ON e.user_id = r.user_id AND e.event_type = 'purchase' AND e.campaign_id IS NULL AND e.ts < r.sent_at
            GROUP BY r.rid ORDER BY r.rid""").df()
    finally:
        cur.close()
    days = (pd.to_datetime(snap["sent_at"]) - pd.to_datetime(snap["last"])).dt.total_seconds() / 86400
    return pd.DataFrame({"recency_days": np.floor(days.fillna(365).to_numpy()),
                         "frequency_180d": snap["frequency"].to_numpy(float),
                         "monetary_180d": snap["spend"].to_numpy(float)})


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
        traits = truth.users([str(u) for u in data.user_ids]).reset_index(drop=True)
        at_send = traits.copy()
        at_send[["recency_days", "frequency_180d", "monetary_180d"]] = send_time_history(
            store, data.user_ids, data.variant_ids).to_numpy()
        p_end, p_send = truth.probability(traits, copy), truth.probability(at_send, copy)
        test = split_by_campaign(data.groups, data.X["channel"].to_numpy(), 0.25, 0)
        y_send = (np.random.default_rng(5).random(len(p_send)) < p_send).astype(float)
        settings = TrainingSettings(n_bootstrap=0)
        redrawn = replace(data, y=y_send)
        fitted = fit_predictor(_subset(redrawn, ~test), settings)
        model_auc = roc_auc_score(y_send[test], fitted.model.predict_rate(_subset(redrawn, test).X))
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
        told = replace(redrawn, X=X)
        ceiling = fit_predictor(_subset(told, ~test), settings)
        ceiling_auc = roc_auc_score(y_send[test], ceiling.model.predict_rate(_subset(told, test).X))
    figures = {
        "oracle_as_generated_auc": roc_auc_score(data.y[test], p_end[test]),
        "oracle_send_time_auc": roc_auc_score(y_send[test], p_send[test]),
        "model_send_time_auc": model_auc,
        "model_with_hidden_traits_auc": ceiling_auc,
        "test_rows": int(test.sum()), "seconds": time.perf_counter() - started,
    }
    figures["gap_model"] = figures["oracle_send_time_auc"] - model_auc
    figures["gap_with_hidden_traits"] = figures["oracle_send_time_auc"] - ceiling_auc
    print(f"{'measurement (held-out campaigns)':44} AUC")
    for name in ("oracle_as_generated_auc", "oracle_send_time_auc", "model_send_time_auc",
                 "model_with_hidden_traits_auc"):
        print(f"{name:44} {figures[name]:.3f}")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
