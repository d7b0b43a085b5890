"""Every built-in segment on hand-checked users, and the RFM grid as a partition of buyers."""

from __future__ import annotations

import pytest

from core.segments import compute_user_features, get_segment, list_segments, segment_members
from core.segments.builtins import RFM_GROUP_IDS
from tests.segment_fixtures import AS_OF, build_small
from tests.test_segment_features import _many_buyers

EXPECTED = {
    # u1: r4 f3 m3 -> fm 3; u3: r4 f1 m1; u5: r4 f2 m2; u6: r2 f1 m4 -> fm 3 (see test_segment_features)
    "rfm_champions": {"u1"},
    "rfm_loyal": set(),
    "rfm_promising": {"u5"},
    "rfm_new": {"u3"},
    "rfm_at_risk": {"u6"},
    "rfm_hibernating": set(),
    "rfm_lost": set(),
    "browsers_never_bought": {"u2"},
    "cart_abandoners": {"u2"},
    "discount_seekers": {"u5"},
    "lapsed_high_spenders": {"u6"},
    "reviewers": {"u1"},
    "category_shoes": {"u1", "u4", "u5", "u6"},
    "category_books": {"u3"},
    "category_toys": {"u2"},
}


@pytest.mark.parametrize("segment_id", sorted(EXPECTED))
def test_builtin_members_on_the_fixture(store, segment_id):
    build_small(store)
    seg = get_segment(store, segment_id)
    assert seg.is_builtin and seg.version == 1
    members = set(segment_members(store, seg, AS_OF)["user_id"])
    assert members == EXPECTED[segment_id]


def test_list_includes_every_builtin_with_categories_from_the_data(store):
    build_small(store)
    ids = [s.segment_id for s in list_segments(store)]
    assert set(EXPECTED) <= set(ids)
    assert len(ids) == len(set(ids))


def _grid(r, fm):
    if r >= 3:
        return {1: "rfm_new", 2: "rfm_promising"}.get(fm, "rfm_champions" if r == 4 else "rfm_loyal")
    if fm >= 3:
        return "rfm_at_risk"
    return "rfm_hibernating" if r == 2 else "rfm_lost"


def test_rfm_groups_partition_buyers_like_the_grid(store):
    _many_buyers(store)
    feats = compute_user_features(store, AS_OF).set_index("user_id")
    expected = {uid: _grid(int(row.r_score), int(row.fm_score)) for uid, row in feats.iterrows()}
    seen = {}
    for seg_id in RFM_GROUP_IDS:
        for uid in segment_members(store, get_segment(store, seg_id), AS_OF)["user_id"]:
            assert uid not in seen, f"{uid} is in {seen.get(uid)} and {seg_id}"
            seen[uid] = seg_id
    assert seen == expected
    assert len(set(seen.values())) >= 5  # the quartile data fills most of the grid
