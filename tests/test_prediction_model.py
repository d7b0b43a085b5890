"""The conversion model on synthetic data with known rates: calibration, discount response, conventions."""

from __future__ import annotations

import numpy as np
import pytest
from prediction_fixtures import synthetic_pairs

from core.errors import PredictionError
from core.prediction.features import TrainingData
from core.prediction.metrics import expected_calibration_error
from core.prediction.model import CalibratedBoostedModel
from core.prediction.scoring import predict_variants, reason_text
from core.prediction.training import FAST_SETTINGS, fit_predictor


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_pairs()


@pytest.fixture(scope="module")
def predictor(synthetic):
    X, y, _, groups, _, variants = synthetic
    vid = np.array([f"v{i}" for i in range(len(y))])  # only used for reference rows
    data = TrainingData(X=X, y=y, weight=np.ones(len(y)), groups=groups, variant_ids=X["copy_text"].to_numpy(str),
                        source=np.full(len(y), "exposure", dtype=object), user_ids=vid, outcome="conversion")
    return fit_predictor(data, FAST_SETTINGS)


def test_predictions_are_calibrated_against_known_rates(synthetic, predictor):
    X, y, p_true, *_ = synthetic
    p = predictor.model.predict_rate(X)
    # Against the true probabilities (not the noisy labels): small calibration error, same mean.
    assert abs(p.mean() - p_true.mean()) < 0.004
    assert expected_calibration_error(p_true, p) < 0.01
    assert np.corrcoef(p, p_true)[0, 1] > 0.6
    assert predictor.metrics["cv_unit"] == "campaign"
    assert predictor.metrics["ece"] < 0.02


def test_discount_beats_no_discount_for_price_sensitive_users(synthetic, predictor, store):
    *_, users, variants = synthetic
    pair = variants[variants["variant_id"].isin(["C2-A", "C2-B"])]  # no discount vs 30% off, same category
    sensitive = users[users["discount_sensitivity"] > 0.8]
    indifferent = users[users["discount_sensitivity"] < 0.2]
    hot = {p.variant_id: p for p in predict_variants(store, predictor, pair, members=sensitive)}
    cold = {p.variant_id: p for p in predict_variants(store, predictor, pair, members=indifferent)}
    assert hot["C2-B"].rate > hot["C2-A"].rate + 0.01
    assert (hot["C2-B"].rate - hot["C2-A"].rate) > (cold["C2-B"].rate - cold["C2-A"].rate)
    # The reason names the discount, in plain words, with its effect in points.
    texts = [reason_text(r) for r in hot["C2-B"].reasons]
    assert any(t.startswith("mentions 30% off: +") and t.endswith("pts") for t in texts), texts


def test_intervals_lift_and_send_size(synthetic, predictor, store):
    *_, users, variants = synthetic
    pair = variants[variants["variant_id"].isin(["C2-A", "C2-B"])]
    preds = predict_variants(store, predictor, pair, members=users, control_variant_id="C2-A", send_size=1000)
    control, treated = preds
    assert control.is_control and control.lift_pts is None
    assert treated.low <= treated.rate <= treated.high
    assert treated.send_low <= treated.low and treated.send_high >= treated.high  # send noise widens it
    assert treated.lift_pts == pytest.approx(treated.rate - control.rate)
    assert treated.lift_low <= treated.lift_pts <= treated.lift_high
    assert treated.lift_pct == pytest.approx(treated.lift_pts / control.rate)


def test_out_of_distribution_copy_is_flagged(synthetic, predictor, store):
    *_, users, variants = synthetic
    odd = variants.iloc[:1].assign(
        variant_id="odd", channel="email_subject",
        copy_text="?? {first_name} 🎉🎉 $50 off free shipping free gift last chance!!! code ZXQW ends tonight")
    seen = predict_variants(store, predictor, variants.iloc[:1], members=users.head(200))[0]
    weird = predict_variants(store, predictor, odd, members=users.head(200))[0]
    assert not seen.out_of_distribution
    assert weird.out_of_distribution


def test_estimator_follows_sklearn_conventions(synthetic):
    X, y, _, groups, *_ = synthetic
    model = CalibratedBoostedModel(max_iter=5, n_bootstrap=1, n_folds=2)
    assert model.get_params()["max_iter"] == 5
    assert not hasattr(model, "estimator_")
    assert model.fit(X.head(3000), y[:3000], groups=groups[:3000]) is model
    assert len(model.members_) == 1 and model.classes_.tolist() == [0, 1]
    proba = model.predict_proba(X.head(10))
    assert proba.shape == (10, 2) and np.allclose(proba.sum(axis=1), 1)


def test_constant_outcome_is_refused(synthetic):
    X, _, _, groups, *_ = synthetic
    with pytest.raises(PredictionError, match="never varies"):
        CalibratedBoostedModel(max_iter=5).fit(X.head(500), np.zeros(500), groups=groups[:500])
