"""Saving segments: versions, unique names, refusals that leave nothing half-saved."""

from __future__ import annotations

import pytest

from core.errors import NotFoundError, ValidationError
from core.segments import SegmentRef, get_segment, list_segments, save_segment, segment_versions
from core.segments.rules import Condition
from tests.segment_fixtures import build_small

MOBILE = [{"feature": "device", "operator": "==", "value": "mobile"}]
NORTH = [{"feature": "region", "operator": "==", "value": "north"}]


@pytest.fixture
def shop(store):
    build_small(store)
    return store


def test_save_get_and_list(shop):
    seg = save_segment(shop, "Mobile shoppers", "People on phones", MOBILE)
    assert seg.segment_id.startswith("seg_") and seg.version == 1 and not seg.is_builtin
    got = get_segment(shop, seg.segment_id)
    assert got.name == "Mobile shoppers" and got.rules.items == (Condition("device", "==", "mobile"),)
    assert got.ref == SegmentRef(seg.segment_id, 1, "Mobile shoppers")
    listed = [s for s in list_segments(shop) if not s.is_builtin]
    assert [s.name for s in listed] == ["Mobile shoppers"]


def test_saving_again_makes_a_new_version_and_keeps_the_old(shop):
    first = save_segment(shop, "Mobile shoppers", "", MOBILE)
    second = save_segment(shop, "Mobile north", "narrowed", MOBILE + NORTH, segment_id=first.segment_id)
    assert (second.segment_id, second.version) == (first.segment_id, 2)
    assert second.created_at == first.created_at
    assert get_segment(shop, first.segment_id).name == "Mobile north"
    assert get_segment(shop, first.segment_id, version=1).name == "Mobile shoppers"
    assert [s.version for s in segment_versions(shop, first.segment_id)] == [1, 2]
    assert len([s for s in list_segments(shop) if not s.is_builtin]) == 1


def test_duplicate_names_are_refused_case_insensitively(shop):
    save_segment(shop, "Mobile shoppers", "", MOBILE)
    with pytest.raises(ValidationError, match="already exists"):
        save_segment(shop, "mobile SHOPPERS", "", NORTH)
    with pytest.raises(ValidationError, match="already exists"):
        save_segment(shop, "Champions", "", NORTH)  # a built-in's name
    assert shop.count("segments") == 1


def test_renaming_a_segment_to_its_own_name_is_fine(shop):
    seg = save_segment(shop, "Mobile shoppers", "", MOBILE)
    assert save_segment(shop, "Mobile shoppers", "v2", MOBILE, segment_id=seg.segment_id).version == 2


@pytest.mark.parametrize(
    "name, rules, message",
    [
        ("  ", MOBILE, "needs a name"),
        ("Nobody", [], "no conditions"),
        ("Nobody", [{"feature": "device", "operator": "==", "value": "smart fridge"}], "matches no customers"),
        ("Bad", [{"feature": "views_7d", "operator": ">", "value": "lots"}], "needs a number"),
        ("Bad", [{"feature": "wingspan", "operator": ">", "value": 1}], "unknown feature"),
        ("x" * 81, MOBILE, "under 80"),
    ],
)
def test_bad_saves_are_refused_and_nothing_is_written(shop, name, rules, message):
    with pytest.raises(ValidationError, match=message):
        save_segment(shop, name, "", rules)
    assert shop.count("segments") == 0


def test_builtins_cannot_be_overwritten_and_unknown_ids_are_not_found(shop):
    with pytest.raises(ValidationError, match="built in"):
        save_segment(shop, "My champions", "", MOBILE, segment_id="rfm_champions")
    with pytest.raises(NotFoundError):
        save_segment(shop, "Ghost", "", MOBILE, segment_id="seg_missing")
    with pytest.raises(NotFoundError, match="does not exist"):
        get_segment(shop, "seg_missing")
    assert shop.count("segments") == 0


def test_edited_copy_of_a_builtin_saves_as_a_new_segment(shop):
    champions = get_segment(shop, "rfm_champions")
    copy = save_segment(shop, "Champions on mobile", "", {
        "combinator": "and", "rules": [*champions.rules.items, Condition("device", "==", "mobile")]})
    assert not copy.is_builtin and len(copy.rules.conditions()) == 3
