"""Learning as outcomes arrive: scheduled Thompson updates with their counts, sticky arms, background retrain."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.api.keys import create_key
from core.api.learn import LearnSettings, allocation_history, arm_counts, materialize_exposures
from core.api.service import Service, ServiceSettings
from tests.api_fixtures import SEG_A, approved_strategy, members_of, seed_shop


def make(store, retrain_fn=None, **learn):
    seed_shop(store)
    _, key = create_key(store, "tests", "decide,events,read", rate_per_s=1e6)
    settings = ServiceSettings(learn=LearnSettings(draws=4000, **learn), refresh_s=3600)
    service = Service(store, members_of=members_of, settings=settings, retrain_fn=retrain_fn)
    client = TestClient(create_app(service))
    client.headers["Authorization"] = f"Bearer {key}"
    return service, client, approved_strategy(store)


def report(client, sid, decisions, convert_variant, start=0, value=10.0):
    """Deliver to every decided user; users in ``convert_variant`` convert."""
    events = []
    for i, d in enumerate(decisions):
        events.append({"event_id": f"d{start + i}", "type": "delivery", "strategy_id": sid, "user_id": d["user_id"]})
        if d["variant_id"] == convert_variant:
            events.append({"event_id": f"c{start + i}", "type": "conversion", "strategy_id": sid,
                           "user_id": d["user_id"], "value": value})
    r = client.post("/v1/events", json={"events": events})
    assert r.status_code == 200 and not r.json()["rejected"]


def decide(client, sid, users):
    return [d for d in client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": users}).json()["decisions"]
            if d["status"] == "decided"]


def test_counts_per_arm_follow_deliveries_and_conversions(store):
    service, client, sid = make(store)
    try:
        ds = decide(client, sid, SEG_A[:400])
        report(client, sid, ds[:300], "v2")
        counts = arm_counts(store, sid).set_index(["segment_name", "variant_id"])
        v2 = [d for d in ds[:300] if d["variant_id"] == "v2"]
        assert counts.loc[("Seg A", "v2"), "sends"] == len(v2) == counts.loc[("Seg A", "v2"), "conversions"]
        assert counts.loc[("Seg A", "v2"), "revenue"] == pytest.approx(10.0 * len(v2))
        assert counts["decided"].sum() == len(ds) and counts["sends"].sum() == 300
    finally:
        service.close()


def test_allocation_moves_after_n_conversions_holdout_fixed_floor_kept_and_arms_stay(store):
    service, client, sid = make(store, every_conversions=20, every_seconds=1e9)
    try:
        first = decide(client, sid, SEG_A[:1000])
        approved = service.cached(sid).allocation.shares["Seg A"]
        assert approved[2] < approved[1]  # the plan favours v1
        report(client, sid, first, "v2")  # ...but v2 converts every time
        service.tick()
        live = service.cached(sid)
        assert live.allocation.update_no == 1
        control, v1, v2 = live.allocation.shares["Seg A"]
        assert control == pytest.approx(0.1) and v1 == pytest.approx(0.05) and v2 == pytest.approx(0.85)
        history = allocation_history(store, sid)
        assert sorted(history["update_no"].unique()) == [0, 1]
        row = history[(history["update_no"] == 1) & (history["variant_id"] == "v2")].iloc[0]
        assert row["sends"] == row["conversions"] == sum(d["variant_id"] == "v2" for d in first)
        assert "new conversions" in row["trigger"] and row["prob_best"] > 0.99
        # Users decided before the update keep their arm; newcomers follow the new shares.
        again = decide(client, sid, [d["user_id"] for d in first])
        assert [d["variant_id"] for d in again] == [d["variant_id"] for d in first]
        newcomers = decide(client, sid, SEG_A[1000:2000])
        share_v2 = sum(d["variant_id"] == "v2" for d in newcomers) / len(newcomers)
        assert 0.8 < share_v2 < 0.9 and all(d["allocation_no"] == 1 for d in newcomers)
        service.tick()
        assert service.cached(sid).allocation.update_no == 1  # nothing new arrived: no update
    finally:
        service.close()


def test_time_schedule_updates_when_events_arrived(store):
    service, client, sid = make(store, every_conversions=10_000, every_seconds=0.0)
    try:
        ds = decide(client, sid, SEG_A[:50])
        service.tick()
        assert service.cached(sid).allocation.update_no == 0  # no events yet
        report(client, sid, ds, "none")
        service.tick()
        assert service.cached(sid).allocation.update_no == 1
        assert "new events" in allocation_history(store, sid)["trigger"].iloc[-1]
    finally:
        service.close()


def test_a_restarted_service_continues_from_the_last_update(store):
    service, client, sid = make(store, every_conversions=5, every_seconds=1e9)
    ds = decide(client, sid, SEG_A[:300])
    report(client, sid, ds, "v2")
    service.tick()
    shares = service.cached(sid).allocation.shares
    service.close()
    again = Service(store, members_of=members_of)
    try:
        live = again.load(sid)
        assert live.allocation.update_no == 1
        assert {k: pytest.approx(v) for k, v in shares.items()} == live.allocation.shares
    finally:
        again.close()


def test_retrain_runs_in_the_background_and_never_blocks_decisions(store):
    started, release = threading.Event(), threading.Event()

    def slow_retrain(st, cfg):
        started.set()
        release.wait(20)
        return SimpleNamespace(old_version=None, new_version=1, notes=("held out",),
                               metrics=pd.DataFrame([{"metric": "auc", "before": None, "after": 0.6}]))

    service, client, sid = make(store, slow_retrain, every_conversions=1000, retrain_after_conversions=10)
    try:
        ds = decide(client, sid, SEG_A[:300])
        report(client, sid, ds, "v1")
        service.tick()
        assert started.wait(10) and service.retraining
        t0 = time.perf_counter()
        assert len(decide(client, sid, SEG_A[300:310])) == 10  # answered while the retrain is still running
        assert time.perf_counter() - t0 < 2.0
        assert store.scalar("SELECT status FROM api_retrains") == "running"
        release.set()
        service.retrain_thread.join(10)
        row = store.one("SELECT status, new_version, report_json, trigger FROM api_retrains")
        assert row[0] == "done" and row[1] == 1 and "held out" in row[2] and "new conversions" in row[3]
        # The retrain learns from what the service saw: exposures were written for the delivered users.
        assert store.scalar("SELECT count(*) FROM exposures WHERE source = 'api'") == len(ds)
    finally:
        release.set()
        service.close()


def test_a_failed_retrain_is_recorded(store):
    def broken(st, cfg):
        raise RuntimeError("no predictor data")

    service, client, sid = make(store, broken, retrain_after_conversions=1)
    try:
        report(client, sid, decide(client, sid, SEG_A[:50]), "v1")
        service.tick()
        service.retrain_thread.join(10)
        status, error = store.one("SELECT status, error FROM api_retrains")
        assert status == "failed" and "no predictor data" in error
    finally:
        service.close()


def test_exposures_are_replaced_not_duplicated(store):
    service, client, sid = make(store)
    try:
        ds = decide(client, sid, SEG_A[:100])
        report(client, sid, ds[:40], "v1")
        holdouts_b = 0  # Seg A's holdout gets the control copy, so only delivered users count
        assert materialize_exposures(store) == 40 + holdouts_b
        assert materialize_exposures(store) == 40
        got = store.df("SELECT variant_id, converted FROM exposures WHERE source = 'api'")
        assert set(got["variant_id"]) <= {"ctrl", "v1", "v2"}  # the control arm carries its copy's id
        assert got["converted"].sum() == sum(d["variant_id"] == "v1" for d in ds[:40])
    finally:
        service.close()


def test_stopping_the_service_stops_a_running_retrain_and_records_it(store, monkeypatch):
    import subprocess
    import sys

    import core.api.service as service_module

    def child_that_hangs(st, cfg, started=None):
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        started(proc)
        if proc.wait() != 0:
            raise RuntimeError(f"retrain process stopped ({proc.returncode})")
        return {}

    monkeypatch.setattr(service_module, "run_retrain", child_that_hangs)
    service, _, _ = make(store)
    service.start_retrain("test")
    deadline = time.monotonic() + 10
    while service._retrain_child is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child = service._retrain_child
    service.close()
    assert child.poll() is not None  # not left running after the service
    status, error = store.one("SELECT status, error FROM api_retrains")
    assert status == "failed" and "stopped" in error
    # A run left 'running' by a crash is closed when the next service starts.
    store.execute("UPDATE api_retrains SET status = 'running', error = NULL")
    Service(store).close()
    assert store.one("SELECT status, error FROM api_retrains") == ("failed", "the service stopped before it finished")
