"""Built-in segments, as data: a mapping of ids to names, descriptions and rules.

Every built-in is an ordinary rule set over the features in
``core.segments.features``, so the page can open one and save an edited copy.
The RFM groups split buyers on a grid of the recency score (``r_score``) and
the frequency-monetary score (``fm_score``), both 1-4; the grid covers every
buyer exactly once. Category enthusiasts are generated per product category
found in the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from core.store import Store


@dataclass(frozen=True)
class BuiltinSpec:
    segment_id: str
    name: str
    description: str
    rules: dict


def _all(*conditions: tuple) -> dict:
    return {
        "combinator": "and",
        "rules": [{"feature": f, "operator": op, "value": v} for f, op, v in conditions],
    }


# RFM grid (rows r_score, columns fm_score):   fm=1    fm=2       fm=3-4
#   r=4                                        new     promising  champions
#   r=3                                        new     promising  loyal
#   r=2                                        hibernating         at risk
#   r=1                                        lost                at risk
RFM_SPECS = (
    BuiltinSpec("rfm_champions", "Champions", "Bought very recently, often, and spend the most.",
                _all(("r_score", ">=", 4), ("fm_score", ">=", 3))),
    BuiltinSpec("rfm_loyal", "Loyal customers", "Buy regularly and spend well; a little less recent than champions.",
                _all(("r_score", "==", 3), ("fm_score", ">=", 3))),
    BuiltinSpec("rfm_promising", "Promising", "Recent buyers with moderate frequency and spend.",
                _all(("r_score", ">=", 3), ("fm_score", "==", 2))),
    BuiltinSpec("rfm_new", "New customers", "Recent buyers with few, small orders so far.",
                _all(("r_score", ">=", 3), ("fm_score", "==", 1))),
    BuiltinSpec("rfm_at_risk", "At risk", "Used to buy often and spend well, but not recently.",
                _all(("r_score", "<=", 2), ("fm_score", ">=", 3))),
    BuiltinSpec("rfm_hibernating", "Hibernating", "Low spend and frequency, last order a while ago.",
                _all(("r_score", "==", 2), ("fm_score", "<=", 2))),
    BuiltinSpec("rfm_lost", "Lost", "Lowest recency, frequency and spend.",
                _all(("r_score", "==", 1), ("fm_score", "<=", 2))),
)

BEHAVIOUR_SPECS = (
    BuiltinSpec("browsers_never_bought", "Browsers who never bought",
                "Viewed products in the last 30 days but have never ordered.",
                _all(("orders_total", "==", 0), ("views_30d", ">=", 1))),
    BuiltinSpec("cart_abandoners", "Cart abandoners",
                "Added to cart in the last 7 days and have not ordered since.",
                _all(("cart_abandoner", "==", True))),
    BuiltinSpec("discount_seekers", "Discount seekers",
                "At least two orders, half or more of them bought on a discount campaign.",
                _all(("discount_sensitivity", ">=", 0.5), ("orders_total", ">=", 2))),
    BuiltinSpec("lapsed_high_spenders", "Lapsed high spenders",
                "Top-quartile lifetime spend, no order in the last 90 days.",
                _all(("m_score", ">=", 4), ("recency_days", ">", 90))),
    BuiltinSpec("reviewers", "Reviewers", "Have written at least one review.",
                _all(("review_count", ">=", 1))),
)

# Share of a user's recent activity in one category that makes them an enthusiast.
ENTHUSIAST_SHARE = 0.4
CATEGORY_PREFIX = "category_"

STATIC_BUILTINS = MappingProxyType({s.segment_id: s for s in RFM_SPECS + BEHAVIOUR_SPECS})
RFM_GROUP_IDS = tuple(s.segment_id for s in RFM_SPECS)


def category_slug(category: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", category.lower()).strip("_") or "other"


def category_spec(category: str) -> BuiltinSpec:
    return BuiltinSpec(
        CATEGORY_PREFIX + category_slug(category),
        f"{category} enthusiasts",
        f"At least {ENTHUSIAST_SHARE:.0%} of their views, clicks, carts and orders in the last 180 days "
        f"are in {category}.",
        _all(("favourite_category", "==", category), ("favourite_category_share", ">=", ENTHUSIAST_SHARE)),
    )


def categories(store: Store) -> list[str]:
    rows = store.rows("SELECT DISTINCT category FROM products WHERE category IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows]


def builtin_specs(store: Store) -> list[BuiltinSpec]:
    """Every built-in: the static ones, then one enthusiast segment per category in the data."""
    specs = list(STATIC_BUILTINS.values())
    seen = set(STATIC_BUILTINS)
    for cat in categories(store):
        spec = category_spec(cat)
        if spec.segment_id not in seen:  # two categories slugging alike keep the first
            seen.add(spec.segment_id)
            specs.append(spec)
    return specs
