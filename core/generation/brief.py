"""The marketer's brief: what to write about, which offer, for which channel.

A ``Brief`` is a frozen value object that validates itself on creation, so
every later step (prompt, guardrails, working set) can trust its fields.
``Brief.from_dict`` reads the JSON the command line and the working set use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from core.channels import CHANNEL_LIMITS
from core.errors import ValidationError
from core.generation.brand import DEFAULT_VOICE, BrandVoice
from core.generation.facts import channel_limit

OFFER_TYPES = ("percent", "amount", "free_shipping", "gift", "none")
OFFER_NAMES = {
    "percent": "Percent off",
    "amount": "Amount off",
    "free_shipping": "Free shipping",
    "gift": "Free gift",
    "none": "No offer",
}
TONES = ("friendly", "urgent", "premium", "playful", "informative")
# Copy is written in English and Chinese (core.generation.facts.WRITABLE_LANGUAGES); the others stay
# readable in saved briefs, and generation says plainly that it has no layouts for them.
LANGUAGES = {"en": "English", "zh": "Chinese (简体中文)", "fr": "French", "de": "German", "es": "Spanish",
             "it": "Italian"}
CODE_RE = re.compile(r"^[A-Z0-9]{3,15}$")
# A product name is written into every variant as it is: an offer inside it would bypass the offer fields.
_OFFER_IN_NAME = re.compile(r"\d\s*%|[$€£¥￥]\s*\d|\d\s*(?:元|折)|\b(?:percent|free shipping)\b|\d+\s*off\b|满\d|立减|包邮",
                            re.I)


@dataclass(frozen=True)
class Brief:
    """One copy brief.

    ``offer_value`` is a percentage for ``percent`` and a currency amount for
    ``amount``; it must be empty for the other offer types. ``details`` is
    free text about the product; it reaches the prompt as quoted data and the
    guardrails still check everything the model writes.
    """

    product: str
    channel: str
    offer_type: str = "none"
    offer_value: float | None = None
    promo_code: str | None = None
    end_date: date | None = None
    tone: str = "friendly"
    brand_voice: BrandVoice = field(default_factory=lambda: DEFAULT_VOICE)
    language: str = "en"
    product_id: str | None = None
    category: str | None = None
    price: float | None = None
    details: str = ""
    currency: str = "$"
    min_spend: float | None = None  # an amount off above a minimum order ("$50 off orders over $300", 满300减50)

    def __post_init__(self) -> None:
        problems: list[str] = []
        product = " ".join(str(self.product or "").split())
        if not product:
            problems.append("product: pick a product or type its name")
        elif len(product) > 120:
            problems.append("product: keep the name under 120 characters")
        elif _OFFER_IN_NAME.search(product):
            problems.append("product: the name contains an offer; put the offer in the offer fields")
        object.__setattr__(self, "product", product)
        if self.channel not in CHANNEL_LIMITS:
            problems.append(f"channel: {self.channel!r} is not one of {', '.join(CHANNEL_LIMITS)}")
        if self.offer_type not in OFFER_TYPES:
            problems.append(f"offer type: {self.offer_type!r} is not one of {', '.join(OFFER_TYPES)}")
        value = self.offer_value
        if self.offer_type in ("percent", "amount"):
            if value is None:
                problems.append(f"offer value: a {OFFER_NAMES[self.offer_type].lower()} offer needs a value")
            else:
                value = float(value)
                high = 95 if self.offer_type == "percent" else 10_000
                if not 0 < value <= high:
                    problems.append(f"offer value: {value:g} must be above 0 and at most {high}")
        elif value not in (None, 0):
            problems.append(f"offer value: a {self.offer_type} offer takes no value (got {value})")
            value = None
        else:
            value = None
        object.__setattr__(self, "offer_value", value)
        minimum = self.min_spend
        if minimum not in (None, 0):
            minimum = float(minimum)
            if self.offer_type != "amount":
                problems.append("minimum spend: only an amount-off offer takes a minimum order")
            elif value is not None and not value < minimum <= 100_000:
                problems.append(f"minimum spend: {minimum:g} must be above the amount off ({value:g})")
        object.__setattr__(self, "min_spend", minimum or None)
        code = (self.promo_code or "").strip().upper() or None
        if code and not CODE_RE.match(code):
            problems.append(f"promo code: {code!r} must be 3-15 letters or digits, no spaces")
        if code and self.offer_type == "none":
            problems.append("promo code: a code needs an offer; pick an offer type")
        object.__setattr__(self, "promo_code", code)
        if isinstance(self.end_date, str):
            try:
                object.__setattr__(self, "end_date", date.fromisoformat(self.end_date))
            except ValueError:
                problems.append(f"end date: {self.end_date!r} is not a date (use YYYY-MM-DD)")
        if self.tone not in TONES:
            problems.append(f"tone: {self.tone!r} is not one of {', '.join(TONES)}")
        if self.language not in LANGUAGES:
            problems.append(f"language: {self.language!r} is not one of {', '.join(LANGUAGES)}")
        if isinstance(self.brand_voice, dict):
            object.__setattr__(self, "brand_voice", BrandVoice.from_dict(self.brand_voice))
        if self.price is not None and float(self.price) < 0:
            problems.append("price: must not be negative")
        if len(self.details or "") > 1000:
            problems.append("details: keep the product details under 1000 characters")
        object.__setattr__(self, "details", " ".join(str(self.details or "").split()))
        if problems:
            raise ValidationError("The brief is not complete: " + "; ".join(problems), problems)

    @property
    def limit(self) -> int:
        """The channel's limit in characters for this brief's language (Chinese limits are shorter)."""
        return channel_limit(self.channel, self.language)

    def offer_phrase(self) -> str:
        """The offer in plain words, e.g. '20% off' or '$10 off'."""
        v = self.offer_value
        if self.offer_type == "percent":
            return f"{v:g}% off"
        if self.offer_type == "amount" and self.min_spend:
            return f"{self.currency}{v:g} off orders over {self.currency}{self.min_spend:g}"
        if self.offer_type == "amount":
            return f"{self.currency}{v:g} off"
        return {"free_shipping": "free shipping", "gift": "a free gift with every order"}.get(self.offer_type, "")

    def to_dict(self) -> dict:
        return {
            "product": self.product, "channel": self.channel, "offer_type": self.offer_type,
            "offer_value": self.offer_value, "promo_code": self.promo_code,
            "end_date": self.end_date.isoformat() if self.end_date else None, "tone": self.tone,
            "brand_voice": self.brand_voice.to_dict(), "language": self.language,
            "product_id": self.product_id, "category": self.category, "price": self.price,
            "details": self.details, "currency": self.currency, "min_spend": self.min_spend,
        }

    @classmethod
    def from_dict(cls, raw: dict) -> Brief:
        if not isinstance(raw, dict):
            raise ValidationError("a brief must be a JSON object with at least 'product' and 'channel'")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValidationError(f"unknown brief fields: {', '.join(unknown)}")
        return cls(**raw)
