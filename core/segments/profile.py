"""Profiles of a segment beside the whole customer base, comparisons and overlaps.

Everything is aggregated in DuckDB over the materialized ``user_features``
rows for one as-of date (plus ``exposures`` for campaign response); Python only
reshapes the small results into tidy frames for ``core.segments.charts``.
Group labels in the frames are the segment's name and ``BASE`` ("All customers").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from core.errors import ValidationError
from core.segments.builtins import RFM_GROUP_IDS, STATIC_BUILTINS
from core.segments.catalog import EVERYONE, Segment
from core.segments.features import data_fingerprint, ensure_features, resolve_as_of
from core.segments.rules import compile_where, segment_query
from core.store import Store

BASE = EVERYONE.name
NEVER_BOUGHT = "Never bought"
HISTORY_MONTHS = 6
TOP_CATEGORIES = 8
MAX_OVERLAP_SEGMENTS = 20

# (label, SQL aggregate over the flagged feature rows); the SQL is constant text.
SUMMARY_METRICS = (
    ("Customers", "count(*)"),
    ("Average order value", "sum(monetary_total) / nullif(sum(orders_total), 0)"),
    ("Spend per customer, 180 days", "avg(monetary_180d)"),
    ("Bought in last 90 days (share)", "avg(CAST(frequency_90d > 0 AS DOUBLE))"),
    ("Orders per buyer, all time", "avg(orders_total) FILTER (WHERE orders_total > 0)"),
    ("Views per customer, 30 days", "avg(views_30d)"),
    ("Discount sensitivity", "avg(discount_sensitivity)"),
    ("Campaign open rate", "avg(open_rate)"),
    ("Campaign click rate", "avg(click_rate)"),
)


@dataclass(frozen=True)
class SegmentProfile:
    """Tidy frames describing one segment and the base, as of one date."""

    name: str
    as_of: datetime
    size: int
    total: int
    summary: pd.DataFrame  # metric, group, value
    rfm: pd.DataFrame  # rfm_group, group, users, share
    categories: pd.DataFrame  # category, group, users, share
    devices: pd.DataFrame  # device, group, users, share
    regions: pd.DataFrame  # region, group, users, share
    response: pd.DataFrame  # channel, metric, group, rate, sends
    size_history: pd.DataFrame  # as_of, members, share

    @property
    def share(self) -> float:
        return self.size / self.total if self.total else 0.0


def _rules_of(segment: Segment | None):
    return None if segment is None else segment.rules


def _rfm_case() -> tuple[str, list]:
    """CASE expression labelling each buyer with the built-in RFM group (the rules are the data)."""
    parts, params = [], []
    for seg_id in RFM_GROUP_IDS:
        spec = STATIC_BUILTINS[seg_id]
        sql, p = compile_where(spec.rules)
        parts.append(f"WHEN {sql} THEN ?")
        params.extend([*p, spec.name])
    return "CASE " + " ".join(parts) + " ELSE ? END", [*params, NEVER_BOUGHT]


def _flagged(rules, as_of: datetime) -> tuple[str, list]:
    """A CTE with every feature row for ``as_of`` plus ``in_seg`` and ``rfm_group`` columns."""
    where, w_params = compile_where(rules)
    case, c_params = _rfm_case()
    sql = (
        f"WITH flagged AS (SELECT *, coalesce(({where}), FALSE) AS in_seg, {case} AS rfm_group "
        "FROM user_features WHERE as_of = ?) "
    )
    return sql, [*w_params, *c_params, as_of]


# Columns of the feature rows the profile breaks users down by (constant text, not user input).
MIX_COLUMNS = ("rfm_group", "favourite_category", "device", "region")


def _mixes(store: Store, cte: str, params: list) -> dict[str, pd.DataFrame]:
    """Users per value of every ``MIX_COLUMNS`` column, members and everyone, in one scan."""
    values = ", ".join(f"coalesce(CAST({c} AS VARCHAR), 'Unknown') AS {c}" for c in MIX_COLUMNS)
    sets = ", ".join(f"({c})" for c in MIX_COLUMNS)
    frame = store.df(
        cte + f", v AS (SELECT in_seg, {values} FROM flagged) "
        f"SELECT {', '.join(MIX_COLUMNS)}, count(*) FILTER (WHERE in_seg) AS seg, count(*) AS base "
        f"FROM v GROUP BY GROUPING SETS ({sets})",
        params,
    )
    out = {}
    for col in MIX_COLUMNS:
        part = frame[frame[col].notna()][[col, "seg", "base"]].rename(columns={col: "value"})
        out[col] = part.sort_values(["base", "value"], ascending=[False, True]).reset_index(drop=True)
    return out


def _top(frame: pd.DataFrame, top: int) -> pd.DataFrame:
    if len(frame) <= top:
        return frame
    head, tail = frame.iloc[:top], frame.iloc[top:]
    other = pd.DataFrame({"value": ["Other"], "seg": [tail["seg"].sum()], "base": [tail["base"].sum()]})
    return pd.concat([head, other], ignore_index=True)


def _rfm_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Every RFM group listed (zeros included) in grid order."""
    labels = [STATIC_BUILTINS[i].name for i in RFM_GROUP_IDS] + [NEVER_BOUGHT]
    return frame.set_index("value").reindex(labels, fill_value=0).rename_axis("value").reset_index()


def _tidy_mix(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    out = []
    for col, label in (("seg", name), ("base", BASE)):
        total = frame[col].sum()
        out.append(pd.DataFrame({
            "value": frame["value"],
            "group": label,
            "users": frame[col].astype("int64"),
            "share": frame[col] / total if total else 0.0,
        }))
    return pd.concat(out, ignore_index=True)


def _summary(store: Store, cte: str, params: list, name: str) -> pd.DataFrame:
    cols = ", ".join(f"{agg} AS m{i}" for i, (_, agg) in enumerate(SUMMARY_METRICS))
    frame = store.df(
        cte + f"SELECT grouping(in_seg) AS is_base, in_seg, {cols} FROM flagged "
        "GROUP BY GROUPING SETS ((in_seg), ())",
        params,
    )
    seg = frame[(frame["is_base"] == 0) & (frame["in_seg"] == True)]  # noqa: E712 (nullable bool)
    base = frame[frame["is_base"] == 1]
    rows = []
    for i, (label, _) in enumerate(SUMMARY_METRICS):
        seg_value = seg[f"m{i}"].iloc[0] if len(seg) else (0 if label == "Customers" else float("nan"))
        base_value = base[f"m{i}"].iloc[0] if len(base) else float("nan")
        rows.append({"metric": label, "group": name, "value": float(seg_value) if pd.notna(seg_value) else float("nan")})
        rows.append({"metric": label, "group": BASE, "value": float(base_value) if pd.notna(base_value) else float("nan")})
    return pd.DataFrame(rows)


def _response(store: Store, rules, as_of: datetime, name: str) -> pd.DataFrame:
    """Open, click and conversion rates of past sends by channel, members vs everyone.

    Reads the per-user, per-channel sums stored with the feature run
    (``user_channel_response``), so no exposure is re-read here.
    """
    where, params = compile_where(rules)
    frame = store.df(
        f"WITH m AS (SELECT user_id FROM user_features WHERE as_of = ? AND ({where})) "
        "SELECT channel, user_id IN (SELECT user_id FROM m) AS in_seg, sum(sends) AS sends, "
        "sum(opens) AS opens, sum(n_open) AS n_open, sum(clicks) AS clicks, sum(n_click) AS n_click, "
        "sum(conversions) AS conversions FROM user_channel_response WHERE as_of = ? GROUP BY ALL ORDER BY 1",
        [as_of, *params, as_of],
    )
    rows = []
    for channel, part in frame.groupby("channel", sort=True):
        for group, sel in ((name, part[part["in_seg"] == True]), (BASE, part)):  # noqa: E712
            sends = int(sel["sends"].sum())
            if not sends:
                continue
            rates = {
                "open rate": sel["opens"].sum() / sel["n_open"].sum() if sel["n_open"].sum() else float("nan"),
                "click rate": sel["clicks"].sum() / sel["n_click"].sum() if sel["n_click"].sum() else float("nan"),
                "conversion rate": sel["conversions"].sum() / sends,
            }
            for metric, rate in rates.items():
                rows.append({"channel": channel, "metric": metric, "group": group, "rate": float(rate), "sends": sends})
    return pd.DataFrame(rows, columns=["channel", "metric", "group", "rate", "sends"])


def history_dates(store: Store, as_of: datetime, months: int = HISTORY_MONTHS) -> list[datetime]:
    """Month starts over the last ``months`` months (where data exists), then ``as_of`` itself.

    Month starts are fixed points, so their stored features are shared by every segment.
    """
    first = store.scalar("SELECT min(ts) FROM events")
    start = pd.Timestamp(as_of).to_period("M").to_timestamp()
    dates = [(start - pd.DateOffset(months=k)).to_pydatetime() for k in range(months - 1, -1, -1)]
    dates = [d for d in dates if d < as_of and (first is None or d > first)]
    return dates + [as_of]


def size_history(store: Store, segment: Segment | None, as_of=None, months: int = HISTORY_MONTHS) -> pd.DataFrame:
    """Members and share of all users at each month start of the last ``months`` months."""
    when = resolve_as_of(store, as_of)
    fingerprint = data_fingerprint(store)
    rows = []
    for date in history_dates(store, when, months):
        ensure_features(store, date, fingerprint)
        sql, params = segment_query(_rules_of(segment), date)
        members = int(store.scalar(sql, params))
        total = int(store.scalar("SELECT count(*) FROM user_features WHERE as_of = ?", [date]))
        rows.append({"as_of": date, "members": members, "share": members / total if total else 0.0})
    return pd.DataFrame(rows, columns=["as_of", "members", "share"])


def segment_profile(store: Store, segment: Segment | None, as_of=None, history: bool = True) -> SegmentProfile:
    """Everything the Segments page shows about ``segment`` (None = all customers)."""
    when = ensure_features(store, as_of)
    name = BASE if segment is None else segment.name
    rules = _rules_of(segment)
    cte, params = _flagged(rules, when)
    mixes = _mixes(store, cte, params)
    size, total = int(mixes["device"]["seg"].sum()), int(mixes["device"]["base"].sum())
    return SegmentProfile(
        name=name,
        as_of=when,
        size=int(size),
        total=int(total),
        summary=_summary(store, cte, params, name),
        rfm=_tidy_mix(_rfm_order(mixes["rfm_group"]), name).rename(columns={"value": "rfm_group"}),
        categories=_tidy_mix(_top(mixes["favourite_category"], TOP_CATEGORIES), name).rename(
            columns={"value": "category"}),
        devices=_tidy_mix(mixes["device"], name).rename(columns={"value": "device"}),
        regions=_tidy_mix(mixes["region"], name).rename(columns={"value": "region"}),
        response=_response(store, rules, when, name),
        size_history=size_history(store, segment, when) if history else pd.DataFrame(
            columns=["as_of", "members", "share"]),
    )


def compare_summaries(store: Store, segments: list[Segment], as_of=None) -> pd.DataFrame:
    """Summary metrics of several segments and the base side by side, each also as an index (base = 100)."""
    names = [s.name for s in segments]
    if not 2 <= len(segments) <= MAX_OVERLAP_SEGMENTS or len(set(names)) != len(names):
        raise ValidationError(f"pick between 2 and {MAX_OVERLAP_SEGMENTS} different segments to compare.")
    when = ensure_features(store, as_of)
    frames = []
    for n, seg in enumerate(segments):
        cte, params = _flagged(seg.rules, when)
        frame = _summary(store, cte, params, seg.name)
        frames.append(frame if n == 0 else frame[frame["group"] != BASE])
    both = pd.concat(frames, ignore_index=True)
    base = both[both["group"] == BASE].set_index("metric")["value"]
    both["index_vs_base"] = [
        (v / base[m] * 100.0) if pd.notna(v) and pd.notna(base[m]) and base[m] else float("nan")
        for m, v in zip(both["metric"], both["value"])
    ]
    return both


def overlap(store: Store, segments: list[Segment], as_of=None) -> pd.DataFrame:
    """Pairwise overlap: tidy ``a, b, both, a_size, b_size, share_of_a, jaccard`` for every ordered pair."""
    if not 1 <= len(segments) <= MAX_OVERLAP_SEGMENTS:
        raise ValidationError(f"pick between 1 and {MAX_OVERLAP_SEGMENTS} segments for the overlap.")
    when = ensure_features(store, as_of)
    flags, params = [], []
    for i, seg in enumerate(segments):
        sql, p = compile_where(seg.rules)
        flags.append(f"coalesce(({sql}), FALSE) AS s{i}")
        params.extend(p)
    n = len(segments)
    pairs = ", ".join(f"count(*) FILTER (WHERE s{i} AND s{j}) AS p{i}_{j}" for i in range(n) for j in range(i, n))
    row = store.df(
        f"WITH f AS (SELECT {', '.join(flags)} FROM user_features WHERE as_of = ?) SELECT {pairs} FROM f",
        [*params, when],
    ).iloc[0]
    rows = []
    for i in range(n):
        for j in range(n):
            lo, hi = min(i, j), max(i, j)
            both, a_size, b_size = int(row[f"p{lo}_{hi}"]), int(row[f"p{i}_{i}"]), int(row[f"p{j}_{j}"])
            union = a_size + b_size - both
            rows.append({
                "a": segments[i].name, "b": segments[j].name, "both": both, "a_size": a_size, "b_size": b_size,
                "share_of_a": both / a_size if a_size else 0.0, "jaccard": both / union if union else 0.0,
            })
    return pd.DataFrame(rows)
