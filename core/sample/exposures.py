"""The sample's past campaign exposures: who got which variant, and whether they opened, clicked and converted.

Outcomes are drawn from the ground-truth response model with each user's purchase history as of the send
(``core.sample.history``), so nobody is scored with purchases made after the message.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.copy_features import CATEGORIES
from core.sample.history import HISTORY_COLUMNS, purchase_history_at
from core.sample.truth import AFFINITY_COLUMNS, TRAIT_COLUMNS, ResponseModel
from core.sample.world import SECONDS_PER_DAY, bool_text, choose_products, money_text, timestamps


def history_snapshot(ev: dict[str, np.ndarray], n: int, end_s: int) -> dict[str, np.ndarray]:
    """Each user's organic purchase history as of the end of the window."""
    buy = ev["type"] == "purchase"
    u = ev["u"][buy]
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, u, ev["t"][buy])
    freq = np.bincount(u, minlength=n).astype(float)
    spend = np.bincount(u, weights=ev["price"][buy] * ev["qty"][buy], minlength=n)
    recency = np.where(last >= 0, np.floor((end_s - last) / SECONDS_PER_DAY), 365.0)
    return {"recency_days": recency, "frequency_180d": freq, "monetary_180d": np.round(spend, 2)}


def traits_frame(ids: np.ndarray, users: pd.DataFrame, lat: dict, snap: dict) -> pd.DataFrame:
    frame = pd.DataFrame({
        "user_id": ids,
        "recency_days": snap["recency_days"],
        "frequency_180d": snap["frequency_180d"],
        "monetary_180d": snap["monetary_180d"],
        "price_sensitivity": lat["price_sensitivity"],
        "favourite_category": np.array(CATEGORIES)[lat["affinity"].argmax(axis=1)],
        "loyalty_tier": users["loyalty_tier"].to_numpy(),
        "age_band": users["age_band"].to_numpy(),
    })
    for j, col in enumerate(AFFINITY_COLUMNS):
        frame[col] = lat["affinity"][:, j]
    return frame[list(TRAIT_COLUMNS)]


def draw_exposures(rng: np.random.Generator, model: ResponseModel, traits: pd.DataFrame, lat: dict,
               organic: dict[str, np.ndarray], campaigns: pd.DataFrame, variants: pd.DataFrame,
               vcopy: pd.DataFrame, products: pd.DataFrame,
               end_s: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Who got which variant, what they did, and the purchases campaigns caused.

    Each outcome is drawn with the user's purchase history as of the send, from
    ``organic`` (the chunk's own behaviour): history written after the send would be
    a look-ahead no predictor could match.
    """
    n = len(traits)
    users_i, var_i = [], []
    for ci, camp in campaigns.iterrows():
        eligible = lat["accepts"] & (lat["signup_s"] < camp["sent_s"])
        share = 0.8 + 0.2 * ((ci * 7919) % 100) / 100  # campaign audience size, fixed per campaign
        members = np.flatnonzero(eligible & (rng.random(n) < share))
        vids = np.flatnonzero(variants["campaign_id"].to_numpy() == camp["campaign_id"])
        users_i.append(members)
        var_i.append(vids[rng.integers(len(vids), size=len(members))])
    u = np.concatenate(users_i)
    v = np.concatenate(var_i)
    sent = variants["sent_s"].to_numpy()[v]
    buy = organic["type"] == "purchase"
    history = purchase_history_at(organic["u"][buy], organic["t"][buy],
                                  organic["price"][buy] * organic["qty"][buy], u, sent)
    t = traits.iloc[u].reset_index(drop=True)
    for col in HISTORY_COLUMNS:
        t[col] = history[col].to_numpy()
    c = vcopy.iloc[v].reset_index(drop=True)
    p_conv = model.probability(t, c)
    converted = rng.random(len(u)) < p_conv
    p_click = model.click_probability(p_conv)
    clicked = converted | (rng.random(len(u)) < (p_click - p_conv) / (1 - p_conv))
    is_email = c["channel"].to_numpy() == "email_subject"
    p_open = np.maximum(model.open_probability(t, c), p_click)
    opened = np.where(is_email, clicked | (rng.random(len(u)) < (p_open - p_click) / (1 - p_click)), True)
    # Campaign purchases: the promoted product, or a popular one from the campaign's category.
    prod = products["product_id"].to_numpy()
    pid_index = {p: i for i, p in enumerate(prod)}
    var_prod = variants["product_id"].map(pid_index).fillna(-1).to_numpy(int)[v]
    cat_idx = variants["category"].map({x: i for i, x in enumerate(CATEGORIES)}).to_numpy()[v]
    k = np.flatnonzero(converted)
    bought = var_prod[k].copy()
    need = bought < 0
    if need.any():
        bought[need] = choose_products(rng, cat_idx[k][need], products)
    qty = rng.choice([1, 2], size=len(k), p=[0.9, 0.1])
    pct = np.nan_to_num(variants["offer_value"].to_numpy(float))[v][k]
    otype = variants["offer_type"].to_numpy()[v][k]
    unit = products["price"].to_numpy()[bought]
    unit = np.where(otype == "percent", unit * (1 - pct / 100), unit)
    unit = np.where(otype == "amount", np.maximum(unit - pct / qty, 1.0), unit)
    unit = np.round(unit, 2)
    revenue = np.zeros(len(u))
    revenue[k] = unit * qty
    # A converting exposure is a visit from the message: view, click, cart, purchase.
    view_t = sent[k] + rng.exponential(5 * 3600, len(k)).astype(np.int64) + 60
    click_t = view_t + rng.integers(5, 120, len(k))
    cart_t = click_t + rng.integers(30, 900, len(k))
    buy_t = cart_t + rng.integers(60, 1800, len(k))
    session_t = [np.minimum(x, end_s - 1) for x in (view_t, click_t, cart_t, buy_t)]
    exposures = pd.DataFrame({
        "user_idx": u,
        "variant_id": variants["variant_id"].to_numpy()[v],
        "campaign_id": variants["campaign_id"].to_numpy()[v],
        "sent_at": timestamps(sent),
        "opened": bool_text(opened),
        "clicked": bool_text(clicked),
        "converted": bool_text(converted),
        "revenue": money_text(revenue),
        "strategy_id": None,
    })
    camp_index = {c: i for i, c in enumerate(campaigns["campaign_id"])}
    kinds = ("view", "click", "add_to_cart", "purchase")
    camp_of = np.array([camp_index[x] for x in exposures["campaign_id"].to_numpy()[k]], dtype=np.int64)
    nan = np.full(len(k), np.nan)
    zeros = np.zeros(len(k), int)
    purchases = {
        "u": np.tile(u[k], 4), "p": np.tile(bought, 4),
        "type": np.repeat(np.array(kinds, dtype=object), len(k)),
        "t": np.concatenate(session_t),
        "qty": np.concatenate([zeros, zeros, qty, qty]),
        "price": np.concatenate([nan, nan, unit, unit]),
        "rating": np.tile(zeros, 4),
        "campaign": np.tile(camp_of, 4),
    }
    return exposures, purchases
