"""The Strategy & Export page, driven end to end with AppTest (predictor patched, tiny database)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

import core.strategy.inputs
import pages.common
from core.prediction.types import VariantPrediction
from core.store import Store
from core.strategy.records import list_strategies, load_strategy

RATES = {"ctrl": 0.02, "v1": 0.03, "v2": 0.025}


class FakePredictor:
    version = 4


def fake_predict_variants(store, predictor, variants, segment, control_variant_id=None, send_size=None):
    name = "All customers" if segment is None else segment.name
    base = RATES.get(control_variant_id) if control_variant_id else None
    out = []
    for vid in variants["variant_id"]:
        r = RATES[vid]
        lift = None if base is None else r - base
        out.append(VariantPrediction(
            variant_id=vid, segment_name=name, rate=r, low=r - 0.004, high=r + 0.004, n_members=send_size or 0,
            is_control=vid == control_variant_id, lift_pts=lift,
            lift_low=None if lift is None else lift - 0.003, lift_high=None if lift is None else lift + 0.003,
            model_version=4,
        ))
    return out


def _seed_db(path):
    now = datetime(2026, 11, 1)
    with Store(path) as s:
        for i in range(40):
            s.execute("INSERT INTO users (user_id, signup_date, region, device) VALUES (?, ?, 'north', 'mobile')",
                      [f"u{i:03d}", now.date() - timedelta(days=400)])
            for k in range(1 + i % 3):
                s.execute(
                    "INSERT INTO events (event_id, user_id, product_id, event_type, ts, quantity, price, order_id) "
                    "VALUES (?, ?, 'p1', 'purchase', ?, 1, ?, ?)",
                    [f"e{i}-{k}", f"u{i:03d}", now - timedelta(days=5 * k + i % 7), 20.0 + i, f"o{i}-{k}"],
                )
        s.execute("INSERT INTO products (product_id, title, category, price) VALUES ('p1', 'Mug', 'home', 20)")
        texts = {"ctrl": "Our new mugs are here", "v1": "=cmd 20% off mugs today", "v2": "Free shipping on mugs"}
        for vid, text in texts.items():
            s.execute(
                "INSERT INTO variants (variant_id, channel, copy_text, is_control, in_working_set, origin, model_name, "
                "settings_json) VALUES (?, 'push', ?, ?, ?, 'generated', 'SmolLM2-135M-Instruct', ?)",
                [vid, text, vid == "ctrl", vid != "ctrl", json.dumps({"temperature": 0.7, "top_p": 0.95, "seed": 1})],
            )


@pytest.fixture
def page(app_env, open_page, monkeypatch):
    _seed_db(app_env / "data" / "copylift.duckdb")
    monkeypatch.setattr(pages.common, "get_predictor", lambda: FakePredictor())
    monkeypatch.setattr(core.strategy.inputs, "predict_variants", fake_predict_variants)
    return open_page("pages/strategy.py", timeout=60)


def test_full_flow_build_submit_approve_export(page, app_env, open_page):
    at = page
    at.text_input(key="strategy.user").input("mia")
    assert at.multiselect(key="strategy.segments").value == ["All customers"]
    at.selectbox(key="strategy.control").select("ctrl")
    at.radio(key="strategy.mode").set_value("explore")
    at.text_input(key="strategy.name").input("Mug push")
    at.button(key="strategy.build").click().run()
    assert not at.exception, at.exception
    assert "strategy.plan" in at.session_state
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("Expected conversions" in t for t in titles) and any("allocation" in t for t in titles)

    revenue = next(m.value for m in at.metric if m.label == "Expected revenue")
    assert revenue.startswith("$"), revenue
    table = at.dataframe[0].value
    assert table["rate"].between(2.0, 3.0).all()  # percent, not fractions (the fake rates are 0.02-0.03)

    at.button(key="strategy.submit").click().run()
    assert not at.exception, at.exception
    # Submitting switches to the review view, where the approver's buttons are (tabs would reset).
    assert at.session_state["strategy.view"] == "review"
    assert not at.button(key="strategy.to_approved").disabled
    assert "strategy.build" not in [b.key for b in at.button]
    store = pages.common.get_store()  # the app's own cached store (it holds the file lock)
    sid = list_strategies(store)["strategy_id"].iloc[0]
    assert load_strategy(store, sid).status == "submitted"
    # AppTest drops the sidebar after switch_page; a fresh run of the frame shows it.
    frame = open_page(timeout=60)
    assert "🧭 1 strategy awaiting approval" in [c.value for c in frame.caption]

    at.text_input(key="strategy.user").input("boss")
    at.text_area(key="strategy.comment").input("looks good")
    at.button(key="strategy.to_approved").click().run()
    assert not at.exception, at.exception
    assert at.session_state["strategy.view"] == "review"  # the approval's rerun keeps the view
    at.button(key="strategy.export").click().run()
    assert not at.exception, at.exception
    files = at.session_state["strategy.files"]
    assert any(n.endswith("-manifest.json") for n in files)
    manifest = json.loads(next(v for n, v in files.items() if n.endswith("-manifest.json")))
    assert manifest["approval"]["approver"] == "boss" and manifest["approval"]["comment"] == "looks good"
    assert manifest["segments"][0]["size_at_export"] == 40
    plan_csv = next(v for n, v in files.items() if n.endswith("-plan.csv")).decode()
    assert "'=cmd 20% off mugs today" in plan_csv
    assert len(at.get("download_button")) == len(files)
    written = sorted(p.name for p in (app_env / "data" / "exports").iterdir())
    assert written == sorted(files)
    assert list(list_strategies(store)["status"]) == ["exported"]


def test_send_back_needs_a_comment(page):
    at = page
    at.text_input(key="strategy.name").input("Needs work")
    at.selectbox(key="strategy.control").select("ctrl")
    at.button(key="strategy.build").click().run()
    at.button(key="strategy.submit").click().run()
    at.button(key="strategy.to_sent_back").click().run()
    assert not at.exception
    assert any("comment is required" in e.value for e in at.error)


def test_an_approved_plan_can_be_sent_back_from_the_page(page):
    # The workflow allows approved -> sent_back; the page used to restate the table and never offered it.
    at = page
    at.text_input(key="strategy.user").input("mia")
    at.text_input(key="strategy.name").input("Second thoughts")
    at.selectbox(key="strategy.control").select("ctrl")
    at.button(key="strategy.build").click().run()
    at.button(key="strategy.submit").click().run()
    at.text_input(key="strategy.user").input("boss")
    at.button(key="strategy.to_approved").click().run()
    assert not at.exception, at.exception
    at.text_area(key="strategy.comment").input("the offer changed")
    at.button(key="strategy.to_sent_back").click().run()
    assert not at.exception, at.exception
    store = pages.common.get_store()
    assert list(list_strategies(store)["status"]) == ["sent_back"]
    assert [b.key for b in at.button if b.key and b.key.startswith("strategy.to_")] == ["strategy.to_submitted"]


def test_manual_shares_are_validated_on_the_page(page):
    at = page
    at.text_input(key="strategy.name").input("Manual")
    at.radio(key="strategy.mode").set_value("manual")
    at.text_input(key="strategy.manual.0").input("v1=50, v2=50")
    at.button(key="strategy.build").click().run()
    assert not at.exception
    assert any("not 100%" in e.value for e in at.error) and "strategy.plan" not in at.session_state
    at.text_input(key="strategy.manual.0").input("v1=60, v2=30")
    at.button(key="strategy.build").click().run()
    arms = at.session_state["strategy.plan"]["segments"][0]["arms"]
    assert [round(a["share"], 2) for a in arms] == [0.1, 0.6, 0.3]


def test_empty_state_without_predictor(app_env, open_page, monkeypatch):
    _seed_db(app_env / "data" / "copylift.duckdb")
    monkeypatch.setattr(pages.common, "get_predictor", lambda: None)
    at = open_page("pages/strategy.py", timeout=60)
    assert not at.exception
    assert any("train a model on the Predict page" in i.value for i in at.info)



def test_the_view_survives_reruns_and_can_be_switched_back(page):
    at = page
    assert at.session_state["strategy.view"] == "build"
    at.session_state["strategy.view"] = "review"
    at.run()
    assert any("No saved strategies yet" in i.value for i in at.info)
    at.text_input(key="strategy.user").input("mia").run()  # an unrelated rerun
    assert at.session_state["strategy.view"] == "review"
    at.session_state["strategy.view"] = "build"
    at.run()
    assert at.button(key="strategy.build")


def test_a_view_seeded_in_session_state_is_the_one_opened(app_env, open_page, monkeypatch):
    _seed_db(app_env / "data" / "copylift.duckdb")
    monkeypatch.setattr(pages.common, "get_predictor", lambda: FakePredictor())
    monkeypatch.setattr(core.strategy.inputs, "predict_variants", fake_predict_variants)
    at = open_page("pages/strategy.py", timeout=60, state={"strategy.view": "review"})
    assert at.session_state["strategy.view"] == "review"
    assert any("No saved strategies yet" in i.value for i in at.info)
    assert "strategy.build" not in [b.key for b in at.button]
