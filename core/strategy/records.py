"""Saved strategies: versioned rows, the approval workflow's transition table, and reading them back."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from core.errors import NotFoundError, ValidationError
from core.migrations import STRATEGY_STATUSES
from core.store import Store
from core.strategy.plan import Plan, plan_from_dict, plan_to_dict

ACTIVE_STATUSES = ("submitted", "approved", "exported")

# Which status may follow which; saving an edited plan always goes back to draft.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("submitted",),
    "submitted": ("approved", "sent_back"),
    "sent_back": ("submitted",),
    "approved": ("exported", "sent_back"),
    "exported": ("exported", "measured"),
    "measured": ("measured",),
}
EDITABLE = ("draft", "submitted", "sent_back", "approved")
# The transitions a person takes by pressing a button on the review view; "exported" and "measured"
# follow from exporting and from importing results, never from a button.
ACTION_LABELS: dict[str, str] = {"submitted": "Submit for approval", "approved": "Approve", "sent_back": "Send back"}


def next_actions(status: str) -> tuple[str, ...]:
    """The statuses a reviewer may move a strategy to from ``status``, in the transition table's order."""
    return tuple(s for s in TRANSITIONS.get(status, ()) if s in ACTION_LABELS)


@dataclass(frozen=True)
class StrategyRecord:
    """One saved version of a strategy."""

    strategy_id: str
    version: int
    name: str
    status: str
    plan: Plan
    author: str | None
    comment: str | None
    created_at: datetime | None


# -- persistence -----------------------------------------------------------------
def new_strategy_id() -> str:
    return "stg-" + uuid.uuid4().hex[:12]


def _latest(store: Store, strategy_id: str) -> tuple[int, str] | None:
    row = store.one(
        "SELECT version, status FROM strategies WHERE strategy_id = ? ORDER BY version DESC LIMIT 1", [strategy_id]
    )
    return None if row is None else (int(row[0]), str(row[1]))


def _insert(store: Store, strategy_id: str, name: str, status: str, plan: Plan,
            author: str | None, comment: str | None, allowed_from: Sequence[str] | None) -> StrategyRecord:
    if status not in STRATEGY_STATUSES:
        raise ValidationError(f"unknown status {status!r}")
    with store.transaction() as cur:
        row = cur.execute(
            "SELECT version, status FROM strategies WHERE strategy_id = ? ORDER BY version DESC LIMIT 1",
            [strategy_id],
        ).fetchone()
        version = 1 if row is None else int(row[0]) + 1
        if row is not None and allowed_from is not None and row[1] not in allowed_from:
            raise ValidationError(
                f"strategy {strategy_id} is '{row[1]}'; it cannot become '{status}' from there "
                f"(allowed from: {', '.join(allowed_from)})"
            )
        cur.execute(
            "INSERT INTO strategies (strategy_id, version, name, status, plan_json, author, comment) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [strategy_id, version, name, status, json.dumps(plan_to_dict(plan)), author, comment],
        )
    return load_strategy(store, strategy_id, version)


def save_strategy(
    store: Store,
    plan: Plan,
    *,
    author: str | None = None,
    strategy_id: str | None = None,
    comment: str | None = None,
    status: str = "draft",
) -> StrategyRecord:
    """Save ``plan`` as a new strategy, or as the next version of ``strategy_id``.

    Editing returns a strategy to ``draft`` (it needs approval again); a sent
    strategy can only be re-saved as ``measured`` (updated allocation after results).
    """
    if status not in ("draft", "measured"):
        raise ValidationError("a plan is saved as 'draft' (or 'measured' after results); use set_status otherwise")
    if not plan.segments:
        raise ValidationError("the plan has no segments; pick at least one segment and variant")
    sid = strategy_id or new_strategy_id()
    allowed = EDITABLE if status == "draft" else ("exported", "measured")
    if strategy_id is not None and _latest(store, strategy_id) is None:
        raise NotFoundError(f"strategy {strategy_id} does not exist")
    return _insert(store, sid, plan.name, status, plan, author, comment, allowed)


def save_plan(store: Store, plan: Plan, *, author: str | None, submit: bool = False) -> StrategyRecord:
    """Save a new plan as a draft and, when asked, submit it for approval at once."""
    record = save_strategy(store, plan, author=author)
    return set_status(store, record.strategy_id, "submitted", author=author) if submit else record


def set_status(
    store: Store, strategy_id: str, status: str, *, author: str | None = None, comment: str | None = None
) -> StrategyRecord:
    """Move a strategy to ``status`` as a new version with the same plan (approval, send-back...)."""
    if status == "sent_back" and not (comment or "").strip():
        raise ValidationError("say why the strategy is sent back: the comment is required")
    if status == "approved" and not (author or "").strip():
        raise ValidationError("approval needs the approver's name")
    current = load_strategy(store, strategy_id)
    allowed_from = [s for s, nxt in TRANSITIONS.items() if status in nxt]
    return _insert(store, strategy_id, current.name, status, current.plan, author, comment, allowed_from)


def load_strategy(store: Store, strategy_id: str, version: int | None = None) -> StrategyRecord:
    """One version of a strategy (the latest when ``version`` is None)."""
    sql = "SELECT strategy_id, version, name, status, plan_json, author, comment, created_at FROM strategies WHERE strategy_id = ?"
    params: list[Any] = [strategy_id]
    if version is not None:
        sql += " AND version = ?"
        params.append(int(version))
    row = store.one(sql + " ORDER BY version DESC LIMIT 1", params)
    if row is None:
        what = f"strategy {strategy_id}" + (f" version {version}" if version is not None else "")
        raise NotFoundError(f"{what} does not exist; pick one from the list of saved strategies")
    return StrategyRecord(
        strategy_id=row[0], version=int(row[1]), name=row[2], status=row[3],
        plan=plan_from_dict(json.loads(row[4])), author=row[5], comment=row[6], created_at=row[7],
    )


def list_strategies(store: Store, status: str | None = None) -> pd.DataFrame:
    """The latest version of each strategy, newest first, optionally only those in ``status``."""
    sql = (
        "SELECT strategy_id, version, name, status, author, comment, created_at FROM strategies "
        "QUALIFY row_number() OVER (PARTITION BY strategy_id ORDER BY version DESC) = 1"
    )
    frame = store.df(sql)
    if status is not None:
        frame = frame[frame["status"] == status]
    return frame.sort_values("created_at", ascending=False).reset_index(drop=True)


def strategy_history(store: Store, strategy_id: str) -> pd.DataFrame:
    """Every saved version of one strategy, oldest first."""
    return store.df(
        "SELECT version, status, name, author, comment, created_at FROM strategies "
        "WHERE strategy_id = ? ORDER BY version",
        [strategy_id],
    )


def count_awaiting_approval(store: Store) -> int:
    """How many strategies are submitted and waiting for a manager."""
    return int(len(list_strategies(store, status="submitted")))


def approval_of(store: Store, strategy_id: str) -> dict[str, Any] | None:
    """Who approved the strategy last, when, and with what comment."""
    row = store.one(
        "SELECT version, author, comment, created_at FROM strategies WHERE strategy_id = ? AND status = 'approved' "
        "ORDER BY version DESC LIMIT 1",
        [strategy_id],
    )
    if row is None:
        return None
    return {"version": int(row[0]), "approver": row[1], "comment": row[2], "approved_at": str(row[3])}
