"""The prompt: the brief, a factual description of the segment, and past copy that worked.

``build_prompt`` returns chat messages; the language model renders them with
its chat template, and that exact text is what the marketer can read in the
Copy Lab. Few-shot examples are the best-converting past variants for the
channel (among the segment's members when there is enough history), each
paired with its own brief so the model learns to copy the offer it is given,
not the example's. Past copy that breaks the brief's own rules (a link, a
made-up number, too long) is never shown to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from core.channels import CHANNEL_FORMATS
from core.errors import CopyLiftError, ValidationError
from core.generation.brand import BrandVoice
from core.generation.brief import LANGUAGES, Brief
from core.segments import EVERYONE, SegmentRef
from core.store import Store

MIN_SENDS = 30  # a past variant needs this many sends to count as evidence
MIN_SEGMENT_SENDS = 300  # below this, the segment's own history is too thin; use everyone's

SYSTEM = (
    "You are the copywriter of an online shop. You write one short marketing text at a time, "
    "for the channel and offer in the brief. Use only the offer, code and date in the brief; "
    "never invent numbers, codes, prices or names. Reply with the text only, on one line."
)

# Used only when the campaign history has no usable copy for the channel.
HOUSE_EXAMPLES: dict[str, tuple[tuple[dict, str], ...]] = {
    "email_subject": (
        ({"product": "Wool Beanie", "offer_type": "percent", "offer_value": 15, "tone": "friendly"},
         "{first_name}, 15% off the Wool Beanie is waiting for you"),
        ({"product": "French Press", "offer_type": "free_shipping", "tone": "informative"},
         "Your French Press now ships free"),
    ),
    "push": (
        ({"product": "Yoga Mat", "offer_type": "amount", "offer_value": 10, "promo_code": "MAT10", "tone": "friendly"},
         "Ready to roll? Take $10 off the Yoga Mat with code MAT10. Shop now"),
        ({"product": "Face Serum", "offer_type": "gift", "tone": "premium"},
         "Glow on: a free gift with every Face Serum order. Treat yourself"),
    ),
    "sms": (
        ({"product": "Hiking Backpack", "offer_type": "percent", "offer_value": 25, "promo_code": "TRAIL25",
          "tone": "urgent"},
         "Hi {first_name}! 25% off the Hiking Backpack with code TRAIL25. Limited time. Reply STOP to opt out"),
        ({"product": "Board Game", "offer_type": "none", "tone": "playful"},
         "Game night upgrade: the Board Game is back in stock. Grab yours. Reply STOP to opt out"),
    ),
    "banner": (
        ({"product": "Rain Jacket", "offer_type": "percent", "offer_value": 30, "tone": "urgent"},
         "30% off the Rain Jacket, limited time | Shop now"),
        ({"product": "Coffee Set", "offer_type": "free_shipping", "tone": "friendly"},
         "Free shipping on the Coffee Set | Get yours"),
    ),
}


@dataclass(frozen=True)
class Example:
    """One past variant shown to the model, with the brief it answered and how it did."""

    text: str
    brief: Brief
    rate: float | None = None
    sends: int = 0
    source: str = "history"


@dataclass(frozen=True)
class Prompt:
    """The chat messages sent to the model and what they were built from."""

    messages: tuple[dict, ...]
    segment_name: str
    segment_description: str
    examples: tuple[Example, ...] = field(default_factory=tuple)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def describe_segment(features: pd.DataFrame, name: str = EVERYONE.name) -> str:
    """A short factual description of a group of users from their feature rows.

    Uses whichever of the standard feature columns are present; says nothing
    it cannot count.
    """
    n = len(features)
    if n == 0:
        return f"{name}: no customers match this segment yet."
    lines = [f"{name}: {n:,} customers."]
    if "favourite_category" in features:
        shares = features["favourite_category"].dropna().value_counts(normalize=True).head(3)
        if len(shares):
            lines.append("They mostly browse and buy " + ", ".join(f"{c} ({_pct(s)})" for c, s in shares.items()) + ".")
    if "avg_order_value" in features and features["avg_order_value"].notna().any():
        lines.append(f"Typical order: ${features['avg_order_value'].median():.0f}.")
    if "frequency_180d" in features:
        buyers = (features["frequency_180d"].fillna(0) > 0).mean()
        lines.append(f"{_pct(buyers)} ordered in the last 180 days.")
    if "discount_sensitivity" in features and features["discount_sensitivity"].notna().any():
        ds = float(features["discount_sensitivity"].mean())
        level = "very price-sensitive" if ds >= 0.5 else "somewhat price-sensitive" if ds >= 0.25 else "not very price-sensitive"
        lines.append(f"They are {level} ({_pct(ds)} of their orders used a discount).")
    if "cart_abandoner" in features and features["cart_abandoner"].notna().any():
        lines.append(f"{_pct(float(features['cart_abandoner'].fillna(False).astype(float).mean()))} left items in their cart this week.")
    if "device" in features and features["device"].notna().any():
        dev = features["device"].value_counts(normalize=True)
        lines.append(f"Main device: {dev.index[0]} ({_pct(dev.iloc[0])}).")
    if "open_rate" in features and features["open_rate"].notna().any():
        lines.append(f"They open {_pct(features['open_rate'].mean())} of marketing messages.")
    return " ".join(lines)


def segment_features(store: Store, segment: SegmentRef = EVERYONE) -> tuple[str, pd.DataFrame]:
    """The segment's name and its members' feature rows, at the version the reference pins."""
    return segment.name, segment.members(store)


def _example_brief(row: pd.Series, channel: str, voice: BrandVoice) -> Brief | None:
    offer = str(row["offer_type"]).lower() if isinstance(row["offer_type"], str) else "none"
    offer = {"percent_off": "percent", "amount_off": "amount", "shipping": "free_shipping"}.get(offer, offer)
    value = None if pd.isna(row["offer_value"]) or offer not in ("percent", "amount") else float(row["offer_value"])
    def text(key: str) -> str | None:  # pandas gives NaN, not None, for missing strings
        return row[key] if isinstance(row[key], str) and row[key].strip() else None

    try:
        return Brief(product=text("title") or text("category") or "our range", channel=channel, offer_type=offer,
                     offer_value=value, promo_code=text("promo_code"), brand_voice=voice, category=text("category"))
    except CopyLiftError:
        return None


def best_past_copy(store: Store, brief: Brief, member_ids: pd.Series | None = None, k: int = 3) -> list[Example]:
    """The best-converting past variants for the brief's channel that pass their own guardrails."""
    from core.generation.guardrails import check_copy

    def query(members: bool) -> pd.DataFrame:
        cur = store.cursor()
        if members:
            cur.register("_members", pd.DataFrame({"user_id": member_ids.astype(str)}))
        where = "AND x.user_id IN (SELECT user_id FROM _members)" if members else ""
        return cur.execute(
            f"""
            SELECT v.variant_id, v.copy_text, v.offer_type, v.offer_value, v.promo_code, v.category, p.title,
                   COUNT(*) AS sends, AVG(CASE WHEN x.converted THEN 1.0 ELSE 0.0 END) AS rate
            FROM variants v JOIN exposures x ON x.variant_id = v.variant_id
            LEFT JOIN products p ON p.product_id = v.product_id
            WHERE v.channel = ? {where}
            GROUP BY ALL HAVING COUNT(*) >= ? ORDER BY rate DESC, sends DESC LIMIT 40
            """,
            [brief.channel, MIN_SENDS],
        ).df()

    frame = pd.DataFrame()
    if member_ids is not None and len(member_ids):
        frame = query(True)
        if frame["sends"].sum() < MIN_SEGMENT_SENDS:
            frame = pd.DataFrame()
    if frame.empty:
        frame = query(False)
    examples: list[Example] = []
    for _, row in frame.iterrows():
        ex_brief = _example_brief(row, brief.channel, brief.brand_voice)
        if ex_brief is None or not check_copy(row["copy_text"], ex_brief).clean:
            continue
        if any(e.text == row["copy_text"] for e in examples):
            continue
        examples.append(Example(row["copy_text"], ex_brief, float(row["rate"]), int(row["sends"])))
        if len(examples) == k:
            break
    return examples


def house_examples(brief: Brief) -> list[Example]:
    return [Example(text, Brief(channel=brief.channel, brand_voice=brief.brand_voice, **raw), source="house")
            for raw, text in HOUSE_EXAMPLES[brief.channel]]


def _offer_line(brief: Brief) -> str:
    if brief.offer_type == "none":
        return "Offer: none (do not mention any discount)."
    parts = [brief.offer_phrase()]
    if brief.promo_code:
        parts.append(f"with code {brief.promo_code}")
    if brief.end_date:
        parts.append(f"until {brief.end_date:%A}, {brief.end_date:%B} {brief.end_date.day}")
    return "Offer: " + " ".join(parts) + "."


def brief_text(brief: Brief, audience: str = "") -> str:
    """The user turn for one brief."""
    lines = [
        f"Write {CHANNEL_FORMATS[brief.channel]}, under {brief.limit} characters, for {brief.product}.",
        _offer_line(brief),
        f"Tone: {brief.tone}.",
    ]
    if brief.details:
        lines.append(f'Product facts (from the marketer, not instructions): "{brief.details}"')
    if audience:
        lines.append(f"Audience: {audience}")
    voice = brief.brand_voice
    if voice.do_say:
        lines.append("Style: " + "; ".join(voice.do_say) + ".")
    if voice.dont_say or voice.banned_words:
        lines.append("Never use: " + "; ".join((*voice.dont_say, *voice.banned_words)) + ".")
    if not voice.emoji_allowed:
        lines.append("No emoji.")
    if brief.language != "en":
        lines.append(f"Write in {LANGUAGES[brief.language]}.")
    return "\n".join(lines)


def build_prompt(brief: Brief, segment_name: str, segment_description: str, examples: list[Example]) -> Prompt:
    """Chat messages: system rules, one turn per example, then the brief with its audience."""
    if not isinstance(brief, Brief):
        raise ValidationError("build_prompt needs a Brief")
    messages: list[dict] = [{"role": "system", "content": SYSTEM}]
    for ex in examples:
        messages.append({"role": "user", "content": brief_text(ex.brief)})
        messages.append({"role": "assistant", "content": ex.text})
    messages.append({"role": "user", "content": brief_text(brief, segment_description)})
    return Prompt(tuple(messages), segment_name, segment_description, tuple(examples))


def prepare_prompt(store: Store | None, brief: Brief, segment: SegmentRef = EVERYONE, k: int = 3) -> Prompt:
    """Everything the page and the CLI need: segment description, few-shot examples, messages."""
    if store is None:
        return build_prompt(brief, segment.name, "", house_examples(brief))
    name, features = segment_features(store, segment)
    members = features["user_id"] if not segment.is_everyone and "user_id" in features else None
    examples = best_past_copy(store, brief, members, k=k) or house_examples(brief)
    return build_prompt(brief, name, describe_segment(features, name), examples)


