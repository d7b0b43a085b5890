"""Validate outcome events one by one, so a bad event is refused alone with its index and reason.

An event names its id (the idempotency key), type, strategy, user, and
optionally its variant (checked against the user's decided arm), time and
value (revenue amount; required for ``revenue``). The arm it counts for is the
user's sticky decision: an event for a user the service never decided for
that strategy cannot be attributed, and is refused with a reason saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from core.migrations import API_EVENT_TYPES

MAX_ID = 200
FUTURE_SLACK = timedelta(days=1)
Lookup = Callable[[str, str], "tuple[str, str] | str"]  # (strategy, user) -> (segment, variant) or a reason


def _text(raw: Mapping[str, Any], name: str, required: bool = True) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise ValueError(f"{name} is missing")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > MAX_ID:
        raise ValueError(f"{name} is longer than {MAX_ID} characters")
    return value


def _timestamp(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, str):
        raise ValueError("ts must be an ISO 8601 time such as 2026-12-02T18:00:00Z")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"ts {value[:40]!r} is not an ISO 8601 time") from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    if ts > now + FUTURE_SLACK:
        raise ValueError(f"ts {value[:40]} is more than a day in the future")
    if ts.year < 2000:
        raise ValueError(f"ts {value[:40]} is before 2000")
    return ts


def _value(raw: Mapping[str, Any], kind: str) -> float | None:
    value = raw.get("value")
    if value is None:
        if kind == "revenue":
            raise ValueError("a revenue event needs a value (the amount, 0 or more)")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("value must be a finite number")
    if value < 0:
        raise ValueError("value must be 0 or more")
    return float(value)


def validate_event(raw: Any, lookup: Lookup, key_id: str | None, now: datetime) -> tuple:
    """The row to store for one event; ``ValueError`` with the reason when it is refused."""
    if not isinstance(raw, Mapping):
        raise ValueError("an event must be a JSON object")
    unknown = sorted(set(raw) - {"event_id", "type", "strategy_id", "user_id", "variant_id", "ts", "value"})
    if unknown:
        raise ValueError("unknown field(s): " + ", ".join(map(str, unknown))[:200])
    event_id = _text(raw, "event_id")
    kind = _text(raw, "type")
    if kind not in API_EVENT_TYPES:
        raise ValueError(f"type {kind[:40]!r} is not one of {', '.join(API_EVENT_TYPES)}")
    strategy_id, user_id = _text(raw, "strategy_id"), _text(raw, "user_id")
    variant = _text(raw, "variant_id", required=False)
    ts, value = _timestamp(raw.get("ts"), now), _value(raw, kind)
    found = lookup(strategy_id, user_id)
    if isinstance(found, str):
        raise ValueError(found)
    segment, decided = found
    if variant is not None and variant != decided:
        raise ValueError(f"variant_id {variant[:40]} is not the arm decided for this user ({decided})")
    return (event_id, kind, strategy_id, user_id, segment, decided, value, ts, key_id)


def validate_batch(events: list[Any], lookup: Lookup, key_id: str | None) -> tuple[list[tuple], list[dict], int]:
    """Rows of the valid events (first of each event id), the refusals, and repeats within the batch."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows, rejected, seen, repeats = [], [], set(), 0
    for index, raw in enumerate(events):
        try:
            row = validate_event(raw, lookup, key_id, now)
        except ValueError as err:
            event_id = raw.get("event_id") if isinstance(raw, Mapping) else None
            rejected.append({"index": index, "event_id": event_id if isinstance(event_id, str) else None,
                             "reason": str(err)})
            continue
        if row[0] in seen:
            repeats += 1
            continue
        seen.add(row[0])
        rows.append(row)
    return rows, rejected, repeats
