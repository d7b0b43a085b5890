"""Per-user behaviour features, computed in DuckDB as of a date and materialized.

``compute_user_features`` turns the raw ``events``, ``users``, ``campaigns``,
``products`` and ``exposures`` tables into one row per user, as the data stood
at ``as_of``. The whole computation is one SQL statement (no Python loops), and
its result is stored in ``user_features`` keyed by ``as_of`` (with per-user,
per-channel campaign response in ``user_channel_response``); a later call for
the same date reuses it until the data fingerprint (row counts, last event,
imports) changes. At most ``MAX_STORED_RUNS`` dates are kept. Rules (``core.segments.rules``) are evaluated against this
table.

Definitions (all windows end at ``as_of`` inclusive; "last N days" means
``ts > as_of - N days``):

- a *purchase* is an event of type ``purchase``; ``return`` events never count.
  Purchase lines are grouped into orders by ``order_id`` (a line without one is
  its own order). Order value = sum of ``price * quantity`` (quantity 1 when
  missing).
- ``recency_days``: calendar days from the last order to ``as_of`` (NULL for
  users who never bought); ``frequency_*``: orders in the window;
  ``monetary_180d``: order value in the last 180 days; ``orders_total`` and
  ``monetary_total``: the same over all history.
- ``cart_abandoner``: the last add-to-cart is within 7 days and no order
  followed it.
- ``favourite_category``: the category with the most views, clicks, carts and
  purchases in the last 180 days (ties: alphabetical); its share of those.
- ``avg_order_value``: lifetime value / lifetime orders.
- ``discount_sensitivity``: share of orders placed through a campaign whose
  offer is a discount (``DISCOUNT_OFFER_TYPES``).
- ``open_rate``/``click_rate``: from ``exposures`` sent strictly before ``as_of``.
- ``r_score``, ``f_score``, ``m_score`` (1-4, buyers only): quartile scores of
  recency (recent = 4), lifetime orders and lifetime value; when there are fewer
  than ``RFM_MIN_BUYERS`` buyers or a metric's quartile cut points coincide (most
  customers bought once), that metric falls back to fixed thresholds, in the
  spirit of pymc-marketing's ``rfm_segments``. ``fm_score`` rounds the mean of F
  and M.

Users who signed up after ``as_of`` are left out.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import overload

import pandas as pd

from core.store import Store, single_value

# Bump when the SQL below changes meaning, so stored runs are recomputed.
FEATURES_VERSION = "4"

# Offer types (lower case) that count as a discount for discount_sensitivity.
DISCOUNT_OFFER_TYPES = (
    "percent_off",
    "amount_off",
    "amount",
    "discount",
    "percent",
    "percentage",
    "fixed_amount",
    "bogo",
    "sale",
)

# RFM fallbacks for thin data. Recency: days at most -> score (else 1).
RFM_MIN_BUYERS = 20
RFM_RECENCY_DAYS = (30, 90, 180)  # <=30 -> 4, <=90 -> 3, <=180 -> 2, else 1
RFM_FREQUENCY_ORDERS = (2, 3, 5)  # 1 -> 1, 2 -> 2, 3-4 -> 3, 5+ -> 4
# Monetary fallback: multiples of the median buyer's lifetime value.
RFM_MONETARY_MEDIAN_MULTIPLES = (0.5, 1.0, 2.0)

# How many as-of dates are kept; the oldest computed are dropped beyond this.
MAX_STORED_RUNS = 96

FEATURE_COLUMNS = (
    "user_id",
    "recency_days",
    "frequency_90d",
    "frequency_180d",
    "monetary_180d",
    "orders_total",
    "monetary_total",
    "views_7d",
    "views_30d",
    "clicks_7d",
    "clicks_30d",
    "carts_7d",
    "carts_30d",
    "cart_abandoner",
    "favourite_category",
    "favourite_category_share",
    "avg_order_value",
    "discount_sensitivity",
    "review_count",
    "mean_rating",
    "tenure_days",
    "device",
    "region",
    "loyalty_tier",
    "age_band",
    "open_rate",
    "click_rate",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
)

# Sends, opens, clicks and conversions per user and channel before $as_of. Stored next to
# each feature run (table ``user_channel_response``) for the profile's response chart.
RESPONSE_SQL = """
SELECT x.user_id, v.channel,
       count(*) AS sends,
       count(x.opened) AS n_open, count(*) FILTER (WHERE x.opened) AS opens,
       count(x.clicked) AS n_click, count(*) FILTER (WHERE x.clicked) AS clicks,
       count(*) FILTER (WHERE x.converted) AS conversions
FROM exposures x
JOIN variants v ON v.variant_id = x.variant_id
WHERE x.sent_at < $as_of
GROUP BY ALL
"""

# One statement; $as_of and the thresholds are bound parameters. ``{response}`` is either
# the response query inline or the stored rows for this as-of (both constant text).
_FEATURES_TEMPLATE = """
WITH
orders AS (
    SELECT e.user_id,
           max(e.ts) AS ts,
           sum(coalesce(e.price, 0) * coalesce(e.quantity, 1)) AS value,
           bool_or(coalesce(list_contains($discount_types, lower(c.offer_type)), FALSE)) AS discounted
    FROM events e
    LEFT JOIN campaigns c ON c.campaign_id = e.campaign_id
    WHERE e.event_type = 'purchase' AND e.ts <= $as_of
    GROUP BY e.user_id, coalesce(e.order_id, e.event_id)
),
buyers AS (
    SELECT user_id,
           date_diff('day', CAST(max(ts) AS DATE), CAST($as_of AS DATE)) AS recency_days,
           max(ts) AS last_order_ts,
           count(*) FILTER (WHERE ts > $as_of - INTERVAL 90 DAY) AS frequency_90d,
           count(*) FILTER (WHERE ts > $as_of - INTERVAL 180 DAY) AS frequency_180d,
           coalesce(sum(value) FILTER (WHERE ts > $as_of - INTERVAL 180 DAY), 0) AS monetary_180d,
           count(*) AS orders_total,
           sum(value) AS monetary_total,
           avg(CAST(discounted AS DOUBLE)) AS discount_sensitivity
    FROM orders
    GROUP BY user_id
),
activity AS (
    SELECT user_id,
           count(*) FILTER (WHERE event_type = 'view' AND ts > $as_of - INTERVAL 7 DAY) AS views_7d,
           count(*) FILTER (WHERE event_type = 'view' AND ts > $as_of - INTERVAL 30 DAY) AS views_30d,
           count(*) FILTER (WHERE event_type = 'click' AND ts > $as_of - INTERVAL 7 DAY) AS clicks_7d,
           count(*) FILTER (WHERE event_type = 'click' AND ts > $as_of - INTERVAL 30 DAY) AS clicks_30d,
           count(*) FILTER (WHERE event_type = 'add_to_cart' AND ts > $as_of - INTERVAL 7 DAY) AS carts_7d,
           count(*) FILTER (WHERE event_type = 'add_to_cart' AND ts > $as_of - INTERVAL 30 DAY) AS carts_30d,
           max(ts) FILTER (WHERE event_type = 'add_to_cart') AS last_cart_ts,
           count(*) FILTER (WHERE event_type = 'review') AS review_count,
           avg(rating) FILTER (WHERE event_type = 'review') AS mean_rating,
           min(ts) AS first_ts
    FROM events
    WHERE ts <= $as_of
    GROUP BY user_id
),
category_counts AS (
    SELECT e.user_id, p.category, count(*) AS n
    FROM events e
    JOIN products p ON p.product_id = e.product_id
    WHERE e.ts <= $as_of AND e.ts > $as_of - INTERVAL 180 DAY
      AND e.event_type IN ('view', 'click', 'add_to_cart', 'purchase')
      AND p.category IS NOT NULL
    GROUP BY ALL
),
favourite AS (
    SELECT user_id,
           first(category ORDER BY n DESC, category) AS favourite_category,
           max(n) / sum(n) AS favourite_category_share
    FROM category_counts
    GROUP BY user_id
),
engagement AS (
    SELECT user_id,
           sum(opens) / nullif(sum(n_open), 0) AS open_rate,
           sum(clicks) / nullif(sum(n_click), 0) AS click_rate
    FROM {response}
    GROUP BY user_id
),
cuts AS (
    SELECT count(*) AS n_buyers,
           quantile_cont(recency_days, [0.25, 0.5, 0.75]) AS rq,
           quantile_cont(orders_total, [0.25, 0.5, 0.75]) AS fq,
           quantile_cont(monetary_total, [0.25, 0.5, 0.75]) AS mq,
           median(monetary_total) AS m_median
    FROM buyers
),
scored AS (
    SELECT b.user_id,
           CASE WHEN c.n_buyers >= $min_buyers AND c.rq[1] < c.rq[2] AND c.rq[2] < c.rq[3]
                THEN 4 - (CAST(b.recency_days > c.rq[1] AS INTEGER) + CAST(b.recency_days > c.rq[2] AS INTEGER)
                          + CAST(b.recency_days > c.rq[3] AS INTEGER))
                ELSE 4 - (CAST(b.recency_days > $r_cut[1] AS INTEGER) + CAST(b.recency_days > $r_cut[2] AS INTEGER)
                          + CAST(b.recency_days > $r_cut[3] AS INTEGER)) END AS r_score,
           CASE WHEN c.n_buyers >= $min_buyers AND c.fq[1] < c.fq[2] AND c.fq[2] < c.fq[3]
                THEN 1 + CAST(b.orders_total > c.fq[1] AS INTEGER) + CAST(b.orders_total > c.fq[2] AS INTEGER)
                       + CAST(b.orders_total > c.fq[3] AS INTEGER)
                ELSE 1 + CAST(b.orders_total >= $f_cut[1] AS INTEGER) + CAST(b.orders_total >= $f_cut[2] AS INTEGER)
                       + CAST(b.orders_total >= $f_cut[3] AS INTEGER) END AS f_score,
           CASE WHEN c.n_buyers >= $min_buyers AND c.mq[1] < c.mq[2] AND c.mq[2] < c.mq[3]
                THEN 1 + CAST(b.monetary_total > c.mq[1] AS INTEGER) + CAST(b.monetary_total > c.mq[2] AS INTEGER)
                       + CAST(b.monetary_total > c.mq[3] AS INTEGER)
                ELSE 1 + CAST(b.monetary_total >= $m_mult[1] * c.m_median AS INTEGER)
                       + CAST(b.monetary_total > $m_mult[2] * c.m_median AS INTEGER)
                       + CAST(b.monetary_total > $m_mult[3] * c.m_median AS INTEGER) END AS m_score
    FROM buyers b, cuts c
)
SELECT CAST($as_of AS TIMESTAMP) AS as_of,
       u.user_id,
       CAST(b.recency_days AS INTEGER) AS recency_days,
       CAST(coalesce(b.frequency_90d, 0) AS INTEGER) AS frequency_90d,
       CAST(coalesce(b.frequency_180d, 0) AS INTEGER) AS frequency_180d,
       coalesce(b.monetary_180d, 0.0) AS monetary_180d,
       CAST(coalesce(b.orders_total, 0) AS INTEGER) AS orders_total,
       coalesce(b.monetary_total, 0.0) AS monetary_total,
       CAST(coalesce(a.views_7d, 0) AS INTEGER) AS views_7d,
       CAST(coalesce(a.views_30d, 0) AS INTEGER) AS views_30d,
       CAST(coalesce(a.clicks_7d, 0) AS INTEGER) AS clicks_7d,
       CAST(coalesce(a.clicks_30d, 0) AS INTEGER) AS clicks_30d,
       CAST(coalesce(a.carts_7d, 0) AS INTEGER) AS carts_7d,
       CAST(coalesce(a.carts_30d, 0) AS INTEGER) AS carts_30d,
       coalesce(a.last_cart_ts > $as_of - INTERVAL 7 DAY
                AND (b.last_order_ts IS NULL OR b.last_order_ts < a.last_cart_ts), FALSE) AS cart_abandoner,
       f.favourite_category,
       f.favourite_category_share,
       b.monetary_total / b.orders_total AS avg_order_value,
       b.discount_sensitivity,
       CAST(coalesce(a.review_count, 0) AS INTEGER) AS review_count,
       a.mean_rating,
       CAST(date_diff('day', coalesce(u.signup_date, CAST(a.first_ts AS DATE)), CAST($as_of AS DATE))
            AS INTEGER) AS tenure_days,
       u.device,
       u.region,
       u.loyalty_tier,
       u.age_band,
       g.open_rate,
       g.click_rate,
       s.r_score,
       s.f_score,
       s.m_score,
       CAST(round((s.f_score + s.m_score) / 2.0) AS INTEGER) AS fm_score
FROM users u
LEFT JOIN buyers b USING (user_id)
LEFT JOIN activity a USING (user_id)
LEFT JOIN favourite f USING (user_id)
LEFT JOIN engagement g USING (user_id)
LEFT JOIN scored s USING (user_id)
WHERE u.signup_date IS NULL OR u.signup_date <= CAST($as_of AS DATE)
"""
FEATURES_SQL = _FEATURES_TEMPLATE.replace("{response}", f"({RESPONSE_SQL})")
_FEATURES_FROM_STORED_RESPONSE = _FEATURES_TEMPLATE.replace(
    "{response}", "(SELECT * FROM user_channel_response WHERE as_of = $as_of)"
)


@overload
def normalize_as_of(value: None) -> None: ...


@overload
def normalize_as_of(value: datetime | date | str | pd.Timestamp) -> datetime: ...


def normalize_as_of(value: datetime | date | str | pd.Timestamp | None) -> datetime | None:
    """A naive ``datetime`` (UTC when the input had a zone), or None."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def default_as_of(store: Store) -> datetime:
    """The last event's time; now when there are no events yet."""
    last = store.scalar("SELECT max(ts) FROM events")
    if last is None:
        return datetime.now().replace(microsecond=0)
    return normalize_as_of(last)


def resolve_as_of(store: Store, as_of: datetime | date | str | None) -> datetime:
    return default_as_of(store) if as_of is None else normalize_as_of(as_of)


def data_fingerprint(store: Store) -> str:
    """A cheap digest of the data the features depend on; changes after any import or load."""
    # UNION ALL of plain aggregates: one statement of scalar subqueries planned ~8x slower.
    rows = store.rows(
        "SELECT 'events', count(*)::VARCHAR || '/' || coalesce(max(ts)::VARCHAR, '') FROM events "
        "UNION ALL SELECT 'users', count(*)::VARCHAR FROM users "
        "UNION ALL SELECT 'products', count(*)::VARCHAR FROM products "
        "UNION ALL SELECT 'campaigns', count(*)::VARCHAR FROM campaigns "
        "UNION ALL SELECT 'exposures', count(*)::VARCHAR FROM exposures "
        "UNION ALL SELECT 'imports', count(*)::VARCHAR || '/' || count(*) FILTER (WHERE status = 'undone')::VARCHAR "
        "|| '/' || coalesce(max(import_id), 0)::VARCHAR FROM import_log"
    )
    raw = FEATURES_VERSION + "|" + "|".join(f"{k}={v}" for k, v in sorted(rows))
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _params(as_of: datetime) -> dict:
    return {
        "as_of": as_of,
        "discount_types": list(DISCOUNT_OFFER_TYPES),
        "min_buyers": RFM_MIN_BUYERS,
        "r_cut": list(RFM_RECENCY_DAYS),
        "f_cut": list(RFM_FREQUENCY_ORDERS),
        "m_mult": list(RFM_MONETARY_MEDIAN_MULTIPLES),
    }


def query_user_features(store: Store, as_of: datetime) -> pd.DataFrame:
    """Compute the features from the raw tables without storing them (no cache)."""
    frame = store.df(FEATURES_SQL + " ORDER BY u.user_id", _params(as_of))
    return tidy_features(frame.drop(columns=["as_of"]))


# Integer columns that may be missing; returned as float with NaN so numpy and
# scikit-learn can use them directly (pandas' nullable Int would break them).
_NULLABLE_INTS = ("recency_days", "tenure_days", "r_score", "f_score", "m_score", "fm_score")


def tidy_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer features as float64 (NaN when missing)."""
    for col in _NULLABLE_INTS:
        frame[col] = frame[col].astype("float64")
    return frame


def _has_feature_table(store: Store) -> bool:
    return bool(
        store.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'user_channel_response'"
        )
    )


def ensure_features(
    store: Store, as_of: datetime | date | str | None = None, fingerprint: str | None = None
) -> datetime:
    """Make sure ``user_features`` holds fresh rows for ``as_of``; return the as-of used.

    Stored runs computed from other data (a different fingerprint) are dropped
    first, so the table never mixes old and new data. Pass ``fingerprint`` when
    ensuring several dates in a row, to compute it once.
    """
    when = resolve_as_of(store, as_of)
    fingerprint = fingerprint or data_fingerprint(store)
    fresh = store.scalar(
        "SELECT count(*) FROM user_feature_runs WHERE as_of = ? AND fingerprint = ?", [when, fingerprint]
    )
    if fresh:
        return when
    with store.transaction() as cur:
        # Re-check inside the write lock: another session may have just stored it.
        if single_value(
            cur,
            "SELECT count(*) FROM user_feature_runs WHERE as_of = ? AND fingerprint = ?", [when, fingerprint]
        ):
            return when
        stale = (
            "SELECT as_of FROM user_feature_runs WHERE fingerprint <> ? OR as_of = ? UNION ALL "
            "(SELECT as_of FROM user_feature_runs ORDER BY computed_at DESC, as_of DESC OFFSET ?)"
        )
        keep = [fingerprint, when, MAX_STORED_RUNS - 1]
        for table in ("user_features", "user_channel_response"):
            cur.execute(f"DELETE FROM {table} WHERE as_of IN ({stale}) OR as_of = ?", [*keep, when])
        cur.execute(f"DELETE FROM user_feature_runs WHERE as_of IN ({stale})", keep)
        params = _params(when)
        cur.execute(
            "INSERT INTO user_channel_response (as_of, user_id, channel, sends, n_open, opens, n_click, clicks, "
            f"conversions) SELECT $as_of, * FROM ({RESPONSE_SQL})",
            {"as_of": when},
        )
        cols = ", ".join(("as_of",) + FEATURE_COLUMNS)
        cur.execute(f"INSERT INTO user_features ({cols}) {_FEATURES_FROM_STORED_RESPONSE}", params)
        users = single_value(cur, "SELECT count(*) FROM user_features WHERE as_of = ?", [when])
        cur.execute(
            "INSERT INTO user_feature_runs (as_of, fingerprint, users) VALUES (?, ?, ?)",
            [when, fingerprint, users],
        )
    return when


def invalidate_features(store: Store) -> None:
    """Forget every stored run (call after writes the fingerprint cannot see, e.g. user edits)."""
    with store.transaction() as cur:
        for table in ("user_features", "user_channel_response", "user_feature_runs"):
            cur.execute(f"DELETE FROM {table}")


def compute_user_features(store: Store, as_of: datetime | date | str | None = None) -> pd.DataFrame:
    """One row per user with the behaviour features as of ``as_of`` (default: last event).

    Reuses the stored run for ``as_of`` when the data has not changed since;
    otherwise computes it in DuckDB and stores it. Columns are ``FEATURE_COLUMNS``.
    """
    if not _has_feature_table(store):  # a read-only store opened before migrations 2-3
        return query_user_features(store, resolve_as_of(store, as_of))
    when = ensure_features(store, as_of)
    cols = ", ".join(FEATURE_COLUMNS)
    return tidy_features(store.df(f"SELECT {cols} FROM user_features WHERE as_of = ? ORDER BY user_id", [when]))
