"""The shop's systems talk to the decision service while a manager watches the Results page.

``python serve.py`` (``make serve``) runs the service and the dashboard in
one process on one database (DuckDB allows one process per file). Decisions
and events go in over HTTP; the Results page in a real browser shows them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import httpx
import pytest
from harness import ARTIFACTS, ROOT, AppServer, _wait_healthy, free_port, goto_page, screenshot, stop_server, wait_text

STATE: dict[str, str] = {}


@pytest.fixture(scope="module")
def app_server(tmp_path_factory, sample_db_file):
    """The service with the dashboard in one process, on a copy of the sample shop plus an approved strategy."""
    from core.api.keys import create_key
    from core.store import Store
    from tests.api_fixtures import add_copy_variants, all_customers_plan, approved_strategy

    data_dir = tmp_path_factory.mktemp("e2e-api") / "data"
    data_dir.mkdir(parents=True)
    db = data_dir / "copylift.duckdb"
    shutil.copy(sample_db_file, db)
    with Store(db) as store:
        add_copy_variants(store)
        STATE["sid"] = approved_strategy(store, all_customers_plan())
        _, STATE["key"] = create_key(store, "e2e", "decide,events,read")
        STATE["users"] = ",".join(r[0] for r in store.rows("SELECT user_id FROM users ORDER BY user_id LIMIT 300"))
    api_port, ui_port = free_port(), free_port()
    env = dict(os.environ, COPYLIFT_DATA_DIR=str(data_dir), COPYLIFT_DB=str(db), PYTHONUNBUFFERED="1",
               PYTHONPATH=str(ROOT))
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = ARTIFACTS / "test_journey_api.log"
    proc = subprocess.Popen([sys.executable, "serve.py", "--db", str(db), "--port", str(api_port),
                             "--dashboard-port", str(ui_port)], cwd=ROOT, env=env, stdout=log_path.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ui_port}"
    try:
        _wait_healthy(proc, url, log_path, timeout_s=90)
    except Exception:
        stop_server(proc)
        raise
    STATE["api"] = f"http://127.0.0.1:{api_port}"
    yield AppServer(url=url, data_dir=data_dir, db_path=db, process=proc, log_path=log_path)
    stop_server(proc)


def test_results_page_shows_what_came_through_the_api(page):
    sid, users = STATE["sid"], STATE["users"].split(",")
    with httpx.Client(base_url=STATE["api"], headers={"Authorization": f"Bearer {STATE['key']}"}, timeout=60) as c:
        assert c.get("/health").json()["status"] == "ok"
        decided = c.post("/v1/decisions", json={"strategy_id": sid, "user_ids": users}).json()["decisions"]
        assert all(d["status"] == "decided" for d in decided)
        events = [{"event_id": f"d-{d['user_id']}", "type": "delivery", "strategy_id": sid, "user_id": d["user_id"]}
                  for d in decided]
        events += [{"event_id": f"c-{d['user_id']}", "type": "conversion", "strategy_id": sid,
                    "user_id": d["user_id"], "value": 25.0} for d in decided[:40]]
        r = c.post("/v1/events", json={"events": events}).json()
        assert r["stored"] == 340 and r["rejected"] == []
    goto_page(page, "Results & Learning")
    wait_text(page, "Live: decisions and outcomes from the decision service")
    wait_text(page, "300 users decided, 340 events received")
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 1
    screenshot(page, "api-results-live")
