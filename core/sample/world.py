"""Building the sample shop's world: products, users with hidden traits, campaigns, organic events and exposures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.copy_features import CATEGORIES
from core.sample import text as words


@dataclass(frozen=True)
class SampleSpec:
    """What to generate. ``scale`` multiplies users, and with them events and exposures."""

    seed: int = 20260630
    scale: float = 1.0
    users: int = 5000
    products: int = 300
    campaigns: int = 40
    days: int = 180
    end: str = "2026-06-30 00:00:00"
    views_per_user: float = 41.0
    chunk_users: int = 25_000

    @property
    def n_users(self) -> int:
        return max(20, int(round(self.users * self.scale)))


SECONDS_PER_DAY = 86_400
CATEGORY_SHARE = np.array([0.16, 0.16, 0.13, 0.17, 0.11, 0.08, 0.09, 0.10])
CHANNEL_MIX = ("email_subject",) * 14 + ("push",) * 10 + ("sms",) * 8 + ("banner",) * 8


def bool_text(values: np.ndarray) -> np.ndarray:
    return np.where(values, "true", "false")


def money_text(values: np.ndarray) -> np.ndarray:
    return np.round(values.astype(float), 2)


def timestamps(seconds: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(seconds.astype("int64"), unit="s")).dt.strftime("%Y-%m-%d %H:%M:%S")


# -- generation: products, users, campaigns ------------------------------------
def build_products(spec: SampleSpec, rng: np.random.Generator) -> pd.DataFrame:
    per_cat = np.full(len(CATEGORIES), spec.products // len(CATEGORIES))
    per_cat[: spec.products % len(CATEGORIES)] += 1
    rows = []
    for ci, category in enumerate(CATEGORIES):
        cat = words.CATALOGUE[category]
        combos = [(i, b, m) for i in range(len(cat["items"])) for b in range(len(cat["brands"]))
                  for m in range(len(words.MODELS))]
        chosen = rng.choice(len(combos), size=per_cat[ci], replace=False)
        for k in sorted(chosen):
            item_i, brand_i, model_i = combos[k]
            noun, low, high = cat["items"][item_i]
            brand = cat["brands"][brand_i]
            if category == "Books":
                first = words.BOOK_WORDS[0][(model_i + brand_i) % len(words.BOOK_WORDS[0])]
                second = words.BOOK_WORDS[1][(model_i * 3 + item_i + brand_i) % len(words.BOOK_WORDS[1])]
                title = f"{first} {second} ({noun})"
            else:
                title = f"{brand} {noun}{words.MODELS[model_i]}"
            price = np.floor(rng.uniform(low, high)) + (0.99 if rng.random() < 0.7 else 0.49)
            b1, b2 = rng.choice(len(cat["benefits"]), size=2, replace=False)
            description = (f"{title} by {brand}: {cat['benefits'][b1]}. "
                           f"{cat['benefits'][b2].capitalize()}, backed by our 30-day returns.")
            rows.append((title, category, float(price), description, noun))
    frame = pd.DataFrame(rows, columns=["title", "category", "price", "description", "noun"])
    frame = frame.drop_duplicates("title").reset_index(drop=True)
    frame.insert(0, "product_id", [f"P{i + 1:04d}" for i in range(len(frame))])
    frame["quality"] = np.clip(rng.normal(4.1, 0.45, len(frame)), 2.3, 4.9)
    # Popularity within category: a few hits, a long tail.
    frame["popularity"] = rng.pareto(1.6, len(frame)) + 0.2
    return frame


def build_users(spec: SampleSpec, rng: np.random.Generator, end_s: int) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    n = spec.n_users
    start_s = end_s - spec.days * SECONDS_PER_DAY
    new = rng.random(n) < 0.2
    signup_s = np.where(
        new,
        start_s + rng.uniform(0, (spec.days - 7) * SECONDS_PER_DAY, n),
        start_s - rng.uniform(0, 900 * SECONDS_PER_DAY, n),
    )
    signup_day = (signup_s // SECONDS_PER_DAY).astype(np.int64)
    activity = rng.lognormal(-0.4, 0.95, n)
    noisy = np.log(activity) + rng.normal(0, 0.5, n)
    rank = noisy.argsort().argsort() / max(n - 1, 1)
    tier = np.select([rank > 0.9, rank > 0.7, rank > 0.4], [3, 2, 1], 0)
    age = rng.choice(len(words.AGE_BANDS), size=n, p=words.AGE_P)
    ps = rng.beta(2.2, 2.2, n) - 0.15 * (tier == 3) - 0.07 * (tier == 2) + 0.05 * (tier == 0) + 0.06 * (age == 0)
    ps = np.round(np.clip(ps, 0.02, 0.98), 6)
    # Dirichlet draws via normalised gammas (vectorised); small alphas make most
    # customers clearly prefer one or two categories.
    alpha = CATEGORY_SHARE * 2.8
    affinity = rng.gamma(alpha, 1.0, (n, len(alpha)))
    affinity = affinity / affinity.sum(axis=1, keepdims=True)
    affinity = np.round(affinity, 6)
    churned = rng.random(n) < 0.3
    active_end_s = np.where(churned, start_s + rng.uniform(15, spec.days - 20, n) * SECONDS_PER_DAY, end_s - 1)
    first = rng.integers(len(words.FIRST_NAMES), size=n)
    initial = rng.integers(len(words.LAST_INITIALS), size=n)
    names = np.array(words.FIRST_NAMES)[first]
    ids = np.array([f"U{i + 1:07d}" for i in range(n)])
    emails = [f"{nm.lower()}.{words.LAST_INITIALS[k].lower()}{i + 1}@example.com"
              for i, (nm, k) in enumerate(zip(names, initial))]
    users = pd.DataFrame({
        "user_id": ids,
        "signup_date": pd.Series(pd.to_datetime(signup_day, unit="D")).dt.strftime("%Y-%m-%d"),
        "region": np.array(words.REGIONS)[rng.choice(len(words.REGIONS), size=n, p=words.REGION_P)],
        "device": np.array(words.DEVICES)[rng.choice(len(words.DEVICES), size=n, p=words.DEVICE_P)],
        "age_band": np.array(words.AGE_BANDS)[age],
        "loyalty_tier": np.array(words.LOYALTY_TIERS)[tier],
        "first_name": names,
        "email": emails,
        "accepts_marketing": bool_text(rng.random(n) < 0.9),
    })
    latent = {
        "signup_s": signup_s.astype(np.int64),
        "active_start_s": np.maximum(signup_s, start_s).astype(np.int64),
        "active_end_s": active_end_s.astype(np.int64),
        "activity": activity,
        "price_sensitivity": ps,
        "affinity": affinity,
        "tier": tier,
        "accepts": users["accepts_marketing"].to_numpy() == "true",
    }
    return users, latent


def build_campaigns(
    spec: SampleSpec, rng: np.random.Generator, products: pd.DataFrame, end_s: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    start_s = end_s - spec.days * SECONDS_PER_DAY
    days = np.sort(rng.choice(np.arange(5, spec.days - 3), size=spec.campaigns, replace=False))
    channels = rng.permutation(np.array(CHANNEL_MIX * (spec.campaigns // len(CHANNEL_MIX) + 1))[: spec.campaigns])
    seasons = ("Spring", "Summer", "Weekend", "Midweek", "Payday", "Flash", "VIP", "New Season", "Clearance")
    camp_rows, var_rows = [], []
    for i in range(spec.campaigns):
        cid = f"C{i + 1:03d}"
        channel = str(channels[i])
        category = str(rng.choice(CATEGORIES, p=CATEGORY_SHARE / CATEGORY_SHARE.sum()))
        in_cat = products[products["category"] == category]
        product = in_cat.iloc[rng.integers(len(in_cat))] if rng.random() < 0.5 else None
        offer_type = str(rng.choice(["percent", "amount", "free_shipping", "gift", "none"],
                                    p=[0.45, 0.15, 0.15, 0.1, 0.15]))
        hour = 9 if rng.random() < 0.6 else 18
        sent_s = start_s + int(days[i]) * SECONDS_PER_DAY + hour * 3600
        base_value = {"percent": float(rng.choice([10, 15, 20, 25])), "amount": float(rng.choice([5, 10, 15])),
                      }.get(offer_type, 0.0)
        code_word = str(rng.choice(words.CODE_WORDS))
        promo = f"{code_word}{int(base_value)}" if offer_type in ("percent", "amount") else None
        if offer_type == "free_shipping":
            promo = "SHIPFREE" if rng.random() < 0.5 else None
        thing = product["title"] if product is not None else None
        noun = product["noun"] if product is not None else \
            words.CATALOGUE[category]["items"][rng.integers(10)][0]
        name = f"{rng.choice(seasons)} {category} {['push', 'promo', 'drop', 'event'][rng.integers(4)]}"
        camp_rows.append({
            "campaign_id": cid, "name": f"{name} ({channel.replace('_', ' ')})", "channel": channel,
            "sent_s": sent_s, "product_id": product["product_id"] if product is not None else None,
            "category": category, "offer_type": offer_type if offer_type != "none" else None,
            "offer_value": base_value if base_value else None, "promo_code": promo,
        })
        n_var = int(rng.integers(3, 7))
        texts: set[str] = set()
        for k in range(n_var):
            control = k == 0
            v_offer = offer_type
            value = base_value
            if not control and offer_type == "percent":
                value = float(rng.choice([10, 15, 20, 25, 30, 40]))
            elif not control and offer_type == "amount":
                value = float(rng.choice([5, 10, 15, 20]))
            elif not control and offer_type == "none" and rng.random() < 0.3:
                v_offer, value = "free_shipping", 0.0
            v_promo = (f"{code_word}{int(value)}" if v_offer in ("percent", "amount") else
                       promo if v_offer == "free_shipping" and offer_type == "free_shipping" else None)
            knobs = dict(
                urgency=not control and rng.random() < 0.45,
                personal=not control and channel != "banner" and rng.random() < 0.35,
                emoji=not control and channel != "sms" and rng.random() < 0.3,
                cta=rng.random() < (0.4 if control else 0.6),
                question=not control and rng.random() < 0.15,
                long=rng.random() < 0.35,
            )
            for _ in range(5):  # variants of one campaign must differ in wording
                text = words.compose_copy(
                    rng, channel=channel, category=category, thing=thing, noun=noun,
                    offer_type=v_offer, offer_value=value, promo_code=v_promo, **knobs,
                )
                if text not in texts:
                    break
            texts.add(text)
            var_rows.append({
                "variant_id": f"{cid}-{'ABCDEF'[k]}", "campaign_id": cid, "channel": channel, "copy_text": text,
                "offer_type": v_offer if v_offer != "none" else None, "offer_value": value if value else None,
                "promo_code": v_promo, "product_id": camp_rows[-1]["product_id"], "category": category,
                "is_control": control, "sent_s": sent_s,
            })
    return pd.DataFrame(camp_rows), pd.DataFrame(var_rows)


# -- generation: events and exposures per chunk of users ----------------------
def day_weights(spec: SampleSpec, rng: np.random.Generator) -> np.ndarray:
    """Relative traffic per day: weekly rhythm, slow growth, two sale spikes."""
    d = np.arange(spec.days)
    weekday = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.25, 1.2])[(d + 3) % 7]
    growth = 1 + 0.35 * d / spec.days
    spikes = 1 + 0.8 * np.exp(-0.5 * ((d - 0.3 * spec.days) / 2.0) ** 2) \
        + 1.1 * np.exp(-0.5 * ((d - 0.8 * spec.days) / 2.5) ** 2)
    return weekday * growth * spikes * rng.uniform(0.93, 1.07, spec.days)


HOUR_WEIGHTS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2, 2.6, 2.8, 2.9, 3, 3.2, 3, 2.8, 2.8, 3,
                         3.4, 4, 4.6, 4.8, 4.2, 3, 1.8], dtype=float)


def sample_times(rng: np.random.Generator, lo_s: np.ndarray, hi_s: np.ndarray, day_cdf: np.ndarray,
                  start_s: int) -> np.ndarray:
    """Event times between lo and hi, following the daily traffic curve and hour-of-day rhythm."""
    lo_d = np.clip((lo_s - start_s) / SECONDS_PER_DAY, 0, len(day_cdf) - 1)
    hi_d = np.clip((hi_s - start_s) / SECONDS_PER_DAY, 0, len(day_cdf) - 1)
    grid = np.arange(len(day_cdf) + 1)
    cdf = np.concatenate([[0.0], day_cdf])
    lo_c, hi_c = np.interp(lo_d, grid, cdf), np.interp(hi_d, grid, cdf)
    u = lo_c + rng.random(len(lo_s)) * (hi_c - lo_c)
    day = np.floor(np.interp(u, cdf, grid)).astype(np.int64)
    hour_cdf = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
    hour = np.searchsorted(hour_cdf, rng.random(len(lo_s)))
    t = start_s + day * SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, len(lo_s))
    return np.clip(t, lo_s, hi_s)


def choose_products(rng: np.random.Generator, cats: np.ndarray, products: pd.DataFrame) -> np.ndarray:
    out = np.empty(len(cats), dtype=np.int64)
    pcat = products["category"].map({c: i for i, c in enumerate(CATEGORIES)}).to_numpy()
    pop = products["popularity"].to_numpy()
    for ci in range(len(CATEGORIES)):
        rows = np.flatnonzero(cats == ci)
        members = np.flatnonzero(pcat == ci)
        cdf = np.cumsum(pop[members]) / pop[members].sum()
        out[rows] = members[np.minimum(np.searchsorted(cdf, rng.random(len(rows))), len(members) - 1)]
    return out


def organic_events(spec: SampleSpec, rng: np.random.Generator, lat: dict, products: pd.DataFrame,
                    day_cdf: np.ndarray, start_s: int, end_s: int) -> dict[str, np.ndarray]:
    n = len(lat["activity"])
    active_days = np.maximum(lat["active_end_s"] - lat["active_start_s"], 0) / SECONDS_PER_DAY
    rate = spec.views_per_user / spec.days * lat["activity"] / 0.86
    n_views = rng.poisson(rate * active_days)
    uidx = np.repeat(np.arange(n), n_views)
    m = len(uidx)
    aff = lat["affinity"][uidx]
    cat = (rng.random(m)[:, None] > np.cumsum(aff, axis=1)).sum(axis=1)
    cat = np.minimum(cat, len(CATEGORIES) - 1)
    prod = choose_products(rng, cat, products)
    view_t = sample_times(rng, lat["active_start_s"][uidx], lat["active_end_s"][uidx], day_cdf, start_s)
    aff_cat = aff[np.arange(m), cat]
    ps = lat["price_sensitivity"][uidx]
    price = products["price"].to_numpy()[prod]
    cat_median = products.groupby("category")["price"].median().reindex(CATEGORIES).to_numpy()[cat]
    clicked = rng.random(m) < 0.24 + 0.3 * aff_cat
    carted = clicked & (rng.random(m) < 0.3)
    p_buy = np.clip(0.55 - 0.35 * ps * (price > cat_median) + 0.08 * (lat["tier"][uidx] >= 2), 0.1, 0.9)
    bought = carted & (rng.random(m) < p_buy)
    click_t = np.minimum(view_t + rng.integers(5, 300, m), end_s - 1)
    cart_t = np.minimum(click_t + rng.integers(20, 1800, m), end_s - 1)
    buy_t = np.minimum(cart_t + rng.integers(30, 5400, m), end_s - 1)
    qty = rng.choice([1, 2, 3], size=m, p=[0.85, 0.12, 0.03])
    quality = products["quality"].to_numpy()[prod]
    reviewed = bought & (rng.random(m) < 0.18)
    review_t = buy_t + rng.integers(2 * SECONDS_PER_DAY, 20 * SECONDS_PER_DAY, m)
    reviewed &= review_t < end_s
    rating = np.clip(np.round(quality + rng.normal(0, 0.9, m)), 1, 5).astype(int)
    parts = []
    for etype, mask, t in (("view", np.ones(m, bool), view_t), ("click", clicked, click_t),
                           ("add_to_cart", carted, cart_t), ("purchase", bought, buy_t),
                           ("review", reviewed, review_t)):
        k = np.flatnonzero(mask)
        parts.append({
            "u": uidx[k], "p": prod[k], "type": np.full(len(k), etype, dtype=object), "t": t[k],
            "qty": qty[k] if etype in ("add_to_cart", "purchase") else np.zeros(len(k), int),
            "price": price[k] if etype in ("add_to_cart", "purchase") else np.full(len(k), np.nan),
            "rating": rating[k] if etype == "review" else np.zeros(len(k), int),
            "campaign": np.full(len(k), -1),
        })
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def events_frame(ev: dict[str, np.ndarray], ids: np.ndarray, products: pd.DataFrame,
                  campaign_ids: np.ndarray, first_event: int, first_order: int,
                  rng: np.random.Generator) -> pd.DataFrame:
    order = np.lexsort((ev["t"], ev["u"]))
    ev = {k: v[order] for k, v in ev.items()}
    m = len(order)
    etype = ev["type"]
    is_buy = etype == "purchase"
    is_review = etype == "review"
    order_ids = np.full(m, None, dtype=object)
    nb = int(is_buy.sum())
    order_ids[is_buy] = [f"O{first_order + i:08d}" for i in range(nb)]
    texts = np.full(m, None, dtype=object)
    rk = np.flatnonzero(is_review)
    for rating in range(1, 6):
        sel = rk[ev["rating"][rk] == rating]
        bank = words.REVIEWS[rating]
        texts[sel] = np.array(bank, dtype=object)[rng.integers(len(bank), size=len(sel))]
    qty = np.where(ev["qty"] > 0, ev["qty"], 0)
    return pd.DataFrame({
        "event_id": [f"E{first_event + i:09d}" for i in range(m)],
        "user_id": ids[ev["u"]],
        "product_id": products["product_id"].to_numpy()[ev["p"]],
        "event_type": etype,
        "ts": timestamps(ev["t"]),
        "quantity": pd.Series(qty, dtype="Int64").where(qty > 0),
        "price": money_text(ev["price"]),
        "rating": pd.Series(ev["rating"], dtype="Int64").where(is_review),
        "review_text": texts,
        "order_id": order_ids,
        "campaign_id": np.where(ev["campaign"] >= 0, campaign_ids[np.maximum(ev["campaign"], 0)], None),
    })
