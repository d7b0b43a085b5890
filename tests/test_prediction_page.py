"""The Predict page on a small synthetic shop with a pre-trained model."""

from __future__ import annotations

import pytest
from prediction_fixtures import fill_store

from core.config import load_config
from core.prediction.training import FAST_SETTINGS, train_model
from core.store import Store


@pytest.fixture
def trained_app(app_env):
    cfg = load_config()
    with Store(cfg.db_path) as store:
        fill_store(store, n_users=150, n_campaigns=4)
        train_model(store, cfg, settings=FAST_SETTINGS)
    return app_env


def test_predict_page_scores_past_variants_with_control_and_reasons(trained_app, open_page):
    at = open_page("pages/predict.py", timeout=120)
    assert not at.exception
    assert at.title[0].value == "Predict"
    at.selectbox(key="predict.campaign").set_value("Campaign 2")
    at.number_input(key="predict.send_size").set_value(5000)
    at.button(key="FormSubmitter:predict.form-Predict").click().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert set(frame["variant_id"]) == {"C02-A", "C02-B"}
    control = frame[frame["is_control"]]
    assert control["variant_id"].tolist() == ["C02-A"]
    treated = frame[~frame["is_control"]].iloc[0]
    assert treated["low"] <= treated["rate"] <= treated["high"]
    assert treated["lift_low"] <= treated["lift_pts"] <= treated["lift_high"]
    assert "pts" in treated["reasons"]
    assert len(at.get("plotly_chart")) >= 2


def test_predict_page_without_a_model_offers_training(app_env, open_page):
    cfg = load_config()
    with Store(cfg.db_path) as store:
        fill_store(store, n_users=60, n_campaigns=2)
    at = open_page("pages/predict.py", timeout=120)
    assert not at.exception
    assert any("Train a model" in i.value for i in at.info)


def test_history_as_control_is_drawn_in_the_rate_chart(trained_app, open_page):
    import json

    at = open_page("pages/predict.py", timeout=120)
    at.selectbox(key="predict.campaign").set_value("Campaign 2")
    at.selectbox(key="predict.control").set_value("__history__")
    at.button(key="FormSubmitter:predict.form-Predict").click().run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert not frame["is_control"].any()  # no variant is the control: lifts are over the segment's history
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    bars = spec["data"][0]["y"]
    assert any(label.startswith("segment's history") and label.endswith("(control)") for label in bars), bars
    assert set(frame["variant_id"]) <= {label.removesuffix(" (control)") for label in bars}
