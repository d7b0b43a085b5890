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

from core.segments.features_sql import FEATURES_FROM_STORED_RESPONSE_SQL, FEATURES_SQL, RESPONSE_SQL
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
        cur.execute(f"INSERT INTO user_features ({cols}) {FEATURES_FROM_STORED_RESPONSE_SQL}", params)
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
