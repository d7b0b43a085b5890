"""Generic column mapping: CopyLift's target fields, suggestions, and saved mappings.

A mapping says which source column fills which CopyLift field of one target
table, e.g. ``{"target": "events", "columns": {"user_id": "Customer", "ts": "When"},
"defaults": {"event_type": "purchase"}}``. Suggestions come from header names
(synonyms) and, for columns whose names say nothing, from value patterns.
Mappings are saved by name in ``column_mappings``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.errors import NotFoundError, ValidationError
from core.store import Store

# target -> field -> header synonyms (lower case, compared after stripping spaces/underscores/dots)
TARGET_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "events": {
        "event_id": ("event_id", "id", "event"),
        "user_id": ("user_id", "customer_id", "customer", "user", "client_id", "member_id", "email"),
        "event_type": ("event_type", "type", "event_name", "action"),
        "ts": ("ts", "timestamp", "date", "datetime", "time", "event_time", "order_date", "created_at"),
        "product_id": ("product_id", "sku", "item_id", "stockcode", "asin", "product"),
        "quantity": ("quantity", "qty", "units"),
        "price": ("price", "unit_price", "amount", "value", "sale_price"),
        "rating": ("rating", "stars", "score"),
        "review_text": ("review_text", "review", "comment", "text"),
        "order_id": ("order_id", "order", "invoice", "invoiceno", "order_number"),
        "campaign_id": ("campaign_id", "campaign"),
    },
    "users": {
        "user_id": ("user_id", "customer_id", "customer", "id", "email"),
        "signup_date": ("signup_date", "created_at", "registered", "signup", "joined"),
        "region": ("region", "country", "state", "province"),
        "device": ("device", "platform"),
        "age_band": ("age_band", "age_group", "age"),
        "loyalty_tier": ("loyalty_tier", "tier", "loyalty"),
        "first_name": ("first_name", "firstname", "given_name"),
        "email": ("email", "email_address"),
        "accepts_marketing": ("accepts_marketing", "marketing_opt_in", "opt_in", "subscribed"),
    },
    "products": {
        "product_id": ("product_id", "sku", "id", "item_id", "asin"),
        "title": ("title", "name", "product_name", "description"),
        "category": ("category", "product_type", "department"),
        "price": ("price", "unit_price"),
        "description": ("description", "body"),
    },
    "exposures": {
        "user_id": ("user_id", "customer_id", "customer", "user", "recipient_id", "member_id"),
        "variant_id": ("variant_id", "variant", "arm", "treatment", "group", "version"),
        "copy_text": ("copy_text", "copy", "subject", "subject_line", "message", "headline", "text", "body"),
        "channel": ("channel", "medium"),
        "campaign_id": ("campaign_id", "campaign"),
        "sent_at": ("sent_at", "sent", "send_time", "send_date", "date", "timestamp"),
        "opened": ("opened", "open", "opens"),
        "clicked": ("clicked", "click", "clicks", "visited", "visit"),
        "converted": ("converted", "conversion", "purchased", "purchase", "conversions"),
        "revenue": ("revenue", "order_value", "sales", "amount"),
        "strategy_id": ("strategy_id", "strategy"),
    },
    "variant_results": {
        "variant_id": ("variant_id", "variant", "arm", "treatment", "version"),
        "copy_text": ("copy_text", "copy", "subject", "subject_line", "message", "headline", "text"),
        "channel": ("channel", "medium"),
        "campaign_id": ("campaign_id", "campaign"),
        "segment_name": ("segment_name", "segment", "audience"),
        "sends": ("sends", "sent", "impressions", "delivered", "recipients", "views"),
        "opens": ("opens", "opened", "unique_opens"),
        "clicks": ("clicks", "clicked", "unique_clicks"),
        "conversions": ("conversions", "converted", "orders", "purchases"),
        "revenue": ("revenue", "sales"),
        "period_start": ("period_start", "start_date", "start", "date", "sent_at"),
        "period_end": ("period_end", "end_date", "end"),
        "strategy_id": ("strategy_id", "strategy"),
    },
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("user_id", "event_type", "ts"),
    "users": ("user_id",),
    "products": ("product_id", "title"),
    # The outcome columns are checked by the stager: any measured outcome will do (clicks only, say),
    # and a file with no send date gets a stated one.
    "exposures": ("user_id",),
    "variant_results": ("sends",),
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.I)
_DATE = re.compile(r"^\d{1,4}[-/.](\d{1,2}|[A-Za-z]{3})[-/.]\d{1,4}")


def norm(name: str) -> str:
    return re.sub(r"[\s_.\-]+", "_", name.strip().lower()).strip("_")


def find_column(headers: set[str] | list[str], synonyms: tuple[str, ...]) -> str | None:
    """The first header (original spelling) that matches one of the synonyms."""
    by_norm = {norm(h): h for h in headers}
    for syn in synonyms:
        if norm(syn) in by_norm:
            return by_norm[norm(syn)]
    return None


def suggest_mapping(target: str, columns: list[str], samples: dict[str, list[str]] | None = None) -> dict[str, str]:
    """Suggest ``{field: source column}`` for ``target`` from header names, then value patterns."""
    if target not in TARGET_FIELDS:
        raise ValidationError(f"unknown target {target!r}; choose one of {', '.join(TARGET_FIELDS)}")
    out: dict[str, str] = {}
    used: set[str] = set()
    for fld, synonyms in TARGET_FIELDS[target].items():
        col = find_column([c for c in columns if c not in used], synonyms)
        if col:
            out[fld] = col
            used.add(col)
    for col in columns:
        if col in used or not samples or not samples.get(col):
            continue
        values = [v for v in samples[col] if v not in ("", None)][:50]
        if not values:
            continue
        if "ts" in TARGET_FIELDS[target] and "ts" not in out and all(_DATE.match(v) for v in values):
            out["ts"] = col
            used.add(col)
        elif "user_id" in TARGET_FIELDS[target] and "user_id" not in out and all(_EMAIL.match(v) for v in values):
            out["user_id"] = col
            used.add(col)
    return out


def validate_mapping(mapping: dict[str, Any], columns: list[str]) -> None:
    target = mapping.get("target")
    if target not in TARGET_FIELDS:
        raise ValidationError(f"mapping target must be one of {', '.join(TARGET_FIELDS)}, got {target!r}")
    cols = {c.lower() for c in columns}
    fields = mapping.get("columns") or {}
    unknown = [f for f in fields if f not in TARGET_FIELDS[target]]
    if unknown:
        raise ValidationError(f"{', '.join(unknown)} are not {target} fields")
    missing_cols = [c for c in fields.values() if c and c.lower() not in cols]
    if missing_cols:
        raise ValidationError(f"the file has no column {', '.join(repr(c) for c in missing_cols)}; fix the mapping")
    defaults = mapping.get("defaults") or {}
    missing = [f for f in REQUIRED[target] if not fields.get(f) and f not in defaults]
    if target == "variant_results" and not (fields.get("variant_id") or fields.get("copy_text")):
        missing.append("variant_id or copy_text")
    if missing:
        raise ValidationError(f"map a column to {', '.join(missing)} (required for {target})")


def save_mapping(store: Store, name: str, mapping: dict[str, Any]) -> None:
    name = name.strip()
    if not name:
        raise ValidationError("give the mapping a name")
    if mapping.get("target") not in TARGET_FIELDS:
        raise ValidationError("a mapping needs a target table")
    store.execute(
        "INSERT OR REPLACE INTO column_mappings (name, target, mapping_json) VALUES (?, ?, ?)",
        [name, mapping["target"], json.dumps(mapping)],
    )


def load_mapping(store: Store, name: str) -> dict[str, Any]:
    raw = store.scalar("SELECT mapping_json FROM column_mappings WHERE name = ?", [name])
    if raw is None:
        names = ", ".join(list_mappings(store)) or "none saved yet"
        raise NotFoundError(f"no saved mapping named {name!r} ({names})")
    return json.loads(raw)


def list_mappings(store: Store) -> list[str]:
    return [r[0] for r in store.rows("SELECT name FROM column_mappings ORDER BY name")]
