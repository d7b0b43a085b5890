"""Helpers for the rule editor on the Segments page (no Streamlit here).

The page edits a flat list of conditions joined by one combinator; nested
groups from saved segments are kept as they are and shown read-only. Each draft
condition carries a ``uid`` so widget keys stay stable when rows are removed.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from core.segments.catalog import Segment
from core.segments.rules import BOOLEAN, CATEGORY, FEATURES, OPERATORS, Condition, RuleGroup, parse_rules
from core.store import Store, quote_ident

NEW_CONDITION = {"feature": "recency_days", "operator": "<=", "value": 30}
MAX_CHOICES = 200


def new_uid() -> str:
    return uuid.uuid4().hex[:8]


def draft_from_rules(group: RuleGroup) -> tuple[str, list[dict]]:
    """Combinator and editable rows (``uid``, ``feature``, ``operator``, ``value`` or ``group``)."""
    rows = []
    for item in group.items:
        if isinstance(item, RuleGroup):
            rows.append({"uid": new_uid(), "group": item})
        else:
            value = list(item.value) if isinstance(item.value, tuple) else item.value
            rows.append({"uid": new_uid(), "feature": item.feature, "operator": item.operator, "value": value})
    return group.combinator, rows


def rules_from_draft(combinator: str, rows: list[dict]) -> RuleGroup:
    """Validated rules from the editor rows (raises ``ValidationError`` naming the row)."""
    items = [
        row["group"] if "group" in row else {k: row[k] for k in ("feature", "operator", "value")} for row in rows
    ]
    return parse_rules({"combinator": combinator, "rules": items})


def operators_for(feature: str) -> list[str]:
    kind = FEATURES[feature].kind
    return [op for op, kinds in OPERATORS.items() if kind in kinds]


def default_value(feature: str, operator: str, choices: list[str] | None = None):
    """A sensible starting value when the feature or operator changes."""
    kind = FEATURES[feature].kind
    if operator in ("is empty", "is not empty"):
        return None
    if kind == BOOLEAN:
        return True
    if kind == CATEGORY:
        first = (choices or [""])[0]
        return [first] if operator in ("in", "not in") else first
    return [0.0, 30.0] if operator == "between" else 1.0


def feature_choices(store: Store, feature: str, as_of: datetime) -> list[str]:
    """Values seen for a categorical feature as of ``as_of`` (most common first)."""
    if FEATURES.get(feature) is None or FEATURES[feature].kind != CATEGORY:
        return []
    col = quote_ident(feature)  # checked against FEATURES above
    rows = store.rows(
        f"SELECT {col} FROM user_features WHERE as_of = ? AND {col} IS NOT NULL "
        f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT ?",
        [as_of, MAX_CHOICES],
    )
    return [r[0] for r in rows]


def describe(group: RuleGroup) -> str:
    """Readable one-line form, e.g. ``recency_days <= 30 AND device == 'mobile'``."""
    parts = []
    for item in group.items:
        if isinstance(item, RuleGroup):
            parts.append(f"({describe(item)})")
        else:
            value = "" if item.value is None else f" {item.value!r}"
            parts.append(f"{FEATURES[item.feature].label} {item.operator}{value}")
    return f" {group.combinator.upper()} ".join(parts) or "everyone"


def draft_segment(name: str, group: RuleGroup) -> Segment:
    """An unsaved segment, for profiling or exporting what is in the editor."""
    return Segment("draft", 0, name or "Draft segment", "", group, False)


__all__ = ["Condition", "NEW_CONDITION", "default_value", "describe", "draft_from_rules", "draft_segment",
           "feature_choices", "new_uid", "operators_for", "rules_from_draft"]
