"""A tiny shop for the learning tests: a few hundred users, two past campaigns, one exported strategy.

Small enough that training the predictor (fast settings) takes seconds, real
enough that every code path (features, training, scoring, strategies,
importer) runs unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.prediction.training import TrainingSettings
from core.prediction.types import VariantPrediction
from core.segments.catalog import SegmentRef
from core.store import Store
from core.strategy.plan import Plan, PlanSettings, build_segment_plan
from core.strategy.records import save_strategy, set_status

# The real training code with a very small model, so tests that retrain take seconds.
TINY = TrainingSettings(max_iter=15, learning_rate=0.3, n_folds=2, n_bootstrap=2, min_samples_leaf=20,
                        n_text_components=2)

TEXTS = {
    "P1-A": "Our kitchen collection",
    "P1-B": "20% off kitchen favourites - shop now",
    "P2-A": "New in kitchen this week",
    "P2-B": "Free shipping on kitchen orders today",
    "S-CTL": "Our kitchen collection, refreshed",
    "S-V1": "{first_name}, 25% off kitchen picks - shop now",
    "S-V2": "Kitchen ideas for you?",
}


def build_world(store: Store, n_users: int = 400, seed: int = 0) -> None:
    """Users, some events, two past campaigns with user-level exposures, and the strategy's variants."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({
        "user_id": [f"u{i:04d}" for i in range(n_users)],
        "signup_date": pd.Timestamp("2025-06-01").date(),
        "region": rng.choice(["north", "south"], n_users),
        "device": rng.choice(["ios", "android", "web"], n_users),
        "age_band": rng.choice(["18-24", "25-34", "35-44", "55+"], n_users),
        "loyalty_tier": rng.choice(["none", "silver", "gold"], n_users),
        "source": "test",
    })
    store.insert_df("users", users)
    store.insert_df("products", pd.DataFrame({"product_id": ["K1"], "title": ["Pan"], "category": ["Home & Kitchen"],
                                               "price": [30.0], "source": "test"}))
    n_ev = n_users * 4
    store.insert_df("events", pd.DataFrame({
        "event_id": [f"e{i}" for i in range(n_ev)],
        "user_id": users["user_id"].to_numpy()[rng.integers(0, n_users, n_ev)],
        "product_id": "K1",
        "event_type": rng.choice(["view", "view", "click", "purchase"], n_ev),
        "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 60 * 86400, n_ev), unit="s"),
        "price": 30.0, "quantity": 1, "source": "test",
    }))
    store.insert_df("campaigns", pd.DataFrame({
        "campaign_id": ["P1", "P2", "S"], "name": ["Past 1", "Past 2", "Strategy copy"],
        "channel": "email_subject", "sent_at": [pd.Timestamp("2026-02-10"), pd.Timestamp("2026-02-20"), None],
        "category": "Home & Kitchen", "source": "test",
    }))
    store.insert_df("variants", pd.DataFrame({
        "variant_id": list(TEXTS), "campaign_id": [v.split("-")[0] for v in TEXTS], "channel": "email_subject",
        "copy_text": list(TEXTS.values()), "category": "Home & Kitchen",
        "is_control": [v.endswith("A") or v == "S-CTL" for v in TEXTS],
        "origin": ["sample"] * 4 + ["manual"] * 3, "in_working_set": [False] * 4 + [True] * 3,
    }))
    rows = []
    for vid, rate, day in (("P1-A", 0.05, "2026-02-10"), ("P1-B", 0.09, "2026-02-10"),
                           ("P2-A", 0.05, "2026-02-20"), ("P2-B", 0.08, "2026-02-20")):
        rows.append(pd.DataFrame({
            "user_id": users["user_id"], "variant_id": vid, "campaign_id": vid.split("-")[0],
            "sent_at": pd.Timestamp(day), "converted": rng.random(n_users) < rate, "revenue": 0.0, "source": "test",
        }))
    exp = pd.concat(rows, ignore_index=True)
    exp["revenue"] = np.where(exp["converted"], 40.0, 0.0)
    store.insert_df("exposures", exp)


def exported_strategy(store: Store) -> str:
    """An exported strategy for all customers: control S-CTL against S-V1 and S-V2."""
    settings = PlanSettings(mode="explore", holdout=0.2, floor=0.05, seed=3, draws=2000)
    preds = [
        VariantPrediction("S-CTL", "All customers", 0.05, 0.04, 0.06, 400, is_control=True, model_version=None),
        VariantPrediction("S-V1", "All customers", 0.08, 0.06, 0.10, 400, model_version=None),
        VariantPrediction("S-V2", "All customers", 0.055, 0.045, 0.065, 400, model_version=None),
    ]
    info = {k: {"channel": "email_subject", "copy_text": TEXTS[k]} for k in ("S-CTL", "S-V1", "S-V2")}
    seg = build_segment_plan(SegmentRef(None, None, "All customers"), preds, members=400, avg_order_value=40.0,
                             settings=settings, variant_info=info)
    rec = save_strategy(store, Plan("Kitchen test", settings, (seg,)), author="ana")
    for status, who in (("submitted", "ana"), ("approved", "boss"), ("exported", "ana")):
        rec = set_status(store, rec.strategy_id, status, author=who, comment="ok")
    return rec.strategy_id


def aggregate_results_csv(strategy_id: str) -> bytes:
    """Aggregate results as an analyst would export them, with one variant id the plan does not know."""
    lines = [
        "strategy_id,variant,segment,sends,conversions,revenue",
        f"{strategy_id},S-CTL,All customers,4000,200,8000",
        f"{strategy_id},S-V1,All customers,8000,560,22400",
        f"{strategy_id},S-V2,All customers,8000,410,16400",
        f"{strategy_id},S-V9,All customers,500,20,800",
    ]
    return ("\n".join(lines) + "\n").encode()


def user_results_csv(strategy_id: str, campaign_id: str, sent_at: str, rates: dict[str, float],
                     n_users: int = 400, seed: int = 1) -> bytes:
    """User-level results of one send of a strategy: every user once, arms in turn, outcomes at ``rates``."""
    rng = np.random.default_rng(seed)
    arms = list(rates)
    lines = ["strategy_id,user_id,variant_id,campaign_id,sent_at,converted,revenue"]
    for i in range(n_users):
        vid = arms[i % len(arms)]
        hit = rng.random() < rates[vid]
        lines.append(f"{strategy_id},u{i:04d},{vid},{campaign_id},{sent_at},{int(hit)},{40.0 if hit else 0.0}")
    return ("\n".join(lines) + "\n").encode()
