"""The real thing: ``python -m core.api`` under uvicorn, and a kill -9 in the middle of event batches."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from core.store import Store
from tests.api_fixtures import USERS, service_db
from tests.api_server import start_service, stop_service

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "live.duckdb"
    sid, key = service_db(path)
    return path, sid, key


def test_every_endpoint_over_real_http(db):
    path, sid, key = db
    proc, url = start_service(path)
    try:
        auth = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=auth, timeout=30) as c:
            assert c.get("/health").json()["status"] == "ok"
            assert c.get("/docs").status_code == 200
            out = c.post("/v1/decisions", json={"strategy_id": sid, "user_ids": USERS[:1000]}).json()
            assert len(out["decisions"]) == 1000 and all(d["status"] == "decided" for d in out["decisions"])
            user = out["decisions"][0]
            r = c.post("/v1/events", json={"events": [
                {"event_id": "x1", "type": "delivery", "strategy_id": sid, "user_id": user["user_id"]},
                {"event_id": "x2", "type": "conversion", "strategy_id": sid, "user_id": user["user_id"], "value": 9.5},
                {"event_id": "x3", "type": "click", "strategy_id": sid, "user_id": "nobody"}]})
            assert r.json()["stored"] == 2 and r.json()["rejected"][0]["index"] == 2
            info = c.get(f"/v1/strategies/{sid}").json()
            assert info["status"] == "approved" and info["decided_users"] == 1000
            arm = next(x for x in info["live_counts"] if x["variant_id"] == user["variant_id"])
            assert arm["sends"] == 1 and arm["conversions"] == 1 and arm["revenue"] == 9.5
            assert httpx.get(url + f"/v1/strategies/{sid}").status_code == 401
            assert c.get("/health").json()["refused"] == {"401": 1}
    finally:
        stop_service(proc)
    assert proc.returncode == 0  # a clean stop after SIGTERM
    with Store(path, read_only=True) as s:  # the file is free again and holds what was acknowledged
        assert s.scalar("SELECT count(*) FROM api_decisions") == 1000


def test_the_service_binds_loopback_by_default(db):
    path, _, _ = db
    proc, url = start_service(path)
    try:
        assert url.startswith("http://127.0.0.1:")
        import psutil

        addrs = {c.laddr.ip for c in psutil.Process(proc.pid).net_connections() if c.status == "LISTEN"}
        assert addrs == {"127.0.0.1"}
    finally:
        stop_service(proc)


def _sender(url, key, sid, users, prefix, acked, in_flight, stop):
    """Send batches of 200 events until stopped; remember which were acknowledged."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
        n = 0
        while not stop.is_set():
            batch = [{"event_id": f"{prefix}-{n}-{i}", "type": "delivery", "strategy_id": sid, "user_id": u}
                     for i, u in enumerate(users)]
            in_flight[prefix] = batch
            try:
                r = c.post("/v1/events", json={"events": batch})
            except httpx.HTTPError:
                return  # the server died with this batch in flight
            if r.status_code == 200 and r.json()["stored"] == len(batch):
                acked.update(e["event_id"] for e in batch)
                in_flight.pop(prefix, None)
            n += 1


def test_kill_9_mid_batch_loses_nothing_acknowledged_and_keeps_no_partial_batch(db):
    path, sid, key = db
    proc, url = start_service(path)
    acked: set[str] = set()
    in_flight: dict[str, list[dict]] = {}
    stop = threading.Event()
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            c.post("/v1/decisions", json={"strategy_id": sid, "user_ids": USERS[:800]}).raise_for_status()
        senders = [threading.Thread(target=_sender, args=(url, key, sid, USERS[i * 200:(i + 1) * 200], f"s{i}",
                                                          acked, in_flight, stop)) for i in range(4)]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 4000 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in senders:
            t.join(30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 4000
    with Store(path) as s:
        stored = {r[0] for r in s.rows("SELECT event_id FROM api_events")}
    assert acked <= stored  # every acknowledged event survived the crash
    extra = stored - acked
    for batch in in_flight.values():  # a batch in flight is all there (committed, not yet answered) or not at all
        ids = {e["event_id"] for e in batch}
        assert ids <= extra or not ids & extra
        extra -= ids
    assert not extra
    # The client retries what was not acknowledged: idempotency makes stored == acknowledged.
    proc, url = start_service(path)
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            for batch in in_flight.values():
                assert c.post("/v1/events", json={"events": batch}).status_code == 200
                acked.update(e["event_id"] for e in batch)
    finally:
        stop_service(proc)
    with Store(path, read_only=True) as s:
        assert s.scalar("SELECT count(*) FROM api_events") == len(acked)


def test_while_the_service_runs_no_other_process_can_open_the_file(db):
    """DuckDB 2.0: a writer process locks the file against every other process, read-only ones too."""
    import subprocess
    import sys

    path, _, _ = db
    proc, _ = start_service(path)
    try:
        probe = ("import sys; from core.store import Store; from core.errors import StoreError\n"
                 "try:\n    Store(sys.argv[1], read_only=True)\nexcept StoreError as e:\n    print('refused', e)")
        out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=60,
                             cwd=Path(__file__).resolve().parent.parent)
        assert out.stdout.startswith("refused") and "lock" in out.stdout
    finally:
        stop_service(proc)


def test_service_and_dashboard_side_by_side_in_one_process(db):
    path, sid, key = db
    from tests.api_server import free_port

    ui = free_port()
    proc, url = start_service(path, None, "--dashboard-port", str(ui), with_dashboard=True)
    try:
        deadline = time.monotonic() + 60
        while True:  # Streamlit starts after the API thread; poll its health endpoint
            try:
                if httpx.get(f"http://127.0.0.1:{ui}/_stcore/health", timeout=5).text == "ok":
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            out = c.post("/v1/decisions", json={"strategy_id": sid, "user_ids": USERS[:10]}).json()
            assert len(out["decisions"]) == 10
        # The dashboard's page is served by the same process (one database instance, no lock conflict).
        assert httpx.get(f"http://127.0.0.1:{ui}/", timeout=30).status_code == 200
    finally:
        stop_service(proc)
    assert proc.returncode == 0


def test_keys_cli_works_while_the_service_holds_the_database(db, capsys):
    from core.api.__main__ import main
    from core.api.admin import admin_file

    path, sid, _ = db
    proc, url = start_service(path)
    try:
        assert admin_file(path).exists() and oct(admin_file(path).stat().st_mode & 0o777) == "0o600"
        assert main(["keys", "--db", str(path), "create", "--name", "push", "--scopes", "read"]) == 0
        text = capsys.readouterr().out.strip().splitlines()[-1]
        key_id = text.split("_")[1]
        with httpx.Client(base_url=url, timeout=30) as c:
            assert c.get(f"/v1/strategies/{sid}", headers={"Authorization": f"Bearer {text}"}).status_code == 200
            assert main(["keys", "--db", str(path), "list"]) == 0
            assert key_id in capsys.readouterr().out
            assert main(["keys", "--db", str(path), "revoke", key_id]) == 0
            assert c.get(f"/v1/strategies/{sid}", headers={"Authorization": f"Bearer {text}"}).status_code == 401
            assert c.get("/v1/admin/keys", headers={"X-Admin-Token": "guess"}).status_code == 401
        assert main(["keys", "--db", str(path), "revoke", "nope"]) == 2
        assert main(["keys", "--db", str(path), "create", "--name", "x", "--scopes", "sudo"]) == 2
        assert "scopes must be" in capsys.readouterr().err
    finally:
        stop_service(proc)
    assert not admin_file(path).exists()
