"""Hand-written behaviour data for the segment tests: a few users whose features can be checked by hand.

AS_OF is 2026-06-30 12:00. "180 days ago" is 2026-01-01 12:00, "90 days ago" 2026-04-01 12:00.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from core.store import Store

AS_OF = datetime(2026, 6, 30, 12, 0)


def _events(rows: list[tuple]) -> pd.DataFrame:
    cols = ["event_id", "user_id", "product_id", "event_type", "ts", "quantity", "price", "rating", "order_id",
            "campaign_id"]
    frame = pd.DataFrame(rows, columns=cols)
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame


def build_small(store: Store) -> datetime:
    """Eight users; see the comments for what each is meant to show."""
    store.insert_df("products", pd.DataFrame({
        "product_id": ["p1", "p2", "p3", "p4"],
        "title": ["Runner", "Boot", "Novel", "Robot"],
        "category": ["Shoes", "Shoes", "Books", "Toys"],
        "price": [50.0, 60.0, 30.0, 25.0],
    }))
    store.insert_df("campaigns", pd.DataFrame({
        "campaign_id": ["c_disc", "c_ship"],
        "name": ["Twenty off", "Free shipping"],
        "channel": ["email_subject", "push"],
        "sent_at": pd.to_datetime(["2026-01-01", "2026-02-01"]),
        "offer_type": ["percent_off", "free_shipping"],
    }))
    store.insert_df("users", pd.DataFrame({
        "user_id": ["u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"],
        "signup_date": pd.to_datetime(["2025-01-01", "2026-06-01", "2026-01-15", "2026-02-01", "2025-06-01",
                                       "2024-06-30", "2026-07-01", "2026-03-01"]).date,
        "region": ["north", "south", "north", "east", "west", "north", "south", "east"],
        "device": ["mobile", "desktop", "mobile", "tablet", "mobile", "desktop", "mobile", "desktop"],
        "age_band": ["25-34", "18-24", "35-44", "25-34", "45-54", "55+", "18-24", "35-44"],
        "loyalty_tier": ["gold", "none", "silver", "none", "silver", "gold", "none", "none"],
    }))
    n = iter(range(1, 1000))
    e = lambda *row: (f"e{next(n)}", *row)  # noqa: E731
    rows = [
        # u1: four orders (one outside 180 days), discounted once, views, two reviews, a return.
        e("u1", "p1", "purchase", "2026-06-28 10:00", 2, 50.0, None, "o1", "c_disc"),
        e("u1", "p3", "purchase", "2026-05-15 10:00", 1, 30.0, None, "o2", None),
        e("u1", "p1", "purchase", "2026-03-01 10:00", 1, 40.0, None, "o3", "c_ship"),
        e("u1", "p2", "purchase", "2025-11-01 10:00", 1, 60.0, None, "o4", None),
        e("u1", "p1", "view", "2026-06-27 09:00", None, None, None, None, None),
        e("u1", "p1", "view", "2026-06-27 09:01", None, None, None, None, None),
        e("u1", "p1", "view", "2026-06-27 09:02", None, None, None, None, None),
        e("u1", "p3", "view", "2026-06-10 09:00", None, None, None, None, None),
        e("u1", "p1", "click", "2026-06-01 09:00", None, None, None, None, None),
        e("u1", "p1", "review", "2026-06-29 09:00", None, None, 5.0, None, None),
        e("u1", "p3", "review", "2026-05-20 09:00", None, None, 3.0, None, None),
        e("u1", "p1", "return", "2026-06-29 10:00", 1, 50.0, None, "o1", None),
        # After AS_OF: must not count.
        e("u1", "p1", "purchase", "2026-07-02 10:00", 1, 50.0, None, "o9", None),
        # u2: new, browsed toys and left a cart 4 days ago; never bought.
        e("u2", "p4", "view", "2026-06-25 09:00", None, None, None, None, None),
        e("u2", "p4", "view", "2026-06-25 09:05", None, None, None, None, None),
        e("u2", "p4", "add_to_cart", "2026-06-26 09:00", 1, 25.0, None, None, None),
        # u3: carted then bought the next day: not an abandoner.
        e("u3", "p3", "add_to_cart", "2026-06-25 09:00", 1, 30.0, None, None, None),
        e("u3", "p3", "purchase", "2026-06-26 09:00", 1, 30.0, None, "o5", None),
        # u4: cart 15 days ago, nothing since: too old to be an abandoner now.
        e("u4", "p2", "add_to_cart", "2026-06-15 09:00", 1, 60.0, None, None, None),
        # u5: two orders, both on the discount campaign; the first has two lines.
        e("u5", "p1", "purchase", "2026-04-10 09:00", 1, 20.0, None, "o6", "c_disc"),
        e("u5", "p2", "purchase", "2026-04-10 09:00", 1, 30.0, None, "o6", "c_disc"),
        e("u5", "p4", "purchase", "2026-06-05 09:00", 2, 25.0, None, "o7", "c_disc"),
        # u6: one big order long ago (171 days).
        e("u6", "p2", "purchase", "2026-01-10 09:00", 10, 100.0, None, "o8", None),
        # u7 signed up after AS_OF; u8 did nothing.
        e("u7", "p1", "view", "2026-07-03 09:00", None, None, None, None, None),
    ]
    store.insert_df("events", _events(rows))
    store.insert_df("variants", pd.DataFrame({
        "variant_id": ["v1"], "campaign_id": ["c_disc"], "channel": ["email_subject"], "copy_text": ["20% off"],
    }))
    exp = pd.DataFrame({
        "user_id": ["u1"] * 5 + ["u5"],
        "variant_id": ["v1"] * 6,
        "campaign_id": ["c_disc"] * 6,
        "sent_at": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01", "2026-07-01",
                                   "2026-04-01"]),
        "opened": [True, True, False, False, True, True],
        "clicked": [True, False, False, False, True, None],
        "converted": [False] * 6,
    })
    store.insert_df("exposures", exp)
    return AS_OF
