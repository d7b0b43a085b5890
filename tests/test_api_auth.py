"""API keys: hashed at rest, shown once, scoped, revocable; 401s counted; per-key rate limits; the keys CLI."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from core.api.__main__ import main
from core.api.app import create_app
from core.api.keys import ApiKey, RateLimiter, create_key, list_keys, revoke_key
from core.api.service import Service
from core.errors import NotFoundError, ValidationError
from core.store import Store
from tests.api_fixtures import approved_strategy, members_of, seed_shop


@pytest.fixture
def api(store):
    seed_shop(store)
    service = Service(store, members_of=members_of)
    with TestClient(create_app(service)) as client:
        yield store, service, client, approved_strategy(store)
    service.close()


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


def test_only_a_hash_of_the_secret_is_stored(store):
    key, text = create_key(store, "ESP", "decide")
    row = store.one("SELECT * FROM api_keys")
    secret = text.split("_", 2)[2]
    assert text.startswith(f"cl_{key.key_id}_") and len(secret) >= 40
    assert secret not in " ".join(map(str, row)) and hashlib.sha256(secret.encode()).hexdigest() in row
    assert "secret_sha256" not in list_keys(store).columns


def test_bad_or_missing_keys_get_401_and_are_counted(api):
    store, service, client, sid = api
    body = {"strategy_id": sid, "user_ids": ["u0001"]}
    _, good = create_key(store, "ok", "decide")
    service.keys.reload()
    tries = [{}, bearer("nonsense"), bearer(good[:-2] + "xx"), bearer("cl_deadbeef0000_abc"), {"X-API-Key": "cl_x"}]
    for headers in tries:
        r = client.post("/v1/decisions", json=body, headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/health").json()["refused"] == {"401": 5}
    service.tick()  # the learner flushes the counts
    assert store.scalar("SELECT sum(count) FROM api_refusals WHERE status = 401") == 5
    assert client.post("/v1/decisions", json=body, headers={"X-API-Key": good}).status_code == 200


def test_scopes_are_enforced(api):
    store, service, client, sid = api
    _, events_only = create_key(store, "events", "events")
    _, reader = create_key(store, "reader", "read")
    service.keys.reload()
    body = {"strategy_id": sid, "user_ids": ["u0001"]}
    assert client.post("/v1/decisions", json=body, headers=bearer(events_only)).status_code == 403
    assert client.post("/v1/decisions", json=body, headers=bearer(reader)).status_code == 403
    assert client.get(f"/v1/strategies/{sid}", headers=bearer(reader)).status_code == 200
    assert client.get(f"/v1/strategies/{sid}", headers=bearer(events_only)).status_code == 403
    r = client.post("/v1/events", json={"events": [{"event_id": "e"}]}, headers=bearer(events_only))
    assert r.status_code == 200


def test_revoked_keys_stop_working_after_the_key_ring_refreshes(api):
    store, service, client, sid = api
    key, text = create_key(store, "leaky", "read")
    service.keys.reload()
    assert client.get(f"/v1/strategies/{sid}", headers=bearer(text)).status_code == 200
    revoke_key(store, key.key_id)
    service.keys.reload()
    r = client.get(f"/v1/strategies/{sid}", headers=bearer(text))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    with pytest.raises(NotFoundError):
        revoke_key(store, "nope")


def test_rate_limit_per_key(api):
    store, service, client, sid = api
    _, slow = create_key(store, "slow", "read", rate_per_s=2)
    _, other = create_key(store, "other", "read", rate_per_s=2)
    service.keys.reload()
    codes = [client.get(f"/v1/strategies/{sid}", headers=bearer(slow)).status_code for _ in range(8)]
    assert codes[:4] == [200] * 4 and 429 in codes[4:]
    assert client.get(f"/v1/strategies/{sid}", headers=bearer(other)).status_code == 200  # its own bucket


def test_token_bucket_refills():
    key = ApiKey("k", "n", frozenset({"read"}), "", 10.0, False)
    limiter = RateLimiter()
    assert all(limiter.allow(key, now=0.0) == 0 for _ in range(20))
    assert limiter.allow(key, now=0.0) == pytest.approx(0.1)
    assert limiter.allow(key, now=0.5) == 0  # 5 tokens back after half a second


def test_key_settings_are_validated(store):
    with pytest.raises(ValidationError, match="scopes must be"):
        create_key(store, "x", "decide,admin")
    with pytest.raises(ValidationError, match="name"):
        create_key(store, " ", "read")
    with pytest.raises(ValidationError, match="rate"):
        create_key(store, "x", "read", rate_per_s=0)


def test_keys_cli_creates_lists_and_revokes(tmp_path, capsys):
    db = str(tmp_path / "k.duckdb")
    assert main(["keys", "--db", db, "create", "--name", "ESP", "--scopes", "decide,events"]) == 0
    out = capsys.readouterr().out
    text = out.strip().splitlines()[-1]
    key_id = text.split("_")[1]
    assert text.startswith("cl_") and "shown once" in out
    assert main(["keys", "--db", db, "list"]) == 0
    listing = capsys.readouterr().out
    assert key_id in listing and text.split("_", 2)[2] not in listing
    assert main(["keys", "--db", db, "revoke", key_id]) == 0
    with Store(db) as s:
        assert s.scalar("SELECT revoked_at IS NOT NULL FROM api_keys WHERE key_id = ?", [key_id])
    assert main(["keys", "--db", db, "create", "--name", "x", "--scopes", "sudo"]) == 2
    assert "scopes must be" in capsys.readouterr().err
