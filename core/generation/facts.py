"""The facts of a variant, written by CopyLift from the brief, never sampled.

Product name, offer, promo code, end date, the SMS opt-out line and the calls to action are
phrased here, in English and in Chinese, so that no variant can state an offer, code, price or
date that differs from the brief: the model only writes the hook (``core.generation.hooks``) and
``core.generation.layouts`` puts the two together.

Chinese offers use the phrasings shoppers know: a percentage off is a "折" (20% off = 8折),
an amount off is "立减15元", an amount off above a minimum spend is "满300减50", free shipping
is "包邮". Chinese channel limits count characters and are shorter (an SMS segment is 70).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.channels import CHANNEL_LIMITS

# Character limits for Chinese copy: one 70-character SMS segment; the others scaled to what a
# lock screen, an inbox line and a banner show of Chinese text.
ZH_LIMITS: dict[str, int] = {"email_subject": 30, "push": 50, "sms": 70, "banner": 40}
WRITABLE_LANGUAGES = ("en", "zh")  # languages that have layouts and fact phrasings
YUAN = ("¥", "￥", "元", "CNY", "RMB")

CTAS: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "friendly": ("Shop now", "Take a look", "Find yours"),
        "urgent": ("Shop now", "Grab yours today", "Don't miss it"),
        "premium": ("Discover more", "Treat yourself", "Explore now"),
        "playful": ("Take a peek", "Go on, treat yourself", "Come and see"),
        "informative": ("See the details", "Learn more", "Shop now"),
    },
    "zh": {
        "friendly": ("快来看看", "点击查看", "马上选购"),
        "urgent": ("立即抢购", "马上下单", "手慢无"),
        "premium": ("即刻探索", "点击了解", "犒劳自己"),
        "playful": ("快来围观", "戳我看看", "冲鸭"),
        "informative": ("查看详情", "了解更多", "马上选购"),
    },
}
OPT_OUT = {"en": "Reply STOP to opt out", "zh": "回T退订"}


def channel_limit(channel: str, language: str) -> int:
    """The channel's length limit in characters for copy in ``language``."""
    return ZH_LIMITS[channel] if language == "zh" else CHANNEL_LIMITS[channel]


def _num(value: float) -> str:
    return f"{value:g}"


def zh_discount(percent: float) -> str:
    """20 (% off) -> '8', 15 -> '8.5', 33 -> '6.7': what the customer pays, in tenths."""
    return _num(round((100 - percent) / 10, 1))


def _money(amount: float, currency: str, language: str) -> str:
    if language == "zh" and currency in YUAN:
        return f"{_num(amount)}元"
    return f"{currency}{_num(amount)}"


@dataclass(frozen=True)
class Facts:
    """Every code-written phrase of a brief, in its language."""

    language: str
    product: str
    offer: str  # "20% off" / "8折" ("" without an offer)
    offer_on: str  # "20% off Trail Running Shoes" / "跑鞋8折" (just the product without an offer)
    code: str  # " with code RUN20" / "结账输入RUN20"
    until: str  # " until Friday, Dec 4" / "12月4日前有效"
    ctas: tuple[str, ...]
    opt_out: str

    def phrases(self) -> tuple[str, ...]:
        """The fact phrases as they appear in a text (for checks that look at the model's words only)."""
        return tuple(p.strip() for p in (self.offer_on, self.offer, self.code, self.until, self.opt_out,
                                         self.product, *self.ctas) if p.strip())


def facts_for(brief) -> Facts:
    """The code-written phrases for ``brief`` (a ``core.generation.brief.Brief``)."""
    zh = brief.language == "zh"
    lang = "zh" if zh else "en"
    product, kind, value = brief.product, brief.offer_type, brief.offer_value
    minimum = getattr(brief, "min_spend", None)
    if kind == "percent":
        offer = f"{zh_discount(value)}折" if zh else f"{_num(value)}% off"
    elif kind == "amount" and minimum:
        offer = (f"满{_num(minimum)}减{_num(value)}" if zh else
                 f"{_money(value, brief.currency, lang)} off orders over {_money(minimum, brief.currency, lang)}")
    elif kind == "amount":
        offer = f"立减{_money(value, brief.currency, lang)}" if zh else f"{_money(value, brief.currency, lang)} off"
    elif kind == "free_shipping":
        offer = "包邮" if zh else "free shipping"
    elif kind == "gift":
        offer = "下单送好礼" if zh else "a free gift with every order"
    else:
        offer = ""
    if zh:
        offer_on = f"{product}{offer}"
    elif kind in ("percent", "amount") and not minimum:
        offer_on = f"{offer} {product}"
    elif kind == "amount":
        offer_on = f"{offer} on {product}"
    elif kind == "free_shipping":
        offer_on = f"free shipping on {product}"
    elif kind == "gift":
        offer_on = f"a free gift with {product}"
    else:
        # No offer: the line still names the product, in words a shop would use.
        offer_on = f"meet the {product}"
    code = ""
    if brief.promo_code:
        code = f"结账输入{brief.promo_code}" if zh else f" with code {brief.promo_code}"
    until = ""
    if brief.end_date:
        end = brief.end_date
        until = f"{end.month}月{end.day}日前有效" if zh else f" until {end:%A}, {end:%b} {end.day}"
    return Facts(lang, product, offer, offer_on, code, until, CTAS[lang][brief.tone], OPT_OUT[lang])


def allowed_numbers(brief) -> set[float]:
    """Numbers the code-written facts may contain (the discount in tenths, the minimum spend...)."""
    numbers: set[float] = set()
    if brief.offer_value is not None:
        numbers.add(float(brief.offer_value))
        if brief.offer_type == "percent":
            numbers.add(float(zh_discount(brief.offer_value)))
    minimum = getattr(brief, "min_spend", None)
    if minimum:
        numbers.add(float(minimum))
    if brief.end_date:
        numbers |= {float(brief.end_date.month), float(brief.end_date.day)}
    return numbers
