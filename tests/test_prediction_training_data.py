"""Training rows: split by campaign, exposures plus weighted aggregate rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import PredictionError
from core.prediction.features import build_training_data
from core.prediction.scoring import predict_variants
from core.prediction.training import FAST_SETTINGS, fit_predictor
from core.sample.evaluate import split_by_campaign


def test_split_by_campaign_never_leaks_a_campaign():
    rng = np.random.default_rng(1)
    groups = np.array([f"C{k}" for k in rng.integers(0, 30, 5000)])
    channels = np.array([("sms", "push", "banner")[int(g[1:]) % 3] for g in groups])
    test = split_by_campaign(groups, channels, 0.25, seed=3)
    assert set(groups[test]).isdisjoint(set(groups[~test]))
    # Every channel keeps campaigns on both sides.
    for ch in ("sms", "push", "banner"):
        assert test[channels == ch].any() and (~test[channels == ch]).any()
    assert 0.15 < len(set(groups[test])) / 30 < 0.35


def _aggregate_store(store, rates):
    variants = pd.DataFrame({
        "variant_id": list(rates), "campaign_id": [f"H{i // 2}" for i in range(len(rates))],
        "channel": "banner",
        "copy_text": [f"Headline {i}: " + ("you won't believe what happened" if i % 2 else "ten tips for gardens")
                      for i in range(len(rates))],
    })
    store.insert_df("variants", variants)
    results = pd.DataFrame({"variant_id": list(rates), "sends": 20_000,
                            "clicks": [int(r * 20_000) for r in rates.values()],
                            "conversions": [int(r * 20_000) for r in rates.values()]})
    store.insert_df("variant_results", results)


def test_aggregate_rows_are_weighted_not_expanded(store):
    rates = {f"h{i}": (0.02 if i % 2 else 0.05) for i in range(12)}
    _aggregate_store(store, rates)
    data = build_training_data(store, "conversion")
    assert data.n_rows == 2 * len(rates)  # one positive and one negative row per variant
    assert data.weight.sum() == pytest.approx(20_000 * len(rates))
    assert set(data.source) == {"aggregate"}
    pos = data.y == 1
    assert data.weight[pos].sum() == pytest.approx(sum(int(r * 20_000) for r in rates.values()))
    # The model learns the copy difference from aggregates alone and scores the population.
    predictor = fit_predictor(data, FAST_SETTINGS)
    v = store.df("SELECT variant_id, channel, copy_text FROM variants ORDER BY variant_id")
    preds = {p.variant_id: p.rate for p in predict_variants(store, predictor, v.head(2))}
    assert preds["h0"] > preds["h1"]
    assert preds["h0"] == pytest.approx(0.05, abs=0.01) and preds["h1"] == pytest.approx(0.02, abs=0.01)


def test_nothing_to_learn_from_is_a_clear_error(store):
    with pytest.raises(PredictionError, match="no variants"):
        build_training_data(store)
    with pytest.raises(PredictionError, match="unknown outcome"):
        build_training_data(store, "likes")
