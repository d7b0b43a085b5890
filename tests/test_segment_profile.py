"""Profiles, comparisons, overlaps, size history, CSV export and charts on the hand-written shop."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go
import pytest

from core.errors import ValidationError
from core.segments import charts, get_segment, members_csv, save_segment
from core.segments.profile import BASE, compare_summaries, history_dates, overlap, segment_profile
from tests.segment_fixtures import AS_OF, build_small


@pytest.fixture
def shop(store):
    build_small(store)
    return store


def _value(frame, metric, group):
    return frame[(frame["metric"] == metric) & (frame["group"] == group)]["value"].iloc[0]


def test_profile_of_shoes_enthusiasts_against_the_base(shop):
    seg = get_segment(shop, "category_shoes")  # u1, u4, u5, u6
    prof = segment_profile(shop, seg, AS_OF)
    assert (prof.size, prof.total) == (4, 7) and prof.share == pytest.approx(4 / 7)
    # AOV = lifetime spend / orders: members (230 + 100 + 1000) / (4 + 2 + 1); base adds u3's 30 / 1
    assert _value(prof.summary, "Average order value", seg.name) == pytest.approx(1330 / 7)
    assert _value(prof.summary, "Average order value", BASE) == pytest.approx(1360 / 8)
    devices = prof.devices.set_index(["device", "group"])["users"]
    assert devices[("mobile", seg.name)] == 2 and devices[("desktop", BASE)] == 3
    rfm = prof.rfm.set_index(["rfm_group", "group"])["users"]
    assert rfm[("Champions", seg.name)] == 1 and rfm[("At risk", seg.name)] == 1
    assert rfm[("Never bought", seg.name)] == 1  # u4 only carted
    assert prof.rfm.groupby("group")["share"].sum().round(6).eq(1).all()


def test_campaign_response_compares_members_with_everyone(shop):
    prof = segment_profile(shop, get_segment(shop, "reviewers"), AS_OF)  # u1 only
    resp = prof.response.set_index(["metric", "group"])
    assert resp.loc[("open rate", "Reviewers"), "rate"] == pytest.approx(0.5)  # 2 of 4 sends before AS_OF
    assert resp.loc[("open rate", BASE), "rate"] == pytest.approx(3 / 5)  # plus u5's opened send
    assert resp.loc[("open rate", BASE), "sends"] == 5


def test_size_history_counts_members_at_each_month_start(shop):
    prof = segment_profile(shop, get_segment(shop, "reviewers"), AS_OF)
    hist = prof.size_history
    assert list(hist["as_of"])[-1] == AS_OF
    assert [d.month for d in hist["as_of"].iloc[:-1]] == [1, 2, 3, 4, 5, 6]
    by_month = dict(zip([d.month for d in hist["as_of"]], hist["members"]))
    assert by_month[5] == 0 and by_month[6] == 1  # u1's first review is on 20 May


def test_history_dates_skip_months_before_the_data(shop):
    dates = history_dates(shop, datetime(2026, 6, 30, 12))
    assert dates[0] == datetime(2026, 1, 1) and dates[-1] == datetime(2026, 6, 30, 12)


def test_whole_base_profile(shop):
    prof = segment_profile(shop, None, AS_OF, history=False)
    assert prof.name == BASE and prof.size == prof.total == 7 and prof.size_history.empty


def test_overlap_and_comparison(shop):
    shoes, reviewers, seekers = (get_segment(shop, i) for i in ("category_shoes", "reviewers", "discount_seekers"))
    ov = overlap(shop, [shoes, reviewers, seekers], AS_OF).set_index(["a", "b"])
    assert ov.loc[("Shoes enthusiasts", "Reviewers"), "both"] == 1
    assert ov.loc[("Shoes enthusiasts", "Reviewers"), "share_of_a"] == pytest.approx(1 / 4)
    assert ov.loc[("Reviewers", "Shoes enthusiasts"), "share_of_a"] == pytest.approx(1.0)
    assert ov.loc[("Reviewers", "Discount seekers"), "jaccard"] == 0
    cmp = compare_summaries(shop, [shoes, reviewers], AS_OF)
    assert set(cmp["group"]) == {"Shoes enthusiasts", "Reviewers", BASE}
    idx = cmp[(cmp["metric"] == "Customers") & (cmp["group"] == "Reviewers")]["index_vs_base"].iloc[0]
    assert idx == pytest.approx(100 / 7)
    with pytest.raises(ValidationError, match="different segments"):
        compare_summaries(shop, [shoes, shoes], AS_OF)


def test_member_csv_is_formula_safe(shop):
    shop.execute("INSERT INTO users (user_id, device) VALUES ('=HYPERLINK(\"x\")', 'mobile')")
    seg = save_segment(shop, "Mobile", "", [{"feature": "device", "operator": "==", "value": "mobile"}])
    lines = members_csv(shop, seg, AS_OF).decode().splitlines()
    assert lines[0] == "user_id"
    assert lines[1] == '"\'=HYPERLINK(""x"")"'  # quoted by csv, defused by the leading apostrophe
    assert sorted(lines[2:]) == ["u1", "u3", "u5"]


def test_charts_build_from_profile_frames(shop):
    prof = segment_profile(shop, get_segment(shop, "category_shoes"), AS_OF)
    figs = [
        charts.rfm_chart(prof.rfm),
        charts.share_bar_chart(prof.categories, "category", "Favourite categories", "Category"),
        charts.response_chart(prof.response),
        charts.size_history_chart(prof.size_history, prof.name),
        charts.index_chart(compare_summaries(shop, [get_segment(shop, "category_shoes"),
                                              get_segment(shop, "reviewers")], AS_OF)),
        charts.overlap_heatmap(overlap(shop, [get_segment(shop, "category_shoes")], AS_OF)),
    ]
    assert all(isinstance(f, go.Figure) and f.layout.title.text for f in figs)
    with pytest.raises(ValidationError, match="lacks columns"):
        charts.rfm_chart(prof.devices)
