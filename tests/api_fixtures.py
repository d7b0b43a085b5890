"""A tiny shop for the decision-service tests: users, variants and an approved two-segment strategy."""

from __future__ import annotations

from dataclasses import replace

from core.store import Store
from core.strategy.plan import Plan, PlanSettings, SegmentRef, build_segment_plan
from core.strategy.records import save_strategy, set_status
from tests.strategy_helpers import pred

USERS = [f"u{i:04d}" for i in range(3000)]
SEG_A = USERS[:2000]
SEG_B = USERS[1500:2800]  # overlaps A: the overlap belongs to A (first segment wins)
EXCLUDED = ("u0010", "u2700")  # u0010 is only in A, u2700 only in B
COPY = {
    "ctrl": ("email_subject", "Our spring collection is here", None, None),
    "v1": ("email_subject", "{first_name}, 20% off {product} today", "percent", 20.0),
    "v2": ("email_subject", "Free shipping on {product}", "free_shipping", None),
    "v3": ("push", "Hi {first_name}! New {product} arrivals", None, None),
}


def seed_shop(store: Store) -> None:
    store.execute("INSERT INTO users (user_id, first_name) SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                  [USERS, [None if i % 3 == 0 else f"Name{i}" for i in range(len(USERS))]])
    add_copy_variants(store)


def add_copy_variants(store: Store) -> None:
    """The four variants the test plans use (and a product for their {product} token)."""
    store.execute("INSERT INTO products (product_id, title) VALUES ('p1', 'Wool Beanie') ON CONFLICT DO NOTHING")
    for vid, (channel, text, otype, ovalue) in COPY.items():
        store.execute(
            "INSERT INTO variants (variant_id, channel, copy_text, offer_type, offer_value, product_id, is_control) "
            "VALUES (?, ?, ?, ?, ?, 'p1', ?) ON CONFLICT DO NOTHING", [vid, channel, text, otype, ovalue, vid == "ctrl"])


def members_of(ref: SegmentRef) -> list[str]:
    return {"Seg A": SEG_A, "Seg B": SEG_B}[ref.name]


def two_segment_plan(seed: int = 7, control_copy: bool = True) -> Plan:
    settings = PlanSettings(mode="explore", holdout=0.1, floor=0.05, seed=seed, draws=2000)
    info = {vid: {"channel": c, "copy_text": t} for vid, (c, t, _, _) in COPY.items()}
    a_preds = [pred("v1", 0.03, 0.025, 0.035), pred("v2", 0.025, 0.02, 0.03)]
    if control_copy:
        a_preds.insert(0, pred("ctrl", 0.02, 0.018, 0.022, is_control=True))
    seg_a = build_segment_plan(SegmentRef("seg-a", 1, "Seg A"), a_preds, members=2000, avg_order_value=50.0,
                               settings=settings, variant_info=info, excluded_user_ids=[EXCLUDED[0]])
    b_preds = [pred("v2", 0.02, 0.015, 0.025, segment="Seg B"), pred("v3", 0.03, 0.02, 0.04, segment="Seg B")]
    seg_b = build_segment_plan(SegmentRef("seg-b", 1, "Seg B"), b_preds, members=1300, avg_order_value=40.0,
                               settings=settings, variant_info=info, excluded_user_ids=[EXCLUDED[1]])
    return Plan(name="Spring live", settings=settings, segments=(seg_a, seg_b), predictor_version=None)


def approved_strategy(store: Store, plan: Plan | None = None) -> str:
    rec = save_strategy(store, plan or two_segment_plan(), author="ana")
    set_status(store, rec.strategy_id, "submitted", author="ana")
    set_status(store, rec.strategy_id, "approved", author="boss")
    return rec.strategy_id


def do_not_send_plan() -> Plan:
    plan = two_segment_plan()
    flagged = replace(plan.segments[1], do_not_send=True, reason="Predicted to hurt: keep the control copy.")
    return replace(plan, segments=(plan.segments[0], flagged))


def all_customers_plan(seed: int = 3) -> Plan:
    """One segment, everyone (membership from the real segment code, no injected members)."""
    from core.segments import EVERYONE as ALL_CUSTOMERS

    settings = PlanSettings(mode="explore", holdout=0.1, floor=0.05, seed=seed, draws=2000)
    info = {vid: {"channel": c, "copy_text": t} for vid, (c, t, _, _) in COPY.items()}
    preds = [pred("ctrl", 0.02, 0.018, 0.022, is_control=True, segment="All customers"),
             pred("v1", 0.03, 0.025, 0.035, segment="All customers"),
             pred("v2", 0.025, 0.02, 0.03, segment="All customers")]
    seg = build_segment_plan(ALL_CUSTOMERS, preds, members=len(USERS), avg_order_value=50.0, settings=settings,
                             variant_info=info)
    return Plan(name="Everyone live", settings=settings, segments=(seg,), predictor_version=None)


def service_db(path, rate_per_s: float = 1e6) -> tuple[str, str]:
    """A database file with the tiny shop, an approved all-customers strategy and a key: (strategy id, key)."""
    from core.api.keys import create_key

    with Store(path) as store:
        seed_shop(store)
        sid = approved_strategy(store, all_customers_plan())
        _, key = create_key(store, "tests", "decide,events,read", rate_per_s=rate_per_s)
    return sid, key
