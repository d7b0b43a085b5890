"""API keys: created, scoped, listed and revoked by an administrator; checked on every request.

A key reads ``cl_<key id>_<secret>``. Only the SHA-256 of the secret is stored,
so the full key is shown once, at creation, and cannot be recovered. The secret
is 32 random bytes, so a plain SHA-256 is enough (a slow password hash protects
guessable secrets, and these are not guessable). The key id is public and lets
the check find the row without scanning. Each key has scopes (``decide``,
``events``, ``read``) and a rate limit in requests per second, enforced by a
token bucket per key in the serving process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import pandas as pd

from core.errors import NotFoundError, ValidationError
from core.store import Store

SCOPES = ("decide", "events", "read")
PREFIX = "cl_"
MISS_RELOAD_S = 1.0
DEFAULT_RATE = 200.0  # requests per second per key; a 10,000-user batch counts as one request


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the secret itself)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    secret_sha256: str
    rate_per_s: float
    revoked: bool


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_scopes(text: str | list[str]) -> frozenset[str]:
    """Scopes from ``"decide,events"`` or a list; refuses unknown names."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    chosen = frozenset(p.strip() for p in parts if p.strip())
    unknown = sorted(chosen - set(SCOPES))
    if unknown or not chosen:
        raise ValidationError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(unknown) or 'none'}")
    return chosen


def create_key(store: Store, name: str, scopes: str | list[str], rate_per_s: float = DEFAULT_RATE) -> tuple[ApiKey, str]:
    """Store a new key and return it with the full key text (shown to the administrator once)."""
    if not name.strip():
        raise ValidationError("give the key a name (who or what uses it)")
    if not rate_per_s > 0:
        raise ValidationError("the rate limit must be above 0 requests per second")
    chosen = parse_scopes(scopes)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    store.execute(
        "INSERT INTO api_keys (key_id, name, scopes, secret_sha256, rate_per_s) VALUES (?, ?, ?, ?, ?)",
        [key_id, name.strip(), ",".join(sorted(chosen)), _digest(secret), float(rate_per_s)],
    )
    return ApiKey(key_id, name.strip(), chosen, _digest(secret), float(rate_per_s), False), f"{PREFIX}{key_id}_{secret}"


def list_keys(store: Store) -> pd.DataFrame:
    """Every key without its hash: id, name, scopes, rate, created, revoked."""
    return store.df(
        "SELECT key_id, name, scopes, rate_per_s, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id"
    )


def revoke_key(store: Store, key_id: str) -> None:
    """Mark a key revoked (the row stays, so the audit trail keeps its name)."""
    row = store.one("SELECT revoked_at FROM api_keys WHERE key_id = ?", [key_id])
    if row is None:
        raise NotFoundError(f"no API key with id {key_id}; `python -m core.api keys list` shows them")
    if row[0] is None:
        store.execute("UPDATE api_keys SET revoked_at = current_timestamp WHERE key_id = ?", [key_id])


def load_keys(store: Store) -> dict[str, ApiKey]:
    rows = store.rows("SELECT key_id, name, scopes, secret_sha256, rate_per_s, revoked_at FROM api_keys")
    return {r[0]: ApiKey(r[0], r[1], frozenset(r[2].split(",")), r[3], float(r[4]), r[5] is not None) for r in rows}


def split_key(text: str) -> tuple[str, str] | None:
    """(key id, secret) from a presented key, or None when it is not shaped like one of ours."""
    if not text.startswith(PREFIX):
        return None
    key_id, sep, secret = text[len(PREFIX):].partition("_")
    return (key_id, secret) if sep and key_id and secret else None


class KeyRing:
    """The keys the service accepts, re-read from the database every ``refresh_s`` seconds.

    Revoking a key from the CLI or the dashboard process therefore takes effect
    within ``refresh_s`` without a restart.
    """

    def __init__(self, store: Store, refresh_s: float = 5.0) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._keys: dict[str, ApiKey] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()
        self.reload()

    def reload(self) -> None:
        keys = load_keys(self._store)
        with self._lock:
            self._keys, self._loaded = keys, time.monotonic()

    def check(self, presented: str | None) -> tuple[ApiKey | None, str]:
        """The key for a presented ``Authorization`` value, or None with the reason it was refused."""
        if time.monotonic() - self._loaded > self._refresh_s:
            self.reload()
        if not presented:
            return None, "missing key"
        parts = split_key(presented)
        if parts is None:
            return None, "malformed key"
        key = self._keys.get(parts[0])
        if key is None and time.monotonic() - self._loaded > MISS_RELOAD_S:
            self.reload()  # a key created since the last read works at once; a flood of bad ids costs 1 read/s
            key = self._keys.get(parts[0])
        if key is None or not hmac.compare_digest(key.secret_sha256, _digest(parts[1])):
            return None, "unknown key"
        if key.revoked:
            return None, "revoked key"
        return key, ""


class RateLimiter:
    """A token bucket per key: ``rate_per_s`` tokens a second, bursts up to two seconds' worth."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: ApiKey, now: float | None = None) -> float:
        """0 when the request may go ahead, else the seconds to wait before retrying."""
        now = time.monotonic() if now is None else now
        burst = max(2.0 * key.rate_per_s, 1.0)
        with self._lock:
            tokens, last = self._buckets.get(key.key_id, (burst, now))
            tokens = min(burst, tokens + (now - last) * key.rate_per_s)
            if tokens >= 1.0:
                self._buckets[key.key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key.key_id] = (tokens, now)
            return (1.0 - tokens) / key.rate_per_s
