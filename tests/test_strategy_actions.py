"""The review buttons come from the workflow's transition table, not from a copy of it."""

from __future__ import annotations

import pytest

from core.strategy.records import ACTION_LABELS, TRANSITIONS, next_actions


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("draft", ("submitted",)),
        ("submitted", ("approved", "sent_back")),
        ("sent_back", ("submitted",)),
        ("approved", ("sent_back",)),  # exporting is its own button
        ("exported", ()),  # measured comes from importing results
        ("measured", ()),
    ],
)
def test_next_actions_per_status(status, expected):
    assert next_actions(status) == expected


def test_every_action_is_a_transition_the_table_allows():
    for status in TRANSITIONS:
        for action in next_actions(status):
            assert action in TRANSITIONS[status] and action in ACTION_LABELS


def test_an_unknown_status_offers_nothing():
    assert next_actions("nonsense") == ()
