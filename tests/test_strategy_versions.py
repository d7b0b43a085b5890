"""Saved strategies: every change is a new version, statuses follow the review flow."""

from __future__ import annotations

import pytest

from core.errors import NotFoundError, ValidationError
from core.strategy.plan import with_allocation
from core.strategy.records import (
    approval_of,
    count_awaiting_approval,
    list_strategies,
    load_strategy,
    save_strategy,
    set_status,
    strategy_history,
)
from tests.strategy_helpers import simple_plan


def test_every_change_is_a_new_version_and_nothing_is_overwritten(store):
    first = save_strategy(store, simple_plan(name="Spring"), author="mia")
    assert (first.version, first.status) == (1, "draft")
    edited = save_strategy(store, simple_plan(name="Spring v2"), author="mia", strategy_id=first.strategy_id)
    submitted = set_status(store, first.strategy_id, "submitted", author="mia")
    assert [edited.version, submitted.version] == [2, 3]
    hist = strategy_history(store, first.strategy_id)
    assert hist["version"].tolist() == [1, 2, 3]
    assert hist["status"].tolist() == ["draft", "draft", "submitted"]
    assert load_strategy(store, first.strategy_id, 1).name == "Spring"  # old version intact
    assert load_strategy(store, first.strategy_id).plan == submitted.plan


def test_review_flow_with_approval_and_send_back(store):
    rec = save_strategy(store, simple_plan(), author="mia")
    sid = rec.strategy_id
    with pytest.raises(ValidationError, match="cannot become 'approved'"):
        set_status(store, sid, "approved", author="boss")  # not submitted yet
    set_status(store, sid, "submitted", author="mia")
    assert count_awaiting_approval(store) == 1
    with pytest.raises(ValidationError, match="comment is required"):
        set_status(store, sid, "sent_back", author="boss")
    back = set_status(store, sid, "sent_back", author="boss", comment="holdout too small")
    assert back.comment == "holdout too small" and count_awaiting_approval(store) == 0
    set_status(store, sid, "submitted", author="mia")
    approved = set_status(store, sid, "approved", author="boss", comment="go")
    assert approval_of(store, sid) == {
        "version": approved.version, "approver": "boss", "comment": "go", "approved_at": str(approved.created_at)
    }
    set_status(store, sid, "exported", author="mia")
    with pytest.raises(ValidationError):
        save_strategy(store, simple_plan(), strategy_id=sid)  # sent plans cannot be edited as drafts
    measured = save_strategy(store, with_allocation(simple_plan(), "Seg A", {"v1": 0.8, "v2": 0.1}),
                             strategy_id=sid, status="measured", author="results")
    assert measured.status == "measured" and measured.version == 7


def test_list_strategies_shows_latest_version_and_filters(store):
    a = save_strategy(store, simple_plan(name="A"))
    b = save_strategy(store, simple_plan(name="B"))
    set_status(store, b.strategy_id, "submitted")
    frame = list_strategies(store)
    assert set(frame["strategy_id"]) == {a.strategy_id, b.strategy_id} and len(frame) == 2
    assert list_strategies(store, "submitted")["name"].tolist() == ["B"]


def test_unknown_strategy_is_a_clear_error(store):
    with pytest.raises(NotFoundError, match="does not exist"):
        load_strategy(store, "stg-nope")
    with pytest.raises(NotFoundError):
        save_strategy(store, simple_plan(), strategy_id="stg-nope")
