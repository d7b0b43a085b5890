"""The working set in DuckDB: add, list, edit (re-checked), override with a kept reason, remove."""

from __future__ import annotations

import json

import pytest

from core.errors import NotFoundError, ValidationError
from core.generation.brief import Brief
from core.generation.settings import GenerationSettings
from core.generation.working_set import (
    add_to_working_set,
    list_working_set,
    remove_from_working_set,
    update_variant_text,
)

BRIEF = Brief(product="Trail Running Shoes", channel="push", offer_type="percent", offer_value=20,
              promo_code="RUN20", product_id="p1", category="Sports & Outdoors")


def test_add_list_edit_remove(store):
    vid = add_to_working_set(store, "Lace up: 20% off with code RUN20", BRIEF, settings=GenerationSettings(seed=5),
                             model_name="SmolLM2-135M-Instruct", seed=5)
    ws = list_working_set(store)
    row = ws.iloc[0]
    assert len(ws) == 1 and row["variant_id"] == vid and row["origin"] == "generated"
    assert (row["offer_value"], row["promo_code"], row["product_id"]) == (20.0, "RUN20", "p1")
    assert Brief.from_dict(json.loads(row["brief_json"])) == BRIEF
    assert json.loads(row["settings_json"])["seed"] == 5 and json.loads(row["guardrails_json"])["passed"]

    report = update_variant_text(store, vid, "Your trail awaits: 20% off, code RUN20")
    assert report.clean and list_working_set(store)["copy_text"].iloc[0] == "Your trail awaits: 20% off, code RUN20"
    with pytest.raises(ValidationError, match="says 30%"):
        update_variant_text(store, vid, "30% off today")
    update_variant_text(store, vid, "30% off today", override_reason="legal approved the bigger offer")
    row = list_working_set(store).iloc[0]
    assert row["override_reason"] == "legal approved the bigger offer"

    remove_from_working_set(store, vid)
    assert list_working_set(store).empty
    assert store.scalar("SELECT count(*) FROM variants WHERE variant_id = ?", [vid]) == 1  # kept for history
    with pytest.raises(NotFoundError):
        remove_from_working_set(store, vid)


def test_failing_copy_needs_a_reason(store):
    with pytest.raises(ValidationError, match="override reason"):
        add_to_working_set(store, "Use SAVE50 today", BRIEF, origin="manual")
    with pytest.raises(ValidationError):
        add_to_working_set(store, "   ", BRIEF)
    vid = add_to_working_set(store, "Use SAVE50 today", BRIEF, origin="manual", override_reason="partner code, approved")
    assert list_working_set(store).set_index("variant_id").loc[vid, "origin"] == "manual"


def test_edits_are_checked_with_the_shop_and_catalog_context(store):
    from core.generation.sense import CopyContext

    brief = Brief(product="Wireless Earbuds", channel="sms", offer_type="amount", offer_value=15, promo_code="EAR15")
    text = "Larkmoor: Kestrel sound! $15 off Wireless Earbuds with code EAR15. Shop now. Reply STOP to opt out"
    vid = add_to_working_set(store, text, brief, context=CopyContext(shop_name="Larkmoor", catalog_words=frozenset({"Kestrel"})))
    with pytest.raises(ValidationError, match="Spelling|Known"):
        update_variant_text(store, vid, text + " ")  # without the context the shop's name is an unknown word
    report = update_variant_text(store, vid, text, context=CopyContext(shop_name="Larkmoor",
                                                                       catalog_words=frozenset({"Kestrel"})))
    assert report.clean
