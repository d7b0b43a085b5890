"""Small synthetic shops with a known response, for the prediction tests.

``fill_store`` writes users, products, events, campaigns, variants and exposures
into a store. Conversions follow a simple known rule: a base rate, plus a
discount effect that only bronze-tier ("price-sensitive") users feel.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from core.prediction.features import pair_frame, user_frame, variant_features
from core.store import Store

BASE = 0.04
DISCOUNT_EFFECT_BRONZE = 0.12
TIERS = ("bronze", "silver", "gold")
TEXTS = [
    ("Our new {cat} edit is here", None, None),
    ("Save 20% off all {cat} today, shop now", "percent_off", 20.0),
]


def true_rate(tier: str, discounted: bool) -> float:
    return BASE + (DISCOUNT_EFFECT_BRONZE if discounted and tier == "bronze" else 0.0)


def fill_store(store: Store, n_users: int = 300, n_campaigns: int = 6, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 1)
    users = pd.DataFrame({
        "user_id": [f"u{i:04d}" for i in range(n_users)],
        "signup_date": [start.date()] * n_users,
        "region": rng.choice(["north", "south"], n_users),
        "device": rng.choice(["ios", "android"], n_users),
        "age_band": rng.choice(["25-34", "35-44"], n_users),
        "loyalty_tier": [TIERS[i % 3] for i in range(n_users)],
        "first_name": ["Alex"] * n_users,
    })
    store.insert_df("users", users)
    products = pd.DataFrame({"product_id": ["P1", "P2"], "title": ["A novel", "A serum"],
                             "category": ["Books", "Beauty"], "price": [20.0, 30.0]})
    store.insert_df("products", products)
    ev = []
    for i, uid in enumerate(users["user_id"]):
        pid = "P1" if i % 2 else "P2"
        for k in range(3):
            ev.append((f"e{i}_{k}", uid, pid, "view", start + timedelta(days=int(rng.integers(0, 30)))))
        ev.append((f"e{i}_p", uid, pid, "purchase", start + timedelta(days=31)))
    events = pd.DataFrame(ev, columns=["event_id", "user_id", "product_id", "event_type", "ts"])
    events["quantity"] = np.where(events["event_type"] == "purchase", 1, None)
    events["price"] = np.where(events["event_type"] == "purchase", 25.0, None)
    store.insert_df("events", events)
    camps, variants, exposures = [], [], []
    for c in range(n_campaigns):
        cid = f"C{c + 1:02d}"
        channel = ("email_subject", "push")[c % 2]
        cat = ("Books", "Beauty")[c % 2]
        sent = start + timedelta(days=40 + 7 * c)
        camps.append((cid, f"Campaign {c + 1}", channel, sent, cat))
        for j, (text, offer, value) in enumerate(TEXTS):
            vid = f"{cid}-{'AB'[j]}"
            variants.append((vid, cid, channel, text.format(cat=cat.lower()), offer, value, cat, j == 0))
        arm = rng.integers(0, 2, n_users)
        for i, uid in enumerate(users["user_id"]):
            p = true_rate(users["loyalty_tier"].iloc[i], bool(arm[i]))
            conv = bool(rng.random() < p)
            exposures.append((uid, f"{cid}-{'AB'[arm[i]]}", cid, sent, conv, conv, conv, 25.0 if conv else 0.0))
    store.insert_df("campaigns", pd.DataFrame(camps, columns=["campaign_id", "name", "channel", "sent_at",
                                                             "category"]))
    store.insert_df("variants", pd.DataFrame(variants, columns=["variant_id", "campaign_id", "channel",
                                                               "copy_text", "offer_type", "offer_value",
                                                               "category", "is_control"]))
    store.insert_df("exposures", pd.DataFrame(exposures, columns=["user_id", "variant_id", "campaign_id",
                                                                 "sent_at", "opened", "clicked", "converted",
                                                                 "revenue"]))


def synthetic_pairs(n_rows: int = 40_000, n_campaigns: int = 16, seed: int = 0):
    """Model-input rows with known probabilities: discount x discount_sensitivity, category match.

    Returns (X, y, p_true, groups).
    """
    rng = np.random.default_rng(seed)
    n_users = 4000
    users = pd.DataFrame({
        "user_id": [f"u{i}" for i in range(n_users)],
        "discount_sensitivity": rng.uniform(0, 1, n_users),
        "recency_days": rng.exponential(40, n_users),
        "favourite_category": rng.choice(["Books", "Beauty"], n_users),
        "loyalty_tier": rng.choice(list(TIERS), n_users),
    })
    rows = []
    for c in range(n_campaigns):
        cat = ("Books", "Beauty")[c % 2]
        rows.append({"variant_id": f"C{c}-A", "copy_text": f"New in {cat.lower()}: discover the edit",
                     "channel": "email_subject", "category": cat})
        pct = (10, 20, 30, 40)[c % 4]
        rows.append({"variant_id": f"C{c}-B", "copy_text": f"Save {pct}% off {cat.lower()} today",
                     "channel": "email_subject", "category": cat, "offer_type": "percent_off",
                     "offer_value": float(pct)})
    variants = pd.DataFrame(rows)
    vf, uf = variant_features(variants), user_frame(users)
    ui = rng.integers(0, n_users, n_rows)
    vi = rng.integers(0, len(variants), n_rows)
    X = pair_frame(uf, vf, ui, vi)
    logit = (-3.3 + 2.5 * X["copy_discount_pct"] / 40 * (X["discount_sensitivity"] - 0.3)
             + 0.4 * X["category_match"] - 0.005 * X["recency_days"])
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    y = (rng.random(n_rows) < p).astype(float)
    groups = np.array([f"C{k // 2}" for k in vi])
    return X, y, p, groups, users, variants
