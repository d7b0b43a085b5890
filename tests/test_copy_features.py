"""Copy features: each regex feature on small hand-checkable texts."""

from __future__ import annotations

import pytest

from core.copy_features import (
    CHANNEL_LIMITS,
    FEATURE_NAMES,
    copy_feature_frame,
    extract_copy_features,
)
from core.errors import ValidationError


def f(text: str, channel: str = "push") -> dict:
    return extract_copy_features(text, channel)


@pytest.mark.parametrize(
    ("text", "pct"),
    [
        ("20% off all headphones", 20.0),
        ("Save 15% on your next order", 15.0),
        ("Take 30 % off today", 30.0),
        ("Up to 40% discount on books", 40.0),
        ("100% cotton tees, new in", 0.0),
        ("Hello there", 0.0),
        ("10% off, or 25% off over $50", 25.0),
    ],
)
def test_discount_pct(text, pct):
    assert f(text)["discount_pct"] == pct


def test_amount_off():
    assert f("$10 off your first order")["amount_off"] == 10.0
    assert f("€15 off the coffee grinder")["amount_off"] == 15.0
    assert f("Save £5 on treats")["amount_off"] == 5.0
    assert f("Only $49 today")["amount_off"] == 0.0


def test_flags():
    feats = f("{first_name}, last chance: free shipping + free gift! Shop now 🛍️ Use code SAVE20?")
    assert feats["personalization"] == 1
    assert feats["urgency"] == 1
    assert feats["free_shipping"] == 1
    assert feats["gift"] == 1
    assert feats["exclamation"] == 1
    assert feats["cta"] == 1
    assert feats["emoji"] == 1
    assert feats["question"] == 1
    assert feats["has_number"] == 1
    assert feats["promo_code"] == "SAVE20"
    assert feats["has_promo_code"] == 1

    plain = f("New arrivals in the garden")
    for name in ("personalization", "urgency", "free_shipping", "gift", "exclamation", "cta",
                 "emoji", "question", "has_number", "has_promo_code"):
        assert plain[name] == 0, name
    assert plain["promo_code"] is None


@pytest.mark.parametrize(
    "text", ["Ends tonight", "48 hours only", "Hurry, sale ends soon", "Only 3 left in stock", "Today only"]
)
def test_urgency_phrases(text):
    assert f(text)["urgency"] == 1


def test_personalization_needs_a_token():
    assert f("Your picks are back")["personalization"] == 0
    assert f("Hi {{ first_name }}, new picks")["personalization"] == 1
    assert f("{name}, new picks")["personalization"] == 1


def test_length_and_ratio_per_channel():
    text = "x" * 30
    for channel, limit in CHANNEL_LIMITS.items():
        feats = extract_copy_features(text, channel)
        assert feats["length"] == 30
        assert feats["length_ratio"] == pytest.approx(30 / limit)


def test_categories():
    feats = f("New running shoes and yoga mats")
    assert "Sports & Outdoors" in feats["categories"]
    assert "Apparel" in feats["categories"]
    assert feats["mentions_category"] == 1
    assert f("Treats your dog will love")["category"] == "Pet Supplies"
    assert f("Big news")["category"] is None


def test_all_feature_names_present_and_numeric():
    feats = f("Anything at all")
    for name in FEATURE_NAMES:
        assert isinstance(feats[name], (int, float)), name


def test_unknown_channel_is_refused():
    with pytest.raises(ValidationError, match="unknown channel"):
        extract_copy_features("hi", "fax")


def test_frame_matches_single_calls():
    texts = ["20% off kitchen", "Hurry {first_name}!"]
    frame = copy_feature_frame(texts, ["sms", "push"])
    assert list(frame.columns[: len(FEATURE_NAMES)]) == list(FEATURE_NAMES)
    assert frame.loc[0, "discount_pct"] == 20.0
    assert frame.loc[1, "personalization"] == 1.0
    assert frame.loc[0, "length_ratio"] == pytest.approx(len(texts[0]) / 160)
    with pytest.raises(ValidationError):
        copy_feature_frame(texts, ["sms"])

