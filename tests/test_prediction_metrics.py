"""Hand-checkable numbers: calibration error, managers' incremental outcomes, reason wording."""

from __future__ import annotations

import numpy as np
import pytest

from core.prediction.metrics import binary_metrics, expected_calibration_error
from core.prediction.scoring import reason_text, stratified_sample
from core.prediction.types import Reason, VariantPrediction
from core.prediction.view import incremental_outcomes


def test_ece_is_zero_when_each_bin_matches_and_measures_a_known_gap():
    p = np.repeat([0.1, 0.3], 10)
    y = np.array([1] + [0] * 9 + [1] * 3 + [0] * 7, dtype=float)
    assert expected_calibration_error(y, p, n_bins=2) == pytest.approx(0.0)
    # Predicting 0.2 everywhere for rows whose rates are 0.1 and 0.3: off by 0.1 in each half.
    assert expected_calibration_error(y, np.full(20, 0.2) + np.r_[np.zeros(10), np.full(10, 1e-9)],
                                      n_bins=2) == pytest.approx(0.1)
    m = binary_metrics(y, p)
    assert m["base_rate"] == pytest.approx(0.2) and 0.5 < m["auc"] <= 1.0


def test_incremental_outcomes_scale_lift_by_send_size():
    preds = [
        VariantPrediction("A", "All", 0.02, 0.018, 0.022, 100, is_control=True),
        VariantPrediction("B", "All", 0.025, 0.02, 0.03, 100, lift_pts=0.005, lift_low=0.001, lift_high=0.009),
    ]
    frame = incremental_outcomes(preds, 10_000, revenue_per_conversion=40.0)
    row = frame.iloc[0]
    assert frame["variant_id"].tolist() == ["B"]
    assert row["extra_conversions"] == pytest.approx(50)
    assert (row["extra_low"], row["extra_high"]) == pytest.approx((10, 90))
    assert row["extra_revenue"] == pytest.approx(2000)


def test_reason_wording_in_points():
    assert reason_text(Reason("mentions 20% off", 0.004)) == "mentions 20% off: +0.40 pts"
    assert reason_text(Reason("asks a question", -0.0012)) == "asks a question: -0.12 pts"


def test_stratified_sample_keeps_strata_shares():
    import pandas as pd

    members = pd.DataFrame({"user_id": range(10_000),
                            "favourite_category": ["Books"] * 8000 + ["Beauty"] * 2000,
                            "loyalty_tier": [None] * 10_000})
    sample = stratified_sample(members, 1000, seed=0)
    assert abs(len(sample) - 1000) <= 5
    assert (sample["favourite_category"] == "Beauty").mean() == pytest.approx(0.2, abs=0.01)
    assert sample["user_id"].is_unique


def test_score_cli_reports_bad_variant_rows_by_line(tmp_path):
    from core.errors import ValidationError
    from core.prediction.__main__ import read_variants_csv

    good = tmp_path / "ok.csv"
    good.write_text("copy_text,channel\nSave 20% today,sms\n", encoding="utf-8")
    assert read_variants_csv(good)["variant_id"].tolist() == ["row2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("variant_id,copy_text,channel\na,Hi,sms\nb,Hello,fax\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="line 3: channel 'fax'"):
        read_variants_csv(bad)
    missing = tmp_path / "missing.csv"
    missing.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="lacks column"):
        read_variants_csv(missing)
