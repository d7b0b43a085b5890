"""Structured segment rules: validation, JSON round trip and compilation to SQL.

A rule set is a ``RuleGroup``: a combinator (``"and"``/``"or"``) over
``Condition`` objects (feature, operator, value) and nested groups. Users never
type SQL; features come from the ``FEATURES`` allow-list, operators from
``OPERATORS``, and every value is bound as a ``?`` parameter. ``compile_where``
is the only place that turns rules into SQL, and ``segment_query`` the only
place that builds the query run against ``user_features``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from core.errors import ValidationError
from core.segments.features import FEATURE_COLUMNS
from core.store import quote_ident

NUMBER, CATEGORY, BOOLEAN = "number", "category", "boolean"


@dataclass(frozen=True)
class FeatureSpec:
    """A feature a rule may test: its kind decides the operators and value type."""

    name: str
    kind: str
    label: str
    unit: str = ""


FEATURES: dict[str, FeatureSpec] = {
    spec.name: spec
    for spec in (
        FeatureSpec("recency_days", NUMBER, "Days since last purchase", "days"),
        FeatureSpec("frequency_90d", NUMBER, "Orders in last 90 days", "orders"),
        FeatureSpec("frequency_180d", NUMBER, "Orders in last 180 days", "orders"),
        FeatureSpec("monetary_180d", NUMBER, "Spend in last 180 days", "currency"),
        FeatureSpec("orders_total", NUMBER, "Orders, all time", "orders"),
        FeatureSpec("monetary_total", NUMBER, "Spend, all time", "currency"),
        FeatureSpec("views_7d", NUMBER, "Product views, last 7 days", "views"),
        FeatureSpec("views_30d", NUMBER, "Product views, last 30 days", "views"),
        FeatureSpec("clicks_7d", NUMBER, "Clicks, last 7 days", "clicks"),
        FeatureSpec("clicks_30d", NUMBER, "Clicks, last 30 days", "clicks"),
        FeatureSpec("carts_7d", NUMBER, "Add-to-carts, last 7 days", "carts"),
        FeatureSpec("carts_30d", NUMBER, "Add-to-carts, last 30 days", "carts"),
        FeatureSpec("cart_abandoner", BOOLEAN, "Abandoned a cart in last 7 days"),
        FeatureSpec("favourite_category", CATEGORY, "Favourite category"),
        FeatureSpec("favourite_category_share", NUMBER, "Share of activity in favourite category", "share 0-1"),
        FeatureSpec("avg_order_value", NUMBER, "Average order value", "currency"),
        FeatureSpec("discount_sensitivity", NUMBER, "Share of orders bought on a discount", "share 0-1"),
        FeatureSpec("review_count", NUMBER, "Reviews written", "reviews"),
        FeatureSpec("mean_rating", NUMBER, "Mean review rating", "stars 1-5"),
        FeatureSpec("tenure_days", NUMBER, "Days since signup", "days"),
        FeatureSpec("device", CATEGORY, "Device"),
        FeatureSpec("region", CATEGORY, "Region"),
        FeatureSpec("loyalty_tier", CATEGORY, "Loyalty tier"),
        FeatureSpec("age_band", CATEGORY, "Age band"),
        FeatureSpec("open_rate", NUMBER, "Campaign open rate", "share 0-1"),
        FeatureSpec("click_rate", NUMBER, "Campaign click rate", "share 0-1"),
        FeatureSpec("r_score", NUMBER, "RFM recency score", "1-4"),
        FeatureSpec("f_score", NUMBER, "RFM frequency score", "1-4"),
        FeatureSpec("m_score", NUMBER, "RFM monetary score", "1-4"),
        FeatureSpec("fm_score", NUMBER, "RFM frequency+monetary score", "1-4"),
    )
}

# Operator -> kinds it applies to.
OPERATORS: dict[str, tuple[str, ...]] = {
    "==": (NUMBER, CATEGORY, BOOLEAN),
    "!=": (NUMBER, CATEGORY, BOOLEAN),
    ">": (NUMBER,),
    ">=": (NUMBER,),
    "<": (NUMBER,),
    "<=": (NUMBER,),
    "between": (NUMBER,),
    "in": (CATEGORY,),
    "not in": (CATEGORY,),
    "is empty": (NUMBER, CATEGORY),
    "is not empty": (NUMBER, CATEGORY),
}
COMBINATORS = ("and", "or")
MAX_CONDITIONS = 50
MAX_DEPTH = 3
MAX_LIST_VALUES = 500
MAX_TEXT = 200

Value = None | bool | int | float | str | tuple


@dataclass(frozen=True)
class Condition:
    """One test on one feature, e.g. ``Condition("recency_days", ">", 90)``."""

    feature: str
    operator: str
    value: Value = None


@dataclass(frozen=True)
class RuleGroup:
    """Conditions and nested groups joined by ``and`` or ``or``."""

    combinator: str = "and"
    items: tuple[Condition | RuleGroup, ...] = ()

    def conditions(self) -> list[Condition]:
        """Every condition, nested ones included."""
        out: list[Condition] = []
        for item in self.items:
            out.extend(item.conditions() if isinstance(item, RuleGroup) else [item])
        return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(cond: Condition, where: str) -> Value:
    spec = FEATURES[cond.feature]
    op, value = cond.operator, cond.value
    label = f"{where}: {cond.feature} {op}"
    if op in ("is empty", "is not empty"):
        return None
    if op == "between":
        if not isinstance(value, (list, tuple)) or len(value) != 2 or not all(map(_is_number, value)):
            raise ValidationError(f"{label} needs two numbers [low, high], got {value!r}.")
        low, high = value
        if low > high:
            raise ValidationError(f"{label}: the low bound {low} is above the high bound {high}.")
        return (low, high)
    if op in ("in", "not in"):
        if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
            raise ValidationError(f"{label} needs a non-empty list of values, got {value!r}.")
        if len(value) > MAX_LIST_VALUES or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value):
            raise ValidationError(f"{label} needs up to {MAX_LIST_VALUES} text values.")
        return tuple(value)
    if spec.kind == NUMBER and not _is_number(value):
        raise ValidationError(f"{label} needs a number, got {value!r} ({type(value).__name__}).")
    if spec.kind == BOOLEAN and not isinstance(value, bool):
        raise ValidationError(f"{label} needs true or false, got {value!r}.")
    if spec.kind == CATEGORY and (not isinstance(value, str) or not value or len(value) > MAX_TEXT):
        raise ValidationError(f"{label} needs a text value (1-{MAX_TEXT} characters), got {value!r}.")
    return value


def _parse_condition(raw: Any, where: str) -> Condition:
    if isinstance(raw, Condition):
        feature, op, value = raw.feature, raw.operator, raw.value
    elif isinstance(raw, dict):
        unknown = set(raw) - {"feature", "operator", "value"}
        if unknown or "feature" not in raw or "operator" not in raw:
            raise ValidationError(f"{where}: a condition needs 'feature', 'operator' and 'value' keys.")
        feature, op, value = raw["feature"], raw["operator"], raw.get("value")
    else:
        raise ValidationError(f"{where}: expected a condition, got {type(raw).__name__}.")
    if feature not in FEATURES:
        raise ValidationError(
            f"{where}: unknown feature {feature!r}. Pick one of: {', '.join(FEATURES)}."
        )
    kind = FEATURES[feature].kind
    if op not in OPERATORS:
        raise ValidationError(f"{where}: unknown operator {op!r}. Use one of: {', '.join(OPERATORS)}.")
    if kind not in OPERATORS[op]:
        allowed = [o for o, kinds in OPERATORS.items() if kind in kinds]
        raise ValidationError(
            f"{where}: operator {op!r} does not apply to {feature} ({kind}); use one of: {', '.join(allowed)}."
        )
    cond = Condition(feature, op, value)
    return Condition(feature, op, _check_value(cond, where))


def _parse_group(raw: Any, where: str, depth: int) -> RuleGroup:
    if depth > MAX_DEPTH:
        raise ValidationError(f"{where}: groups nest at most {MAX_DEPTH} levels deep.")
    items: object  # a tuple, a list or whatever a dict held: checked below
    if isinstance(raw, RuleGroup):
        combinator, items = raw.combinator, raw.items
    elif isinstance(raw, dict) and ("rules" in raw or "combinator" in raw):
        combinator, items = raw.get("combinator", "and"), raw.get("rules", [])
    elif isinstance(raw, (list, tuple)):
        combinator, items = "and", raw
    else:
        raise ValidationError(f"{where}: expected a group of rules, got {type(raw).__name__}.")
    if combinator not in COMBINATORS:
        raise ValidationError(f"{where}: combinator must be 'and' or 'or', got {combinator!r}.")
    if not isinstance(items, (list, tuple)):
        raise ValidationError(f"{where}: 'rules' must be a list.")
    parsed: list[Condition | RuleGroup] = []
    for i, item in enumerate(items, start=1):
        here = f"{where} > rule {i}" if where != "rules" else f"rule {i}"
        is_group = isinstance(item, (RuleGroup, list, tuple)) or (
            isinstance(item, dict) and ("rules" in item or "combinator" in item)
        )
        if is_group:
            group = _parse_group(item, here, depth + 1)
            if not group.items:
                raise ValidationError(f"{here}: an empty group matches nothing; add a condition or remove it.")
            parsed.append(group)
        else:
            parsed.append(_parse_condition(item, here))
    return RuleGroup(combinator, tuple(parsed))


def parse_rules(raw: Any) -> RuleGroup:
    """Validate rules given as a ``RuleGroup``, a dict or a list (joined by AND).

    Raises ``ValidationError`` naming the rule at fault (``rule 2 > rule 1: ...``).
    An empty top-level group is allowed here (it means everyone); saving refuses it.
    """
    if raw is None:
        return RuleGroup()
    group = _parse_group(raw, "rules", 1)
    if len(group.conditions()) > MAX_CONDITIONS:
        raise ValidationError(f"a segment may have at most {MAX_CONDITIONS} conditions.")
    return group


def rules_to_dict(group: RuleGroup) -> dict:
    """JSON-ready form: ``{"combinator": "and", "rules": [{"feature", "operator", "value"}, ...]}``."""
    out = []
    for item in group.items:
        if isinstance(item, RuleGroup):
            out.append(rules_to_dict(item))
        else:
            value = list(item.value) if isinstance(item.value, tuple) else item.value
            out.append({"feature": item.feature, "operator": item.operator, "value": value})
    return {"combinator": group.combinator, "rules": out}


def _listed(cond: Condition) -> tuple:
    """The tuple a ``between``/``in``/``not in`` condition holds (``_check_value`` made it one)."""
    if not isinstance(cond.value, tuple):
        raise ValidationError(f"{cond.feature} {cond.operator}: expected a list of values, got {cond.value!r}.")
    return cond.value


def _compile_condition(cond: Condition, prefix: str) -> tuple[str, list]:
    col = prefix + quote_ident(cond.feature)  # feature was checked against FEATURES
    op, value = cond.operator, cond.value
    if op == "is empty":
        return f"{col} IS NULL", []
    if op == "is not empty":
        return f"{col} IS NOT NULL", []
    if op == "between":
        return f"{col} BETWEEN ? AND ?", list(_listed(cond))
    if op == "in":
        values = _listed(cond)
        return f"{col} IN ({', '.join('?' * len(values))})", list(values)
    if op == "not in":
        # "not in" keeps people whose value is unknown, as a marketer would expect.
        values = _listed(cond)
        return f"({col} IS NULL OR {col} NOT IN ({', '.join('?' * len(values))}))", list(values)
    if op == "!=":
        return f"{col} IS DISTINCT FROM ?", [value]
    return f"{col} {'=' if op == '==' else op} ?", [value]


def compile_where(rules: Any, prefix: str = "") -> tuple[str, list]:
    """Compile rules to a SQL predicate with ``?`` placeholders and its parameters.

    ``prefix`` qualifies the columns (e.g. ``"f."``); it is a constant chosen by
    the caller, never user input. An empty rule set compiles to ``TRUE``.
    """
    group = parse_rules(rules)
    if prefix and not (prefix.endswith(".") and prefix[:-1].isidentifier()):
        raise ValidationError(f"bad column prefix {prefix!r}")
    return _compile_group(group, prefix)


def _compile_group(group: RuleGroup, prefix: str) -> tuple[str, list]:
    if not group.items:
        return "TRUE", []
    parts, params = [], []
    for item in group.items:
        if isinstance(item, RuleGroup):
            sql, p = _compile_group(item, prefix)
        else:
            sql, p = _compile_condition(item, prefix)
        parts.append(f"({sql})")
        params.extend(p)
    return f" {group.combinator.upper()} ".join(parts), params


def segment_query(rules: Any, as_of: Any, columns: tuple[str, ...] | None = None) -> tuple[str, list]:
    """The one query that selects a segment from ``user_features`` for one as-of date.

    ``columns=None`` counts members; otherwise returns those feature columns,
    which must be names from ``core.segments.features.FEATURE_COLUMNS``.
    """

    where, params = compile_where(rules)
    if columns is None:
        select = "count(*) AS members"
    else:
        bad = [c for c in columns if c not in FEATURE_COLUMNS]
        if bad:
            raise ValidationError(f"unknown feature columns: {', '.join(bad)}")
        select = ", ".join(quote_ident(c) for c in columns)
    order = "" if columns is None else " ORDER BY user_id"
    return (f"SELECT {select} FROM user_features WHERE as_of = ? AND ({where}){order}", [as_of, *params])
