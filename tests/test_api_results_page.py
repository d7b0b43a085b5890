"""The Results page shows what the decision service decided and learned: live counts and allocation history."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from core.api.app import create_app
from core.api.keys import create_key
from core.api.learn import LearnSettings
from core.api.service import Service, ServiceSettings
from core.api.view import allocation_history_chart, live_strategies, live_view
from core.store import Store
from tests.api_fixtures import USERS, all_customers_plan, approved_strategy, seed_shop

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def serve_some(store: Store) -> str:
    """Decide for 600 users, report deliveries and conversions for v2, and move the allocation once."""
    seed_shop(store)
    sid = approved_strategy(store, all_customers_plan())
    _, key = create_key(store, "t", "decide,events", rate_per_s=1e6)
    service = Service(store, settings=ServiceSettings(learn=LearnSettings(every_conversions=10, draws=2000)))
    try:
        client = TestClient(create_app(service))
        client.headers["Authorization"] = f"Bearer {key}"
        ds = client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": USERS[:600]}).json()["decisions"]
        events = [{"event_id": f"d{i}", "type": "delivery", "strategy_id": sid, "user_id": d["user_id"]}
                  for i, d in enumerate(ds)]
        events += [{"event_id": f"c{i}", "type": "conversion", "strategy_id": sid, "user_id": d["user_id"],
                    "value": 20.0} for i, d in enumerate(ds) if d["variant_id"] == "v2"]
        assert client.post("/v1/events", json={"events": events}).json()["rejected"] == []
        service.tick()
    finally:
        service.close()
    return sid


def test_live_view_counts_and_history(store):
    sid = serve_some(store)
    served = live_strategies(store)
    assert served["strategy_id"].tolist() == [sid] and served["decided"].iloc[0] == 600
    view = live_view(store, sid)
    assert view.counts["sends"].sum() == 600 and view.events > 600
    v2 = view.counts.set_index("variant_id").loc["v2"]
    assert v2["rate"] == 1.0 and v2["revenue"] == 20.0 * v2["conversions"]
    assert sorted(view.history["update_no"].unique()) == [0, 1]
    fig = allocation_history_chart(view.history)
    assert {t.name for t in fig.data} == {"control", "v1", "v2"}


def test_results_page_shows_live_section(app_env):
    with Store(app_env / "data" / "copylift.duckdb") as store:
        sid = serve_some(store)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/results.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Live: decisions and outcomes" in h.value for h in at.header)
    assert at.selectbox(key="results.live").value == sid
    assert any("600 users decided" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 1
