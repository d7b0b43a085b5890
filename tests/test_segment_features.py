"""Per-user features on hand-checkable data: every column, the as-of cut-off, caching and RFM scores."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.segments import FEATURE_COLUMNS, compute_user_features
from core.segments.features import query_user_features
from tests.segment_fixtures import AS_OF, build_small

CONTRACT = [
    "user_id", "recency_days", "frequency_90d", "frequency_180d", "monetary_180d", "views_7d", "views_30d",
    "clicks_7d", "clicks_30d", "carts_7d", "carts_30d", "cart_abandoner", "favourite_category",
    "favourite_category_share", "avg_order_value", "discount_sensitivity", "review_count", "mean_rating",
    "tenure_days", "device", "region", "loyalty_tier", "age_band", "open_rate", "click_rate",
]


@pytest.fixture
def feats(store):
    build_small(store)
    return compute_user_features(store, AS_OF).set_index("user_id")


def test_contract_columns_and_one_row_per_existing_user(feats):
    assert set(CONTRACT) <= set(feats.reset_index().columns)
    assert list(feats.reset_index().columns) == list(FEATURE_COLUMNS)
    # u7 signed up after AS_OF
    assert sorted(feats.index) == ["u1", "u2", "u3", "u4", "u5", "u6", "u8"]


def test_rfm_basics_for_a_repeat_buyer(feats):
    u1 = feats.loc["u1"]
    assert u1.recency_days == 2  # last order 28 June, as of 30 June; the 2 July order is after as_of
    assert u1.frequency_90d == 2  # o1, o2
    assert u1.frequency_180d == 3  # o4 (Nov 2025) is older than 180 days
    assert u1.monetary_180d == pytest.approx(100 + 30 + 40)  # o1 is 2 x 50
    assert u1.orders_total == 4 and u1.monetary_total == pytest.approx(230)
    assert u1.avg_order_value == pytest.approx(57.5)


def test_returns_are_not_purchases(store):
    build_small(store)
    store.execute("DELETE FROM events WHERE event_type = 'return'")
    without = compute_user_features(store, AS_OF).set_index("user_id").loc["u1"]
    assert without.orders_total == 4  # same as with the return event present (see above)


def test_order_lines_are_grouped_by_order_id(feats):
    u5 = feats.loc["u5"]
    assert u5.orders_total == 2  # o6 has two lines
    assert u5.monetary_total == pytest.approx(20 + 30 + 2 * 25)


def test_views_clicks_carts_windows(feats):
    u1 = feats.loc["u1"]
    assert (u1.views_7d, u1.views_30d, u1.clicks_7d, u1.clicks_30d) == (3, 4, 0, 1)
    assert (feats.loc["u2"].carts_7d, feats.loc["u2"].carts_30d) == (1, 1)
    assert (feats.loc["u4"].carts_7d, feats.loc["u4"].carts_30d) == (0, 1)


def test_cart_abandoner_means_recent_cart_without_later_order(feats):
    assert feats.loc["u2"].cart_abandoner  # carted 4 days ago, never bought
    assert not feats.loc["u3"].cart_abandoner  # bought the day after carting
    assert not feats.loc["u4"].cart_abandoner  # cart is 15 days old
    assert not feats.loc["u8"].cart_abandoner


def test_favourite_category_and_share(feats):
    # u1 in 180 days: Shoes = 2 orders + 3 views + 1 click = 6, Books = 1 order + 1 view = 2 (reviews don't count)
    assert feats.loc["u1"].favourite_category == "Shoes"
    assert feats.loc["u1"].favourite_category_share == pytest.approx(6 / 8)
    assert feats.loc["u2"].favourite_category == "Toys"
    assert pd.isna(feats.loc["u8"].favourite_category)


def test_discount_sensitivity_counts_orders_on_discount_offers(feats):
    assert feats.loc["u1"].discount_sensitivity == pytest.approx(1 / 4)  # free shipping is not a discount
    assert feats.loc["u5"].discount_sensitivity == pytest.approx(1.0)
    assert math.isnan(feats.loc["u2"].discount_sensitivity)  # never bought


def test_reviews_tenure_and_profile_columns(feats):
    u1 = feats.loc["u1"]
    assert u1.review_count == 2 and u1.mean_rating == pytest.approx(4.0)
    assert u1.tenure_days == (AS_OF.date() - datetime(2025, 1, 1).date()).days
    assert (u1.device, u1.region, u1.loyalty_tier, u1.age_band) == ("mobile", "north", "gold", "25-34")


def test_open_and_click_rates_use_exposures_before_as_of(feats):
    assert feats.loc["u1"].open_rate == pytest.approx(0.5)  # the 1 July send is ignored
    assert feats.loc["u1"].click_rate == pytest.approx(0.25)
    assert math.isnan(feats.loc["u2"].open_rate)


def test_non_buyers_have_no_recency_and_zero_counts(feats):
    u8 = feats.loc["u8"]
    assert math.isnan(u8.recency_days) and u8.orders_total == 0 and u8.monetary_180d == 0
    assert math.isnan(u8.r_score)


def test_default_as_of_is_last_event(store):
    build_small(store)
    feats = compute_user_features(store).set_index("user_id")
    assert "u7" in feats.index  # u7 signed up 1 July; last event is 3 July
    assert feats.loc["u1"].recency_days == 1  # the 2 July order now counts


def test_earlier_as_of_sees_less(store):
    build_small(store)
    early = compute_user_features(store, datetime(2026, 5, 1)).set_index("user_id")
    assert early.loc["u1"].orders_total == 2 and "u2" not in early.index


def test_materialized_run_is_reused_then_refreshed_when_data_changes(store):
    build_small(store)
    compute_user_features(store, AS_OF)
    computed_at = store.scalar("SELECT computed_at FROM user_feature_runs WHERE as_of = ?", [AS_OF])
    compute_user_features(store, AS_OF)
    assert store.scalar("SELECT count(*) FROM user_feature_runs") == 1
    assert store.scalar("SELECT computed_at FROM user_feature_runs WHERE as_of = ?", [AS_OF]) == computed_at
    store.execute(
        "INSERT INTO events (event_id, user_id, product_id, event_type, ts, quantity, price, order_id) "
        "VALUES ('new', 'u8', 'p3', 'purchase', ?, 1, 30.0, 'oN')",
        [AS_OF - timedelta(days=1)],
    )
    fresh = compute_user_features(store, AS_OF).set_index("user_id")
    assert fresh.loc["u8"].orders_total == 1
    assert store.scalar("SELECT count(*) FROM user_features WHERE as_of = ?", [AS_OF]) == 7


def test_stored_and_direct_computation_agree(store):
    build_small(store)
    stored = compute_user_features(store, AS_OF)
    direct = query_user_features(store, AS_OF)
    pd.testing.assert_frame_equal(stored.reset_index(drop=True), direct.reset_index(drop=True))


def test_rfm_fallback_thresholds_on_thin_data(feats):
    # 4 buyers (< RFM_MIN_BUYERS): fixed thresholds. Median lifetime value = (100 + 230) / 2 = 165.
    assert (feats.loc["u1"].r_score, feats.loc["u1"].f_score, feats.loc["u1"].m_score) == (4, 3, 3)
    assert (feats.loc["u6"].r_score, feats.loc["u6"].f_score, feats.loc["u6"].m_score) == (2, 1, 4)
    assert (feats.loc["u3"].r_score, feats.loc["u3"].f_score, feats.loc["u3"].m_score) == (4, 1, 1)
    assert feats.loc["u6"].fm_score == 3  # (1 + 4) / 2 rounds half up


def _many_buyers(store, n=40):
    """n buyers: buyer i last ordered i days ago, has 1-8 orders and a lifetime value of 10 * (i + 1)."""
    users = pd.DataFrame({"user_id": [f"b{i:02d}" for i in range(n)]})
    store.insert_df("users", users)
    rows = []
    for i in range(n):
        orders = 1 + (i * 7) % 8
        for k in range(orders):
            rows.append((f"e{i}_{k}", f"b{i:02d}", None, "purchase", AS_OF - timedelta(days=i + 30 * k),
                         1, 10.0 * (i + 1) / orders, f"o{i}_{k}"))
    frame = pd.DataFrame(rows, columns=["event_id", "user_id", "product_id", "event_type", "ts", "quantity",
                                        "price", "order_id"])
    store.insert_df("events", frame)
    return users


def test_rfm_quartile_scores_match_an_independent_computation(store):
    _many_buyers(store)
    feats = compute_user_features(store, AS_OF).set_index("user_id")

    def quartile_score(x, reverse=False):
        q = np.quantile(x, [0.25, 0.5, 0.75])  # same linear interpolation as DuckDB quantile_cont
        s = 1 + (x > q[0]).astype(int) + (x > q[1]) + (x > q[2])
        return 5 - s if reverse else s

    assert (feats["r_score"].to_numpy() == quartile_score(feats["recency_days"].to_numpy(), True)).all()
    assert (feats["f_score"].to_numpy() == quartile_score(feats["orders_total"].to_numpy())).all()
    assert (feats["m_score"].to_numpy() == quartile_score(feats["monetary_total"].to_numpy())).all()
    assert set(feats["r_score"]) == {1, 2, 3, 4}


def test_only_the_most_recent_runs_are_kept(store, monkeypatch):
    from core.segments import features

    build_small(store)
    monkeypatch.setattr(features, "MAX_STORED_RUNS", 2)
    for day in (10, 20, 30):
        compute_user_features(store, datetime(2026, 6, day))
    kept = [r[0].day for r in store.rows("SELECT as_of FROM user_feature_runs ORDER BY as_of")]
    assert kept == [20, 30]
    assert store.scalar("SELECT count(DISTINCT as_of) FROM user_features") == 2
    assert store.scalar("SELECT count(DISTINCT as_of) FROM user_channel_response") == 2


def test_channel_response_is_stored_with_the_run(store):
    build_small(store)
    compute_user_features(store, AS_OF)
    rows = store.rows("SELECT user_id, channel, sends, opens, n_click, clicks FROM user_channel_response "
                      "WHERE as_of = ? ORDER BY user_id", [AS_OF])
    # u1: 4 sends before AS_OF (2 opened, 1 clicked); u5: 1 send, opened, click unknown
    assert rows == [("u1", "email_subject", 4, 2, 4, 1), ("u5", "email_subject", 1, 1, 0, 0)]
