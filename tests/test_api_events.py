"""POST /v1/events: per-event validation, idempotency by event id, durable writes, attribution to the arm."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.api.keys import create_key
from core.api.service import Service
from tests.api_fixtures import SEG_A, approved_strategy, members_of, seed_shop


@pytest.fixture
def live(store):
    seed_shop(store)
    _, key = create_key(store, "tests", "decide,events,read", rate_per_s=1e6)
    service = Service(store, members_of=members_of)
    with TestClient(create_app(service)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        sid = approved_strategy(store)
        out = client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": SEG_A[:100]}).json()
        arms = {d["user_id"]: d["variant_id"] for d in out["decisions"] if d["status"] == "decided"}
        yield store, service, client, sid, arms
    service.close()


def ev(i, sid, user, kind="delivery", **extra):
    return {"event_id": f"e{i}", "type": kind, "strategy_id": sid, "user_id": user, **extra}


def stored(store):
    return store.scalar("SELECT count(*) FROM api_events")


def test_a_batch_is_stored_before_the_answer_and_attributed_to_the_decided_arm(live):
    store, _, client, sid, arms = live
    users = sorted(arms)[:20]
    batch = [ev(i, sid, u) for i, u in enumerate(users)] + [ev(100, sid, users[0], "conversion", value=30.0)]
    r = client.post("/v1/events", json={"events": batch})
    assert r.status_code == 200 and r.json() == {"received": 21, "stored": 21, "duplicates": 0, "rejected": []}
    assert stored(store) == 21
    got = dict(store.rows("SELECT user_id, variant_id FROM api_events WHERE event_type = 'delivery'"))
    assert got == {u: arms[u] for u in users}


def test_replaying_a_batch_changes_nothing(live):
    store, _, client, sid, arms = live
    batch = [ev(i, sid, u, "open") for i, u in enumerate(sorted(arms)[:30])]
    client.post("/v1/events", json={"events": batch})
    before = store.df("SELECT * FROM api_events ORDER BY event_id")
    r = client.post("/v1/events", json={"events": batch})
    assert r.json() == {"received": 30, "stored": 0, "duplicates": 30, "rejected": []}
    after = store.df("SELECT * FROM api_events ORDER BY event_id")
    assert before.equals(after)
    # A repeat inside one batch counts once, and a changed payload under a known id is still a duplicate.
    r = client.post("/v1/events", json={"events": [ev(500, sid, "u0001"), ev(500, sid, "u0001"),
                                                    ev(0, sid, "u0001", "click")]})
    assert r.json()["stored"] == 1 and r.json()["duplicates"] == 2


def test_bad_events_are_refused_alone_with_index_and_reason(live):
    store, _, client, sid, arms = live
    user = sorted(arms)[0]
    wrong_arm = next(v for v in ("v1", "v2", "control") if v != arms[user])
    batch = [
        ev(1, sid, user),                                   # 0 good
        {"type": "open", "strategy_id": sid, "user_id": user},  # 1 no id
        ev(2, sid, user, "purchase"),                       # 2 unknown type
        ev(3, sid, user, "revenue"),                        # 3 revenue without value
        ev(4, sid, user, "revenue", value=-5),              # 4 negative
        ev(5, sid, user, ts="yesterday"),                   # 5 bad time
        ev(6, sid, user, ts="2999-01-01T00:00:00Z"),        # 6 future
        ev(7, sid, "u2999"),                                # 7 never decided
        ev(8, sid, user, variant_id=wrong_arm),             # 8 wrong arm
        ev(9, sid, user, colour="red"),                     # 9 unknown field
        "not an object",                                    # 10
        ev(10, sid, user, "revenue", value=12.5, ts="2026-12-01T10:00:00+01:00", variant_id=arms[user]),  # 11 good
    ]
    r = client.post("/v1/events", json={"events": batch})
    body = r.json()
    assert r.status_code == 200 and body["stored"] == 2
    reasons = {x["index"]: x["reason"] for x in body["rejected"]}
    assert sorted(reasons) == list(range(1, 11))
    assert "event_id is missing" in reasons[1]
    assert "not one of delivery" in reasons[2]
    assert "needs a value" in reasons[3] and "0 or more" in reasons[4]
    assert "ISO 8601" in reasons[5] and "future" in reasons[6]
    assert "no decision recorded" in reasons[7] and "not the arm decided" in reasons[8]
    assert "unknown field" in reasons[9] and "JSON object" in reasons[10]
    assert body["rejected"][0]["event_id"] is None and body["rejected"][1]["event_id"] == "e2"
    assert store.one("SELECT value, ts::VARCHAR FROM api_events WHERE event_id = 'e10'") == (12.5, "2026-12-01 09:00:00")


def test_events_for_users_decided_before_a_restart_are_attributed_from_the_database(live):
    store, _, client, sid, arms = live
    fresh = Service(store, members_of=members_of)
    try:
        with TestClient(create_app(fresh)) as other:
            other.headers["Authorization"] = client.headers["Authorization"]
            user = sorted(arms)[3]
            r = other.post("/v1/events", json={"events": [ev(1, sid, user)]})
            assert r.json()["stored"] == 1
            assert store.scalar("SELECT variant_id FROM api_events WHERE event_id = 'e1'") == arms[user]
    finally:
        fresh.close()


def test_a_failed_write_keeps_nothing_and_says_retry(live, monkeypatch):
    store, service, client, sid, arms = live

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service.writer, "submit", broken)
    r = client.post("/v1/events", json={"events": [ev(1, sid, sorted(arms)[0])]})
    assert r.status_code == 503 and "retry" in r.json()["detail"]
    assert stored(store) == 0


def test_event_batches_are_capped(live):
    _, _, client, sid, _ = live
    r = client.post("/v1/events", json={"events": [ev(i, sid, "u0001") for i in range(10_001)]})
    assert r.status_code == 422
