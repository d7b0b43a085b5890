"""Model inputs for the conversion predictor: user features x copy features.

A row of the model's input is one (user, variant) pair: the user's behaviour
features at send time (from ``core.segments.compute_user_features``), the
variant's copy features (``core.copy_features.extract_copy_features``, the same
reader the sample generator's customers use), its brief (channel, offer type and
value, promo code) and two pair features: whether the variant's product
category is the user's favourite, and whether the copy names that category.
The raw text travels too, in ``copy_text``, for the hashed n-gram components
that the model pipeline learns (fitted on training data only).

Training rows come from two sources that one model family learns from:
user-level ``exposures`` (weight 1 each) and aggregate ``variant_results``
(one positive row weighted by conversions and one negative row weighted by
non-converting sends; user features missing), never expanded into one row per
send. Aggregates for variants that also have exposures are skipped, so no send
is counted twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from core.copy_features import FEATURE_NAMES, extract_copy_features
from core.errors import PredictionError
from core.segments import compute_user_features
from core.store import Store

OUTCOMES = ("open", "click", "conversion", "revenue")
# exposures column and variant_results column for each outcome.
OUTCOME_COLUMNS = {
    "open": ("opened", "opens"),
    "click": ("clicked", "clicks"),
    "conversion": ("converted", "conversions"),
    "revenue": ("revenue", "revenue"),
}

USER_NUMERIC = (
    "recency_days", "frequency_90d", "frequency_180d", "monetary_180d", "views_7d", "views_30d",
    "clicks_7d", "clicks_30d", "carts_7d", "carts_30d", "cart_abandoner", "favourite_category_share",
    "avg_order_value", "discount_sensitivity", "review_count", "mean_rating", "tenure_days",
    "open_rate", "click_rate",
)
USER_CATEGORICAL = ("device", "region", "loyalty_tier", "age_band")
COPY_NUMERIC = tuple(f"copy_{name}" for name in FEATURE_NAMES)
BRIEF_NUMERIC = ("offer_value", "has_offer_code")
PAIR_NUMERIC = ("category_match", "copy_names_favourite", "category_share")
SHARE_PREFIX = "share::"
# Imported customer attributes (core.ingest's user_attributes table), one model column each.
ATTR_NUM_PREFIX = "attr_num::"
ATTR_CAT_PREFIX = "attr_cat::"  # user_frame columns holding the user's share of activity per category
BRIEF_CATEGORICAL = ("channel", "offer_type")
TEXT_COLUMN = "copy_text"

NUMERIC_COLUMNS = USER_NUMERIC + COPY_NUMERIC + BRIEF_NUMERIC + PAIR_NUMERIC
CATEGORICAL_COLUMNS = USER_CATEGORICAL + BRIEF_CATEGORICAL
MODEL_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS + (TEXT_COLUMN,)
USER_COLUMNS = USER_NUMERIC + USER_CATEGORICAL
COPY_COLUMNS = COPY_NUMERIC + BRIEF_NUMERIC + BRIEF_CATEGORICAL + (TEXT_COLUMN,)

UserFeatureFn = Callable[[Store, datetime | None], pd.DataFrame]


def default_user_features(store: Store, as_of: datetime | None = None) -> pd.DataFrame:
    """The segments package's behaviour features of every user as of ``as_of``."""
    return compute_user_features(store, as_of)


def _clean_offer_type(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), "none")
    return out.map(lambda v: str(v).strip().lower() or "none")


def variant_features(variants: pd.DataFrame) -> pd.DataFrame:
    """Copy and brief features of variants, one row per input row.

    ``variants`` needs ``copy_text`` and ``channel``; ``variant_id``,
    ``offer_type``, ``offer_value``, ``promo_code`` and ``category`` are used when
    present. Returns the ``COPY_COLUMNS`` plus ``variant_id``, ``category`` (the
    product category, else the first category the copy names) and
    ``copy_categories`` (tuple of categories the copy names).
    """
    missing = [c for c in ("copy_text", "channel") if c not in variants.columns]
    if missing:
        raise PredictionError(f"variants lack column(s) {', '.join(missing)}; add them and retry")
    frame = variants.reset_index(drop=True)
    n = len(frame)
    texts = frame["copy_text"].astype(object).where(frame["copy_text"].notna(), "").astype(str)
    channels = frame["channel"].astype(str)
    feats = [extract_copy_features(t, c) for t, c in zip(texts, channels)]
    out = pd.DataFrame({f"copy_{k}": [float(f[k]) for f in feats] for k in FEATURE_NAMES}, index=range(n))

    def col(name: str, default: object) -> pd.Series:
        if name in frame.columns:
            return frame[name]
        return pd.Series([default] * n, index=range(n), dtype=object)

    offer_value = pd.to_numeric(col("offer_value", np.nan), errors="coerce").fillna(0.0).astype(float)
    promo = col("promo_code", None)
    has_code = promo.notna() & (promo.astype(str).str.strip() != "")
    out["offer_value"] = offer_value.to_numpy()
    out["has_offer_code"] = (has_code.to_numpy() | (out["copy_has_promo_code"].to_numpy() > 0)).astype(float)
    out["channel"] = channels.to_numpy(dtype=object)
    out["offer_type"] = _clean_offer_type(col("offer_type", None)).to_numpy(dtype=object)
    out[TEXT_COLUMN] = texts.to_numpy(dtype=object)
    product_category = col("category", None).astype(object)
    copy_category = pd.Series([f["category"] for f in feats], dtype=object)
    out["category"] = product_category.where(product_category.notna(), copy_category).to_numpy(dtype=object)
    out["copy_categories"] = [tuple(f["categories"]) for f in feats]
    out["variant_id"] = col("variant_id", None).astype(object).to_numpy()
    return out


def category_shares(store: Store, as_of: datetime | None, window_days: int = 180) -> pd.DataFrame:
    """Each user's share of their recent activity (views to purchases) per product category.

    One row per user with activity, a ``user_id`` column and one ``share::<category>``
    column per category. The window ends at ``as_of`` (default: the last event).
    """
    if as_of is None:
        as_of = store.scalar("SELECT max(ts) FROM events")
        if as_of is None:
            return pd.DataFrame({"user_id": pd.Series([], dtype=object)})
        as_of = pd.Timestamp(as_of).to_pydatetime() + pd.Timedelta(seconds=1)
    start = pd.Timestamp(as_of) - pd.Timedelta(days=window_days)
    counts = store.df(
        """SELECT e.user_id, p.category, count(*)::DOUBLE AS n
           FROM events e JOIN products p ON p.product_id = e.product_id
           WHERE e.ts < ? AND e.ts >= ? AND p.category IS NOT NULL
           GROUP BY e.user_id, p.category""",
        [pd.Timestamp(as_of).to_pydatetime(), start.to_pydatetime()],
    )
    if counts.empty:
        return pd.DataFrame({"user_id": pd.Series([], dtype=object)})
    wide = counts.pivot_table(index="user_id", columns="category", values="n", aggfunc="sum", fill_value=0.0)
    wide = wide.div(wide.sum(axis=1), axis=0)
    wide.columns = [f"{SHARE_PREFIX}{c}" for c in wide.columns]
    return wide.reset_index()


def with_category_shares(store: Store, users: pd.DataFrame, as_of: datetime | None) -> pd.DataFrame:
    """``users`` with the ``share::`` columns joined on ``user_id`` (0 for users without activity)."""
    shares = category_shares(store, as_of)
    if len(shares.columns) <= 1:
        return users
    out = users.merge(shares.astype({"user_id": users["user_id"].dtype}), on="user_id", how="left")
    cols = [c for c in out.columns if str(c).startswith(SHARE_PREFIX)]
    out[cols] = out[cols].fillna(0.0)
    return out


def user_frame(users: pd.DataFrame) -> pd.DataFrame:
    """The user columns the model reads, with missing columns added as missing values."""
    out = pd.DataFrame(index=range(len(users)))
    src = users.reset_index(drop=True)
    for name in src.columns:
        if str(name).startswith((SHARE_PREFIX, ATTR_NUM_PREFIX)):
            out[name] = pd.to_numeric(src[name], errors="coerce").astype(float).to_numpy()
        elif str(name).startswith(ATTR_CAT_PREFIX):
            values = src[name].astype(object)
            out[name] = values.where(values.notna(), None).to_numpy(dtype=object)
    for name in USER_NUMERIC:
        if name in src.columns:
            out[name] = pd.to_numeric(src[name], errors="coerce").astype(float).to_numpy()
        else:
            out[name] = np.nan
    for name in USER_CATEGORICAL + ("favourite_category",):
        if name in src.columns:
            values = src[name].astype(object)
            out[name] = values.where(values.notna(), None).to_numpy(dtype=object)
        else:
            out[name] = np.array([None] * len(src), dtype=object)
    return out


def pair_frame(users: pd.DataFrame, variants: pd.DataFrame, user_idx: np.ndarray,
               variant_idx: np.ndarray) -> pd.DataFrame:
    """Model input for pairs (``users`` row ``user_idx[i]``, ``variants`` row ``variant_idx[i]``).

    ``users`` is a ``user_frame``; ``variants`` a ``variant_features`` frame.
    """
    data: dict[str, np.ndarray] = {}
    for name in USER_COLUMNS:
        data[name] = users[name].to_numpy()[user_idx]
    for name in COPY_COLUMNS:
        data[name] = variants[name].to_numpy()[variant_idx]
    fav = users["favourite_category"].to_numpy(dtype=object)[user_idx]
    cat = variants["category"].to_numpy(dtype=object)[variant_idx]
    known = pd.notna(fav) & pd.notna(cat)
    data["category_match"] = np.where(known, (fav == cat).astype(float), np.nan)
    # Does the copy itself name the user's favourite category? Computed per distinct pair.
    names = variants["copy_categories"].to_numpy(dtype=object)
    fav_codes, fav_uniques = pd.factorize(pd.Series(fav, dtype=object), use_na_sentinel=True)
    lookup = np.zeros((len(names), len(fav_uniques)), dtype=float)
    for vi, cats in enumerate(names):
        for fi, f in enumerate(fav_uniques):
            lookup[vi, fi] = float(f in cats)
    named = np.full(len(user_idx), np.nan)
    has_fav = fav_codes >= 0
    named[has_fav] = lookup[variant_idx[has_fav], fav_codes[has_fav]]
    data["copy_names_favourite"] = named
    # The user's share of activity in the variant's product category (missing when unknown).
    share_cols = [c for c in users.columns if str(c).startswith(SHARE_PREFIX)]
    share = np.full(len(user_idx), np.nan)
    if share_cols:
        cat_names = [c[len(SHARE_PREFIX):] for c in share_cols]
        col_of = {c: i for i, c in enumerate(cat_names)}
        vcol = np.array([col_of.get(c, -1) if c is not None else -1 for c in variants["category"]], dtype=int)
        mat = users[share_cols].to_numpy(float)
        vc = vcol[variant_idx]
        ok = vc >= 0
        share[ok] = mat[user_idx[ok], vc[ok]]
    data["category_share"] = share
    attrs = sorted(c for c in users.columns if str(c).startswith((ATTR_NUM_PREFIX, ATTR_CAT_PREFIX)))
    for name in attrs:
        data[name] = users[name].to_numpy()[user_idx]
    frame = pd.DataFrame(data)
    return frame[list(MODEL_COLUMNS) + attrs]


def with_attributes(store: Store, users: pd.DataFrame) -> pd.DataFrame:
    """``users`` plus one column per imported customer attribute (``attr_num::`` / ``attr_cat::``).

    Users known only by their attributes (an experiment file with no behaviour history) are
    added as rows, so their attributes reach the model instead of a 'missing' row.
    """
    long = store.df("SELECT user_id, name, kind, num_value, text_value FROM user_attributes ORDER BY user_id, name")
    if long.empty:
        return users
    parts = []
    for kind, prefix, col in (("numeric", ATTR_NUM_PREFIX, "num_value"), ("categorical", ATTR_CAT_PREFIX, "text_value")):
        block = long[long["kind"] == kind]
        if len(block):
            wide = block.pivot_table(index="user_id", columns="name", values=col, aggfunc="first")
            wide.columns = [f"{prefix}{c}" for c in wide.columns]
            parts.append(wide)
    wide = pd.concat(parts, axis=1).reset_index()
    base = users if "user_id" in users.columns else pd.DataFrame({"user_id": pd.Series([], dtype=object)})
    wide["user_id"] = wide["user_id"].astype(str)
    base = base.assign(user_id=base["user_id"].astype(str))
    return base.merge(wide, on="user_id", how="outer", sort=True)


@dataclass(frozen=True)
class TrainingData:
    """Rows the model learns from; ``groups`` holds each row's campaign (the split unit)."""

    X: pd.DataFrame
    y: np.ndarray
    weight: np.ndarray
    groups: np.ndarray
    variant_ids: np.ndarray
    source: np.ndarray  # "exposure" or "aggregate"
    user_ids: np.ndarray
    outcome: str

    @property
    def n_rows(self) -> int:
        return len(self.y)


def load_variants(store: Store) -> pd.DataFrame:
    """Every stored variant with its campaign's brief filled in where the variant lacks it."""
    return store.df(
        """SELECT v.variant_id, coalesce(v.campaign_id, v.variant_id) AS campaign_id, v.channel,
                  v.copy_text, coalesce(v.offer_type, c.offer_type) AS offer_type,
                  coalesce(v.offer_value, c.offer_value) AS offer_value,
                  coalesce(v.promo_code, c.promo_code) AS promo_code,
                  coalesce(v.category, c.category, p.category) AS category,
                  v.is_control, c.sent_at
           FROM variants v
           LEFT JOIN campaigns c ON c.campaign_id = v.campaign_id
           LEFT JOIN products p ON p.product_id = coalesce(v.product_id, c.product_id)
           ORDER BY v.variant_id"""
    )


def _exposure_rows(store: Store, outcome: str, variant_pos: dict[str, int], vfeat: pd.DataFrame,
                   user_features: UserFeatureFn, progress: Callable[[float, str], None] | None):
    col = OUTCOME_COLUMNS[outcome][0]
    exp = store.df(
        f"""SELECT e.user_id, e.variant_id, coalesce(e.campaign_id, v.campaign_id, e.variant_id) AS campaign_id,
                   date_trunc('day', e.sent_at) AS send_day, CAST(e.{col} AS DOUBLE) AS y
            FROM exposures e JOIN variants v ON v.variant_id = e.variant_id
            WHERE e.{col} IS NOT NULL
            ORDER BY send_day, e.variant_id, e.user_id"""
    )
    if exp.empty:
        return None
    parts = []
    days = exp["send_day"].drop_duplicates().tolist()
    for i, day in enumerate(days):
        if progress:
            progress(0.3 * i / max(len(days), 1), f"User features at {pd.Timestamp(day):%Y-%m-%d}")
        block = exp[exp["send_day"] == day]
        as_of = pd.Timestamp(day).to_pydatetime()
        users = with_attributes(store, with_category_shares(store, user_features(store, as_of), as_of))
        uf = user_frame(users)
        upos = pd.Series(np.arange(len(uf)), index=users["user_id"].astype(str).to_numpy())
        uidx = upos.reindex(block["user_id"].astype(str).to_numpy()).to_numpy()
        keep = ~np.isnan(uidx)
        # A user unknown at send time still counts: features missing rather than dropped.
        uf = pd.concat([uf, pd.DataFrame({c: [None if uf[c].dtype == object else np.nan] for c in uf.columns})],
                       ignore_index=True)
        uidx = np.where(keep, uidx, len(uf) - 1).astype(int)
        vidx = block["variant_id"].map(variant_pos).to_numpy().astype(int)
        X = pair_frame(uf, vfeat, uidx, vidx)
        parts.append((X, block["y"].to_numpy(float), block["campaign_id"].astype(str).to_numpy(),
                      block["variant_id"].astype(str).to_numpy(), block["user_id"].astype(str).to_numpy()))
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y = np.concatenate([p[1] for p in parts])
    return X, y, np.ones(len(y)), np.concatenate([p[2] for p in parts]), \
        np.concatenate([p[3] for p in parts]), np.concatenate([p[4] for p in parts])


def _aggregate_rows(store: Store, outcome: str, variant_pos: dict[str, int], vfeat: pd.DataFrame,
                    campaign_of: dict[str, str]):
    col = OUTCOME_COLUMNS[outcome][1]
    agg = store.df(
        f"""SELECT r.variant_id, sum(r.sends) AS sends, sum(r.{col}) AS hits
            FROM variant_results r JOIN variants v ON v.variant_id = r.variant_id
            WHERE r.{col} IS NOT NULL AND r.sends > 0
              AND NOT EXISTS (SELECT 1 FROM exposures e WHERE e.variant_id = r.variant_id)
            GROUP BY r.variant_id ORDER BY r.variant_id"""
    )
    if agg.empty:
        return None
    sends = agg["sends"].to_numpy(float)
    hits = agg["hits"].to_numpy(float)
    vidx = agg["variant_id"].map(variant_pos).to_numpy().astype(int)
    empty_users = user_frame(pd.DataFrame(index=[0]))
    if outcome == "revenue":
        # Revenue per send: one row per variant with the mean as target, weighted by sends.
        X = pair_frame(empty_users, vfeat, np.zeros(len(vidx), dtype=int), vidx)
        y, w, vids = hits / sends, sends, agg["variant_id"].to_numpy(str)
    else:
        both = np.concatenate([vidx, vidx])
        X = pair_frame(empty_users, vfeat, np.zeros(len(both), dtype=int), both)
        y = np.concatenate([np.ones(len(vidx)), np.zeros(len(vidx))])
        w = np.concatenate([hits, np.clip(sends - hits, 0, None)])
        vids = np.concatenate([agg["variant_id"].to_numpy(str)] * 2)
        keep = w > 0
        X, y, w, vids = X[keep].reset_index(drop=True), y[keep], w[keep], vids[keep]
    groups = np.array([campaign_of[v] for v in vids], dtype=object)
    return X, y, w, groups, vids, np.array([None] * len(y), dtype=object)


def build_training_data(store: Store, outcome: str = "conversion",
                        user_features: UserFeatureFn | None = None,
                        progress: Callable[[float, str], None] | None = None) -> TrainingData:
    """Assemble training rows from exposures and aggregate results.

    Raises ``PredictionError`` when there is nothing to learn from.
    """
    if outcome not in OUTCOMES:
        raise PredictionError(f"unknown outcome {outcome!r}; choose one of {', '.join(OUTCOMES)}")
    variants = load_variants(store)
    if variants.empty:
        raise PredictionError("no variants are stored; load the sample data or import campaign results first")
    vfeat = variant_features(variants)
    variant_pos = {v: i for i, v in enumerate(variants["variant_id"].astype(str))}
    campaign_of = dict(zip(variants["variant_id"].astype(str), variants["campaign_id"].astype(str)))
    has_exposures = bool(store.scalar("SELECT count(*) > 0 FROM exposures"))
    fn = user_features or default_user_features
    pieces, sources = [], []
    if has_exposures:
        got = _exposure_rows(store, outcome, variant_pos, vfeat, fn, progress)
        if got is not None:
            pieces.append(got)
            sources.append("exposure")
    got = _aggregate_rows(store, outcome, variant_pos, vfeat, campaign_of)
    if got is not None:
        pieces.append(got)
        sources.append("aggregate")
    if not pieces:
        raise PredictionError(
            f"no {outcome} outcomes to learn from: import exposures or variant results "
            "(Data page) or load the sample data"
        )
    X = pd.concat([p[0] for p in pieces], ignore_index=True)
    src = np.concatenate([np.full(len(p[1]), s, dtype=object) for p, s in zip(pieces, sources)])
    return TrainingData(
        X=X,
        y=np.concatenate([p[1] for p in pieces]),
        weight=np.concatenate([p[2] for p in pieces]),
        groups=np.concatenate([p[3] for p in pieces]).astype(str),
        variant_ids=np.concatenate([p[4] for p in pieces]).astype(str),
        source=src,
        user_ids=np.concatenate([p[5] for p in pieces]),
        outcome=outcome,
    )


def data_hash(data: TrainingData) -> str:
    """A fingerprint of the training rows (features, targets, weights, groups)."""
    import hashlib

    h = hashlib.sha256()
    h.update(pd.util.hash_pandas_object(data.X.astype(str), index=False).to_numpy().tobytes())
    for arr in (data.y, data.weight):
        h.update(np.ascontiguousarray(arr, dtype=float).tobytes())
    h.update("|".join(data.groups.tolist()).encode())
    return h.hexdigest()
