"""Deterministic features of a piece of marketing copy.

Both the sample-data generator (whose response model reacts to these features)
and the conversion predictor read copy through ``extract_copy_features``, so a
line of copy means the same thing to the simulated customers and to the model
that learns from them. Everything here is plain regular expressions: fast,
repeatable and explainable ("the text mentions 20% off").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from core.channels import CHANNEL_LIMITS
from core.errors import ValidationError
from core.migrations import CHANNELS

# The shop's categories and the words that count as mentioning each one.
CATEGORY_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Electronics": ("electronics", "headphones", "earbuds", "speaker", "charger", "tech", "gadget",
                    "smartwatch", "laptop", "tablet", "camera"),
    "Home & Kitchen": ("home", "kitchen", "cookware", "coffee", "mug", "pan", "bedding", "candle",
                       "knife", "blender", "towel"),
    "Beauty": ("beauty", "skincare", "serum", "moisturiser", "moisturizer", "makeup", "lipstick",
               "fragrance", "perfume", "shampoo"),
    "Apparel": ("apparel", "fashion", "jacket", "sneakers", "dress", "jeans", "hoodie", "shirt",
                "tee", "outfit", "wardrobe", "shoes"),
    "Sports & Outdoors": ("sports", "outdoor", "outdoors", "yoga", "running", "hiking", "fitness",
                          "camping", "bike", "workout", "gym"),
    "Toys & Games": ("toys", "toy", "games", "puzzle", "lego", "board game", "kids", "playtime"),
    "Books": ("books", "book", "novel", "reading", "paperback", "bestseller", "cookbook"),
    "Pet Supplies": ("pet", "pets", "dog", "cat", "puppy", "kitten", "leash", "treats", "litter"),
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_KEYWORDS)

# Numeric features, in the order models and reports use them.
FEATURE_NAMES: tuple[str, ...] = (
    "discount_pct",
    "amount_off",
    "free_shipping",
    "gift",
    "urgency",
    "question",
    "personalization",
    "cta",
    "emoji",
    "has_number",
    "exclamation",
    "has_promo_code",
    "length",
    "length_ratio",
    "word_count",
    "mentions_category",
)

_PCT = re.compile(
    r"(?:\b(?:save|take|get|extra|up\s+to|enjoy)\s+(\d{1,2}(?:\.\d+)?)\s?%)"
    r"|(?:\b(\d{1,2}(?:\.\d+)?)\s?%\s*(?:off|discount|savings|sale|less)\b)",
    re.IGNORECASE,
)
_AMOUNT = re.compile(
    r"(?:[$€£]\s?(\d{1,4}(?:[.,]\d{2})?)\s*(?:off|discount|back|savings)\b)"
    r"|(?:\b(?:save|take|get)\s+(?:an?\s+extra\s+)?[$€£]\s?(\d{1,4}(?:[.,]\d{2})?))",
    re.IGNORECASE,
)
_FREE_SHIPPING = re.compile(r"\bfree\s+(?:shipping|delivery|returns?\s+and\s+shipping)\b|\bships?\s+free\b",
                            re.IGNORECASE)
_GIFT = re.compile(r"\bfree\s+gift\b|\bgift\s+with\s+(?:purchase|every\s+order)\b|\bbonus\s+gift\b"
                   r"|\bfree\s+sample", re.IGNORECASE)
_URGENCY = re.compile(
    r"\btoday\s+only\b|\bends\s+(?:tonight|today|soon|at\s+midnight|sunday|tomorrow)\b|\blast\s+chance\b"
    r"|\bhurry\b|\b(?:24|48|72)\s*(?:hours?|hrs?|h)\b|\bfinal\s+hours?\b|\bwhile\s+(?:stocks?|supplies)\s+last\b"
    r"|\blimited\s+time\b|\bdon'?t\s+miss\b|\bonly\s+\d+\s+left\b|\bending\s+soon\b|\blast\s+day\b"
    r"|\bnow\s+or\s+never\b|\bmidnight\b|\bflash\s+sale\b",
    re.IGNORECASE,
)
_PERSONAL = re.compile(r"\{\{?\s*(?:first_?name|name)\s*\}?\}", re.IGNORECASE)
_CTA = re.compile(
    r"\b(?:shop\s+(?:now|the\s+\w+|today)|buy\s+now|order\s+now|grab\s+(?:yours|it|one|them|a|the)"
    r"|get\s+(?:yours|it\s+now|started)|discover|explore|claim\s+(?:yours|it|your)|add\s+to\s+(?:cart|bag)"
    r"|treat\s+yourself|see\s+(?:more|the\s+collection|what'?s\s+new)|tap\s+to|click\s+to|unlock|browse"
    r"|check\s+(?:it\s+)?out|find\s+yours|try\s+it)\b",
    re.IGNORECASE,
)
_EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B06\u2194-\u21AA\u231A-\u23FF]")
_CODE = re.compile(r"\b(?:code|use|promo|coupon)\s*:?\s+([A-Z][A-Z0-9]{3,14})\b")
_WORD = re.compile(r"[A-Za-z0-9']+")


def _number(raw: str) -> float:
    return float(raw.replace(",", "."))


def _categories(lower: str) -> list[str]:
    found = []
    for category, words in CATEGORY_KEYWORDS.items():
        if any(re.search(rf"\b{re.escape(w)}\b", lower) for w in words):
            found.append(category)
    return found


def extract_copy_features(text: str, channel: str) -> dict:
    """Features of one piece of copy for one channel.

    Parameters
    ----------
    text:
        The copy as it would be sent, personalization tokens such as
        ``{first_name}`` included.
    channel:
        One of ``core.migrations.CHANNELS``; sets the length limit.

    Returns
    -------
    dict
        Every name in ``FEATURE_NAMES`` (floats and 0/1 ints), plus
        ``promo_code`` (str or None), ``categories`` (list of category names
        mentioned) and ``category`` (the first of them, or None).
    """
    if channel not in CHANNEL_LIMITS:
        raise ValidationError(
            f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}"
        )
    text = text or ""
    lower = text.lower()
    pcts = [_number(a or b) for a, b in _PCT.findall(text)]
    amounts = [_number(a or b) for a, b in _AMOUNT.findall(text)]
    code = _CODE.search(text)
    cats = _categories(lower)
    length = len(text)
    return {
        "discount_pct": max(pcts) if pcts else 0.0,
        "amount_off": max(amounts) if amounts else 0.0,
        "free_shipping": int(bool(_FREE_SHIPPING.search(text))),
        "gift": int(bool(_GIFT.search(text))),
        "urgency": int(bool(_URGENCY.search(text))),
        "question": int("?" in text),
        "personalization": int(bool(_PERSONAL.search(text))),
        "cta": int(bool(_CTA.search(text))),
        "emoji": int(bool(_EMOJI.search(text))),
        "has_number": int(any(ch.isdigit() for ch in text)),
        "exclamation": int("!" in text),
        "has_promo_code": int(code is not None),
        "length": float(length),
        "length_ratio": length / CHANNEL_LIMITS[channel],
        "word_count": float(len(_WORD.findall(text))),
        "mentions_category": int(bool(cats)),
        "promo_code": code.group(1) if code else None,
        "categories": cats,
        "category": cats[0] if cats else None,
    }


def copy_feature_frame(texts: Iterable[str], channels: Iterable[str] | str) -> pd.DataFrame:
    """Features of many texts as a frame with the ``FEATURE_NAMES`` columns plus ``category``.

    ``channels`` is one channel for all texts or one per text.
    """
    texts = list(texts)
    if isinstance(channels, str):
        channels = [channels] * len(texts)
    else:
        channels = list(channels)
    if len(channels) != len(texts):
        raise ValidationError(f"got {len(texts)} texts but {len(channels)} channels")
    rows = [extract_copy_features(t, c) for t, c in zip(texts, channels)]
    frame = pd.DataFrame(rows, columns=[*FEATURE_NAMES, "promo_code", "category"])
    for name in FEATURE_NAMES:
        frame[name] = frame[name].astype(float)
    return frame
