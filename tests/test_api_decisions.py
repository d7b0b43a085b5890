"""POST /v1/decisions: the export's stable assignment, sticky arms, rendered copy, reasons, refusals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.api.app import create_app
from core.api.keys import create_key
from core.api.service import Service
from core.strategy.export import assign_users
from core.strategy.records import load_strategy, set_status
from tests.api_fixtures import (
    EXCLUDED,
    SEG_A,
    SEG_B,
    USERS,
    approved_strategy,
    do_not_send_plan,
    members_of,
    seed_shop,
    two_segment_plan,
)


@pytest.fixture
def shop(store):
    seed_shop(store)
    _, key = create_key(store, "tests", "decide,events,read", rate_per_s=1e6)
    service = Service(store, members_of=members_of)
    with TestClient(create_app(service)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        yield store, service, client
    service.close()


def decide(client, sid, users, **extra):
    r = client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": list(users), **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_arms_are_the_exports_assignment_for_every_member(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    record = load_strategy(store, sid)
    members = {"Seg A": [u for u in SEG_A], "Seg B": [u for u in SEG_B]}
    export = assign_users(record, members).set_index("user_id")
    out = decide(client, sid, USERS)
    assert out["strategy_version"] == record.version
    decided = {d["user_id"]: d for d in out["decisions"] if d["status"] == "decided"}
    assert set(decided) == set(export.index)
    assert all(decided[u]["variant_id"] == export.loc[u, "variant_id"] for u in export.index)
    assert all(decided[u]["segment"] == export.loc[u, "segment"] for u in export.index)
    assert all(decided[u]["arm"] == export.loc[u, "arm"] for u in export.index)
    # Both segments' arms are used, and a user in both segments belongs to the first.
    assert {d["variant_id"] for d in decided.values()} == {"control", "v1", "v2", "v3"}
    assert decided["u1600"]["segment"] == "Seg A"


def test_same_answer_one_by_one_or_in_a_batch_and_on_repeat(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    batch = decide(client, sid, USERS[:300])["decisions"]
    singles = [decide(client, sid, [u])["decisions"][0] for u in USERS[:300:7]]
    assert singles == batch[::7]
    assert decide(client, sid, USERS[:300])["decisions"] == batch


def test_copy_is_rendered_with_first_name_product_and_offer(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    by_user = {d["user_id"]: d for d in decide(client, sid, SEG_A)["decisions"]}
    v1 = [d for d in by_user.values() if d["variant_id"] == "v1"]
    named = next(d for d in v1 if int(d["user_id"][1:]) % 3)
    assert named["copy"] == f"Name{int(named['user_id'][1:])}, 20% off Wool Beanie today"
    assert named["offer"] == {"type": "percent", "value": 20.0, "promo_code": None}
    assert named["channel"] == "email_subject" and named["action"] == "send"
    unnamed = next(d for d in v1 if int(d["user_id"][1:]) % 3 == 0)
    assert unnamed["copy"] == "there, 20% off Wool Beanie today"
    other = decide(client, sid, [unnamed["user_id"]], first_name_fallback="Friend")["decisions"][0]
    assert other["copy"] == "Friend, 20% off Wool Beanie today"
    assert "{" not in "".join(d["copy"] or "" for d in by_user.values())


def test_holdout_gets_control_copy_or_nothing(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    out = decide(client, sid, USERS)["decisions"]
    a_ctrl = next(d for d in out if d["segment"] == "Seg A" and d["arm"] == "control")
    assert a_ctrl["action"] == "send" and a_ctrl["copy"] == "Our spring collection is here"
    assert a_ctrl["copy_variant_id"] == "ctrl" and a_ctrl["variant_id"] == "control"
    b_ctrl = next(d for d in out if d["segment"] == "Seg B" and d["arm"] == "control")
    assert b_ctrl["action"] == "holdout" and b_ctrl["copy"] is None and "send nothing" in b_ctrl["reason"]


def test_users_outside_the_segments_get_a_reason_each(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    out = {d["user_id"]: d for d in decide(client, sid, ["u2999", "ghost", *EXCLUDED, "u0001"])["decisions"]}
    assert out["u2999"]["status"] == "not_eligible" and "not in any of the strategy's segments" in out["u2999"]["reason"]
    assert "unknown user id" in out["ghost"]["reason"]
    assert "frequency guard from Seg A" in out["u0010"]["reason"]
    assert "frequency guard from Seg B" in out["u2700"]["reason"]
    assert out["u0001"]["status"] == "decided"
    assert all(out[u]["action"] == "do_not_send" for u in ("u2999", "ghost", *EXCLUDED))


def test_do_not_send_segment_says_so_with_the_plans_reason(shop):
    store, _, client = shop
    sid = approved_strategy(store, do_not_send_plan())
    b_user = decide(client, sid, ["u2500"])["decisions"][0]
    assert b_user["action"] == "do_not_send" and b_user["copy"] is None
    assert b_user["reason"].startswith("Predicted to hurt")


def test_only_approved_strategies_decide(shop):
    store, _, client = shop
    from core.strategy.records import save_strategy

    draft = save_strategy(store, two_segment_plan(), author="ana")
    r = client.post("/v1/decisions", json={"strategy_id": draft.strategy_id, "user_ids": ["u0001"]})
    assert r.status_code == 409 and "only an approved strategy" in r.json()["detail"]
    r = client.post("/v1/decisions", json={"strategy_id": "stg-nope", "user_ids": ["u0001"]})
    assert r.status_code == 404


def test_sent_back_strategy_stops_deciding_after_refresh(shop):
    store, service, client = shop
    sid = approved_strategy(store)
    decide(client, sid, ["u0001"])
    set_status(store, sid, "sent_back", author="boss", comment="wrong segment")
    service._refresh(sid)
    r = client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": ["u0001"]})
    assert r.status_code == 409 and "sent_back" in r.json()["detail"]


def test_batch_limits(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    r = client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": [f"x{i}" for i in range(10_001)]})
    assert r.status_code == 422
    assert client.post("/v1/decisions", json={"strategy_id": sid, "user_ids": []}).status_code == 422
    big = decide(client, sid, [f"x{i}" for i in range(10_000)])
    assert len(big["decisions"]) == 10_000


def test_decisions_are_stored_before_the_answer_and_survive_a_restart(shop):
    store, _, client = shop
    sid = approved_strategy(store)
    first = [d for d in decide(client, sid, SEG_A[:500])["decisions"] if d["status"] == "decided"]
    assert len(first) == 499  # u0010 is excluded by the frequency guard
    assert store.scalar("SELECT count(*) FROM api_decisions WHERE strategy_id = ?", [sid]) == 499
    fresh = Service(store, members_of=members_of)
    try:
        live = fresh.load(sid)
        # Skew the allocation completely: the stored users must keep their arms.
        from core.api.decide import Allocation

        live.allocation = Allocation(9, {"Seg A": (0.1, 0.0, 0.9), "Seg B": (0.1, 0.0, 0.9)}, "test")
        again, rows = live.decide([d["user_id"] for d in first])
        assert rows == [] and [d["variant_id"] for d in again] == [d["variant_id"] for d in first]
        newcomers, rows = live.decide(SEG_A[500:800])
        assert {d["variant_id"] for d in newcomers} <= {"control", "v2"} and len(rows) == 300
    finally:
        fresh.close()


def test_docs_and_health(shop):
    _, _, client = shop
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/decisions", "/v1/events", "/v1/strategies/{strategy_id}", "/health"} <= set(spec["paths"])
    health = client.get("/health", headers={"Authorization": ""}).json()
    assert health["status"] == "ok"


def test_a_new_strategy_version_keeps_decided_users_and_moves_new_ones(shop):
    from core.strategy.plan import with_allocation
    from core.strategy.records import save_strategy

    store, service, client = shop
    sid = approved_strategy(store)
    first = {d["user_id"]: d["variant_id"] for d in decide(client, sid, SEG_A[:400])["decisions"]
             if d["status"] == "decided"}
    old = service.cached(sid)
    set_status(store, sid, "exported", author="ana")
    record = load_strategy(store, sid)
    plan = with_allocation(record.plan, "Seg A", {"v1": 0.0, "v2": 0.9})
    save_strategy(store, plan, author="ana", strategy_id=sid, status="measured")
    service._refresh(sid)
    live = service.cached(sid)
    assert live.version == record.version + 1 and old.current() is live
    again = decide(client, sid, list(first))
    assert again["strategy_version"] == live.version
    assert {d["user_id"]: d["variant_id"] for d in again["decisions"]} == first
    newcomers = decide(client, sid, SEG_A[400:1400])["decisions"]
    assert {d["variant_id"] for d in newcomers if d["status"] == "decided"} <= {"control", "v2"}
    # A request still holding the replaced object decides on the new version.
    late, _ = old.decide(SEG_A[1400:1500])
    assert {d["variant_id"] for d in late if d["status"] == "decided"} <= {"control", "v2"}
