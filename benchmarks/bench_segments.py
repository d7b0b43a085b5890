"""How fast are segments at ~10 million events? DuckDB against a pandas baseline, same run.

Data: the generated set ``benchmarks/out/sample_scale_33`` (``python -m core.sample --scale 33``,
~10.2 million events; made here once if missing, in the same place as ``bench_store.py``), loaded
once into ``benchmarks/out/bench_segments.duckdb``.

Measured (median of ``--repeat`` runs unless said otherwise):

- features: every user's features from the raw tables (``query_user_features``, no cache);
- count: one segment's size on the materialized features (``count_segment``, includes the
  data-fingerprint check every call makes);
- profile warm: ``segment_profile`` (summary, RFM, categories, devices, regions, campaign
  response, 6-month size history) with the features already stored, as the app runs normally;
- profile cold: the same after ``invalidate_features`` (computes and stores 7 as-of dates);
- pandas profile: the same profile from in-memory pandas frames (features for the same 7 dates,
  the same rules through a vectorized pandas evaluator), loading excluded. Its numbers are
  checked against DuckDB's so the baseline does the same work.

Usage: ``python benchmarks/bench_segments.py [--scale 33] [--repeat 3] [--pandas-repeat 2]``.
Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.ingest.sample import load_sample
from core.sample.generate import generate
from core.segments import count_segment, invalidate_features  # noqa: E402
from core.segments import features as F  # noqa: E402
from core.segments.builtins import RFM_SPECS  # noqa: E402
from core.segments.catalog import Segment  # noqa: E402
from core.segments.profile import history_dates, segment_profile  # noqa: E402
from core.segments.rules import RuleGroup, parse_rules  # noqa: E402
from core.store import Store  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
RULES = {
    "combinator": "and",
    "rules": [
        {"feature": "recency_days", "operator": ">", "value": 30},
        {"feature": "monetary_180d", "operator": ">=", "value": 100},
        {"combinator": "or", "rules": [
            {"feature": "device", "operator": "==", "value": "mobile"},
            {"feature": "views_30d", "operator": ">=", "value": 5},
        ]},
    ],
}
SEGMENT = Segment("bench", 1, "Lapsed mobile or browsing spenders", "", parse_rules(RULES), False)


def _rss_mb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def big_dataset(scale: float) -> Path:
    target = OUT / f"sample_scale_{scale:g}"
    if (target / "ground_truth.json").exists():
        return target
    partial = OUT / f".partial_scale_{scale:g}"
    shutil.rmtree(partial, ignore_errors=True)
    print(f"generating scale {scale:g} into {target} (once) ...", file=sys.stderr)
    generate(partial, scale=scale, compress=False, progress=lambda m: print("  " + m, file=sys.stderr))
    partial.rename(target)
    return target


def open_store(data_dir: Path) -> Store:
    store = Store(OUT / f"bench_segments_{data_dir.name}.duckdb")
    if store.is_empty():
        started = time.perf_counter()
        load_sample(store, data_dir)
        print(f"loaded {store.count('events'):,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return store


def timed(fn, repeat: int) -> tuple[float, list[float], object]:
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), runs, result


# -- the pandas baseline --------------------------------------------------------------------
def load_frames(store: Store) -> dict[str, pd.DataFrame]:
    return {
        "events": store.df("SELECT event_id, user_id, product_id, event_type, ts, quantity, price, rating, "
                           "order_id, campaign_id FROM events"),
        "users": store.df("SELECT user_id, signup_date, device, region FROM users"),
        "products": store.df("SELECT product_id, category FROM products"),
        "campaigns": store.df("SELECT campaign_id, offer_type FROM campaigns"),
        "exposures": store.df("SELECT x.user_id, x.sent_at, x.opened, x.clicked, x.converted, v.channel "
                              "FROM exposures x JOIN variants v USING (variant_id)"),
    }


def _scores(x: pd.Series, reverse: bool, fixed, n_buyers: int, median: float | None = None) -> pd.Series:
    q = np.quantile(x, [0.25, 0.5, 0.75])
    if n_buyers >= F.RFM_MIN_BUYERS and q[0] < q[1] < q[2]:
        s = 1 + (x > q[0]).astype(int) + (x > q[1]).astype(int) + (x > q[2]).astype(int)
        return 5 - s if reverse else s
    if reverse:
        return 4 - sum((x > c).astype(int) for c in fixed)
    if median is None:
        return 1 + sum((x >= c).astype(int) for c in fixed)
    a, b, c = (m * median for m in fixed)
    return 1 + (x >= a).astype(int) + (x > b).astype(int) + (x > c).astype(int)


def pandas_features(fr: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    """The features the profile needs, vectorized pandas, same definitions as the SQL."""
    ev = fr["events"][fr["events"]["ts"] <= as_of]
    day = pd.Timestamp(as_of).normalize()
    buys = ev[ev["event_type"] == "purchase"]
    disc_campaigns = set(fr["campaigns"].loc[fr["campaigns"]["offer_type"].str.lower()
                                             .isin(F.DISCOUNT_OFFER_TYPES), "campaign_id"])
    buys = buys.assign(order_key=buys["order_id"].fillna(buys["event_id"]),
                       value=buys["price"].fillna(0) * buys["quantity"].fillna(1),
                       disc=buys["campaign_id"].isin(disc_campaigns))
    orders = buys.groupby(["user_id", "order_key"]).agg(ts=("ts", "max"), value=("value", "sum"),
                                                        disc=("disc", "max")).reset_index()
    g = orders.groupby("user_id")
    b = pd.DataFrame({"last": g["ts"].max(), "orders_total": g.size(), "monetary_total": g["value"].sum(),
                      "discount_sensitivity": g["disc"].mean()})
    b["recency_days"] = (day - b["last"].dt.normalize()).dt.days
    o90, o180 = orders[orders["ts"] > as_of - timedelta(days=90)], orders[orders["ts"] > as_of - timedelta(days=180)]
    b["frequency_90d"] = o90.groupby("user_id").size()
    b["monetary_180d"] = o180.groupby("user_id")["value"].sum()
    n = len(b)
    b["r_score"] = _scores(b["recency_days"], True, F.RFM_RECENCY_DAYS, n)
    b["f_score"] = _scores(b["orders_total"], False, F.RFM_FREQUENCY_ORDERS, n)
    b["m_score"] = _scores(b["monetary_total"], False, F.RFM_MONETARY_MEDIAN_MULTIPLES, n,
                           b["monetary_total"].median())
    b["fm_score"] = np.floor((b["f_score"] + b["m_score"]) / 2 + 0.5)
    views = ev[(ev["event_type"] == "view") & (ev["ts"] > as_of - timedelta(days=30))].groupby("user_id").size()
    inter = ev[(ev["ts"] > as_of - timedelta(days=180)) & ev["event_type"].isin(["view", "click", "add_to_cart", "purchase"])]
    cats = inter.merge(fr["products"], on="product_id").dropna(subset=["category"])
    cc = cats.groupby(["user_id", "category"]).size().rename("n").reset_index()
    cc = cc.sort_values(["user_id", "n", "category"], ascending=[True, False, True])
    fav = cc.drop_duplicates("user_id").set_index("user_id")["category"]
    xp = fr["exposures"][fr["exposures"]["sent_at"] < as_of]
    eng = xp.groupby("user_id").agg(open_rate=("opened", "mean"), click_rate=("clicked", "mean"))
    users = fr["users"][fr["users"]["signup_date"].isna() | (pd.to_datetime(fr["users"]["signup_date"]) <= day)]
    out = users.set_index("user_id").join(b.drop(columns="last")).join(views.rename("views_30d"))
    out = out.join(fav.rename("favourite_category")).join(eng)
    for col in ("frequency_90d", "monetary_180d", "orders_total", "monetary_total", "views_30d"):
        out[col] = out[col].fillna(0)
    return out


def pandas_mask(frame: pd.DataFrame, group: RuleGroup) -> pd.Series:
    """Evaluate parsed rules on a features frame, vectorized (the baseline's rule engine)."""
    masks = []
    for item in group.items:
        if isinstance(item, RuleGroup):
            masks.append(pandas_mask(frame, item))
            continue
        col, op, v = frame[item.feature], item.operator, item.value
        m = {"==": lambda: col == v, "!=": lambda: col != v, ">": lambda: col > v, ">=": lambda: col >= v,
             "<": lambda: col < v, "<=": lambda: col <= v, "between": lambda: col.between(*v),
             "in": lambda: col.isin(v), "not in": lambda: ~col.isin(v), "is empty": lambda: col.isna(),
             "is not empty": lambda: col.notna()}[op]()
        masks.append(m.fillna(False).astype(bool))
    if not masks:
        return pd.Series(True, index=frame.index)
    out = masks[0]
    for m in masks[1:]:
        out = (out & m) if group.combinator == "and" else (out | m)
    return out


def pandas_profile(fr: dict[str, pd.DataFrame], segment: Segment, as_of: datetime, dates: list[datetime]) -> dict:
    feats = pandas_features(fr, as_of)
    inseg = pandas_mask(feats, segment.rules)
    seg = feats[inseg]
    rfm = pd.Series("Never bought", index=feats.index)
    for spec in reversed(RFM_SPECS):
        rfm[pandas_mask(feats, parse_rules(spec.rules))] = spec.name
    xp = fr["exposures"][fr["exposures"]["sent_at"] < as_of]
    xp = xp.assign(in_seg=xp["user_id"].map(inseg).fillna(False).astype(bool))
    history = []
    for d in dates:
        f = feats if d == as_of else pandas_features(fr, d)
        history.append(int(pandas_mask(f, segment.rules).sum()))
    return {
        "size": int(inseg.sum()),
        "aov": seg["monetary_total"].sum() / seg["orders_total"].sum(),
        "rfm": rfm[inseg].value_counts().to_dict(),
        "rfm_base": rfm.value_counts().to_dict(),
        "devices": seg["device"].value_counts().to_dict(),
        "regions": seg["region"].value_counts().to_dict(),
        "categories": seg["favourite_category"].value_counts().head(8).to_dict(),
        "response": xp[xp["in_seg"]].groupby("channel")[["opened", "clicked", "converted"]].mean().to_dict(),
        "response_base": xp.groupby("channel")[["opened", "clicked", "converted"]].mean().to_dict(),
        "history": history,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=33.0, help="scale of the generated set (33 = ~10.2M events)")
    parser.add_argument("--data", type=Path, help="use this sample-format folder instead")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pandas-repeat", type=int, default=2)
    args = parser.parse_args(argv)

    data_dir = args.data or big_dataset(args.scale)
    store = open_store(data_dir)
    events, users = store.count("events"), store.count("users")
    as_of = F.default_as_of(store)
    r: dict[str, dict] = {}

    med, runs, _ = timed(lambda: F.query_user_features(store, as_of), args.repeat)
    r["features_all_users"] = {"median_s": med, "runs_s": runs}
    invalidate_features(store)
    med, runs, _ = timed(lambda: F.ensure_features(store, as_of), 1)
    r["features_compute_and_store"] = {"median_s": med, "runs_s": runs}
    med, runs, size = timed(lambda: count_segment(store, SEGMENT.rules, as_of), max(5, args.repeat))
    r["count"] = {"median_s": med, "runs_s": runs, "members": size}
    cold = []
    for _ in range(max(1, args.repeat - 1)):
        invalidate_features(store)
        cold.append(timed(lambda: segment_profile(store, SEGMENT, as_of), 1)[0])
    r["profile_cold"] = {"median_s": statistics.median(cold), "runs_s": cold}
    med, runs, prof = timed(lambda: segment_profile(store, SEGMENT, as_of), args.repeat)
    r["profile_warm"] = {"median_s": med, "runs_s": runs}
    rss_duckdb = _rss_mb()

    started = time.perf_counter()
    frames = load_frames(store)
    load_s = time.perf_counter() - started
    dates = history_dates(store, as_of)
    med, runs, pprof = timed(lambda: pandas_profile(frames, SEGMENT, as_of, dates), args.pandas_repeat)
    r["pandas_profile"] = {"median_s": med, "runs_s": runs, "frames_load_s_excluded": load_s}

    # The baseline must do the same work: compare its figures with DuckDB's.
    aov = prof.summary[(prof.summary["metric"] == "Average order value") & (prof.summary["group"] == SEGMENT.name)]
    checks = {
        "size": pprof["size"] == prof.size,
        "aov": bool(np.isclose(pprof["aov"], aov["value"].iloc[0])),
        "history": pprof["history"] == list(prof.size_history["members"]),
        "devices": pprof["devices"] == {k: v for k, v in prof.devices[prof.devices["group"] == SEGMENT.name]
                                         .set_index("device")["users"].items() if v},
    }
    speed_cold = r["pandas_profile"]["median_s"] / r["profile_cold"]["median_s"]
    speed_warm = r["pandas_profile"]["median_s"] / r["profile_warm"]["median_s"]

    print(f"data: {data_dir.name}, {events:,} events, {users:,} users, as of {as_of:%Y-%m-%d %H:%M}; "
          f"segment matches {prof.size:,} users")
    print(f"{'step':<34}{'median s':>10}   runs")
    for key, v in r.items():
        print(f"{key:<34}{v['median_s']:>10.3f}   {', '.join(f'{x:.3f}' for x in v['runs_s'])}")
    print(f"pandas frames load (excluded):   {load_s:10.3f}")
    print(f"profile speedup vs pandas: {speed_cold:.1f}x cold, {speed_warm:.1f}x warm; baseline agrees: {checks}")
    print(f"peak RSS: {rss_duckdb:,} MB after DuckDB steps, {_rss_mb():,} MB after pandas")
    print(json.dumps({
        "benchmark": "bench_segments", "events": events, "users": users, "repeat": args.repeat,
        "results": {k: {"median_s": round(v["median_s"], 4)} for k, v in r.items()},
        "count_members": size, "speedup_vs_pandas_cold": round(speed_cold, 2),
        "speedup_vs_pandas_warm": round(speed_warm, 2), "baseline_agrees": all(checks.values()),
        "peak_rss_mb": _rss_mb(),
        "targets_met": {"count_lt_0_5s": r["count"]["median_s"] < 0.5,
                        "profile_lt_2s": r["profile_warm"]["median_s"] < 2.0, "speedup_ge_5x": speed_cold >= 5},
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
