"""The working set: copy variants a marketer keeps for prediction and strategy.

Working-set variants are rows of ``variants`` with ``in_working_set = TRUE``
and origin ``generated`` or ``manual``. Each carries the brief, the sampling
settings, the model name, the seed and the guardrail report (with any override
reason), so the Predict and Strategy pages can use them and nothing is lost on
reload.
"""

from __future__ import annotations

import json
import uuid

import pandas as pd

from core.channels import check_channel
from core.errors import NotFoundError, ValidationError
from core.generation.brief import Brief
from core.generation.guardrails import GuardrailReport, check_copy
from core.generation.sense import CopyContext
from core.generation.settings import GenerationSettings
from core.store import Store

ORIGINS = ("generated", "manual")


def list_working_set(store: Store) -> pd.DataFrame:
    """Working-set variants, oldest first."""
    return store.df(
        """SELECT variant_id, channel, copy_text, offer_type, offer_value, promo_code, product_id, category,
                  origin, model_name, seed, brief_json, settings_json, guardrails_json, override_reason, created_at
           FROM variants WHERE in_working_set ORDER BY created_at, variant_id"""
    )


def add_to_working_set(
    store: Store,
    text: str,
    brief: Brief,
    *,
    settings: GenerationSettings | None = None,
    model_name: str | None = None,
    seed: int | None = None,
    guardrail_report: GuardrailReport | None = None,
    origin: str = "generated",
    override_reason: str | None = None,
    context: CopyContext | None = None,
) -> str:
    """Save one variant into the working set and return its new ``variant_id``.

    The guardrails are re-run on ``text`` when no report is given; a failing
    text needs an ``override_reason`` (kept with the row).
    """
    text = " ".join(str(text or "").split())
    if not text:
        raise ValidationError("a variant needs some text")
    if origin not in ORIGINS:
        raise ValidationError(f"origin must be one of {', '.join(ORIGINS)}")
    check_channel(brief.channel)
    report = guardrail_report or check_copy(text, brief, context=context)
    if override_reason:
        report = report.override(override_reason)
    if not report.passed:
        reasons = "; ".join(f"{c.label}: {c.message}" for c in report.failures)
        raise ValidationError(f"this variant fails its checks ({reasons}); fix it or give an override reason")
    variant_id = "ws-" + uuid.uuid4().hex[:12]
    store.execute(
        """INSERT INTO variants (variant_id, channel, copy_text, offer_type, offer_value, promo_code, product_id,
                                 category, origin, in_working_set, brief_json, settings_json, model_name, seed,
                                 guardrails_json, override_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE, ?, ?, ?, ?, ?, ?)""",
        [variant_id, brief.channel, text, brief.offer_type, brief.offer_value, brief.promo_code, brief.product_id,
         brief.category, origin, json.dumps(brief.to_dict()), json.dumps(settings.to_dict()) if settings else None,
         model_name, seed, json.dumps(report.to_dict()), report.override_reason],
    )
    return variant_id


def _brief_of(store: Store, variant_id: str) -> Brief:
    raw = store.scalar("SELECT brief_json FROM variants WHERE variant_id = ? AND in_working_set", [variant_id])
    if raw is None:
        raise NotFoundError(f"variant {variant_id} is not in the working set")
    return Brief.from_dict(json.loads(raw))


def update_variant_text(store: Store, variant_id: str, text: str, override_reason: str | None = None,
                        context: CopyContext | None = None) -> GuardrailReport:
    """Edit a working-set variant; its guardrails are re-run on the new text and saved.

    ``context`` (the shop's name, the catalog's words) lets the sense checks accept them as names.
    """
    brief = _brief_of(store, variant_id)
    text = " ".join(str(text or "").split())
    report = check_copy(text, brief, context=context)
    if override_reason:
        report = report.override(override_reason)
    if not text or not report.passed:
        reasons = "; ".join(f"{c.label}: {c.message}" for c in report.failures) or "empty text"
        raise ValidationError(f"the edited text fails its checks ({reasons}); fix it or give an override reason")
    store.execute(
        "UPDATE variants SET copy_text = ?, guardrails_json = ?, override_reason = ? WHERE variant_id = ?",
        [text, json.dumps(report.to_dict()), report.override_reason, variant_id],
    )
    return report


def remove_from_working_set(store: Store, variant_id: str) -> None:
    """Take a variant out of the working set (the row stays, for traceability of past predictions)."""
    if store.scalar("SELECT count(*) FROM variants WHERE variant_id = ? AND in_working_set", [variant_id]) == 0:
        raise NotFoundError(f"variant {variant_id} is not in the working set")
    store.execute("UPDATE variants SET in_working_set = FALSE WHERE variant_id = ?", [variant_id])
