"""Guardrails on sense: what the model's words claim, not just the form of the line.

The facts of a variant are written by code (``core.generation.facts``), so these checks look at
the rest, the model's words, in English and in Chinese (segmented with ``jieba``):

- ``offer_words``: an offer the brief does not make ("free", "gift", "unlimited", "refinance",
  "repair"...; 免费, 送, 返现, 包邮...), unless the brief's own offer or product uses the word;
- ``contradiction``: a product attribute negated ("fragrance free" for a scented candle, 无香 for
  香薰蜡烛, "wired" for wireless earbuds), or a negated attribute claimed;
- ``unknown_name``: a brand or place that is neither the shop's nor in the catalog or the brief;
- ``spelling``: a word the offline dictionary (``pyspellchecker``, plus the catalog's and the
  brief's own words) does not know; in Chinese, a "word" jieba cannot find in its dictionary;
- ``repetition``: the same content word twice in the model's words, or the product named twice.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from core.generation.facts import facts_for

SENSE_CHECKS = {
    "offer_words": "No invented offers",
    "contradiction": "Agrees with the product",
    "unknown_name": "No unknown names",
    "spelling": "Spelling",
    "repetition": "No repetition",
}


@dataclass(frozen=True)
class CopyContext:
    """What the checks know beyond the brief: the shop's name, catalog words, customers' first names."""

    shop_name: str = ""
    catalog_words: frozenset[str] = field(default_factory=frozenset)
    known_names: frozenset[str] = field(default_factory=frozenset)


_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_CJK = re.compile(r"[\u3400-\u9fff]")
_STOP = frozenset(
    "a an and the of for with in on to by from at as is are be it its it's this that these those your you our we "
    "my me i so or but all every more most very just up out into over new one".split())
_OFFER_TERMS = frozenset(
    "free gift gifts bonus unlimited refinance refinancing repair repairs repaired warranty cashback rebate bogo "
    "clearance coupon coupons voucher vouchers discount discounts discounted sale sales save saving savings deal "
    "deals cheapest bargain complimentary freebie loan loans financing credit subscription trial refund refunds "
    "giveaway prize prizes".split())
_OFFER_PHRASES = re.compile(r"\b(?:buy one|half[ -]price|on us|no cost|money back|sold out|price match|"
                            r"two for one|2 for 1)\b", re.I)
_ALLOWED_BY_OFFER = {
    "percent": {"sale", "save", "saving", "savings", "deal", "deals", "discount", "discounted", "bargain"},
    "amount": {"sale", "save", "saving", "savings", "deal", "deals", "discount", "discounted", "bargain"},
    # Not "free": the fact phrase "free shipping" is removed before the check, so a "free" left in the
    # model's words promises something else ("sneak a free item from the box", blind read run 3).
    "free_shipping": {"save", "deal"},
    "gift": {"free", "gift", "gifts", "bonus"},
    "none": set(),
}
_ZH_OFFER = re.compile(r"免费|赠|送|礼|返现|红包|优惠|特价|秒杀|半价|清仓|包邮|免邮|抽奖|积分|分期|免息|打折|折扣|"
                       r"\d+(?:\.\d)?折|满\d|立减|直减|减\d|券")
_ZH_ALLOWED_BY_OFFER = {"percent": {"优惠", "打折", "折扣"}, "amount": {"优惠", "立减"},
                        "free_shipping": {"包邮", "免邮"}, "gift": {"送", "礼", "赠"}, "none": set()}
# Attribute families: a word from one family stands for all of it ("fragrance free" negates "scented").
_FAMILIES = (
    {"scent", "scented", "fragrance", "fragranced", "fragrant", "perfume", "perfumed", "aroma", "aromatic", "smell"},
    {"wireless", "cordless", "bluetooth"},
    {"waterproof", "water-resistant"},
    {"caffeine", "caffeinated"},
    {"sugar", "sugary", "sweetened"},
)
_ANTONYMS = {"wireless": {"wired", "corded", "cable", "plug-in"}, "cordless": {"corded", "wired"},
             "waterproof": {"leaky", "leaks"}, "lightweight": {"heavy", "bulky"}, "unscented": {"scented", "fragrant"},
             "decaf": {"caffeinated"}, "organic": {"synthetic"}, "vegan": {"leather"}}
_NEGATED = (re.compile(r"\b(?:no|non|not|without|zero|never|free of)[\s-]+(?:\w+[\s-]+)?([a-z][\w-]*)"),
            re.compile(r"\b([a-z]+)[\s-]free\b"), re.compile(r"\b([a-z]+)less\b"), re.compile(r"\bun([a-z]{4,})"))
_ZH_NEG = ("无", "不", "没有", "非", "免", "零", "去")
_ZH_FAMILIES = ({"香", "香薰", "香氛", "香味", "香气", "芳香", "香型"},)
_ZH_ANTONYMS = {"无线": {"有线", "插线", "带线"}, "有线": {"无线"}, "防水": {"怕水", "进水"}, "轻": {"沉重"}}
# Places, organizations and other proper nouns; person names (nr) are left out: jieba tags ordinary
# words such as 清香 as names too often.
_ZH_NAME_FLAGS = ("ns", "nt", "nz")
# Proper names the English dictionary knows as words: brands and places a model likes to name-drop.
_GAZETTEER = frozenset(
    "nike adidas puma reebok asics brooks hoka salomon patagonia columbia rei ikea apple iphone samsung sony bose "
    "beats jbl google amazon walmart target costco ebay etsy shopify starbucks disney lego canon nikon dyson "
    "philips lg xiaomi huawei tesla gucci prada chanel dior zara uniqlo loreal sephora olay nivea "
    "america american usa canada mexico brazil england britain british london paris france french italy rome "
    "milan germany berlin spain madrid europe european china chinese beijing shanghai japan tokyo korea seoul "
    "india australia sydney africa asia york california texas florida hawaii alaska chicago boston seattle "
    "vegas hollywood alps everest himalaya himalayas sahara amazonia international".split())
_COMMERCE_WORDS = frozenset(
    "earbuds earbud smartwatch skincare haircare bestseller bestsellers restock wishlist checkout unboxing "
    "everyday cozy comfy activewear athleisure sneaker sneakers moisturizer serum serums toner hoodie hoodies "
    "eco refill refillable rechargeable ergonomic breathable cushioned pour-over".split())
RARE_CHAR = 1000  # jieba dictionary frequency below which a character is rare (珑 110, 脚 6457)
_CAPS_OK = frozenset({"I", "OK", "TV", "USB", "LED", "UV", "SPF", "XL", "HD", "DIY", "STOP", "PM", "AM"})


@lru_cache(maxsize=1)
def _spell():
    # Loaded once per process and only read afterwards (the catalog's words are checked beside it).
    from spellchecker import SpellChecker

    return SpellChecker(distance=1)


@lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def english_words() -> frozenset[str]:
    """Every word of the offline English dictionary (lower case)."""
    return _english_words()


@lru_cache(maxsize=1)
def _english_words() -> frozenset[str]:
    return frozenset(_spell().word_frequency.dictionary)


def is_dictionary_word(word: str) -> bool:
    """Whether the offline English dictionary knows ``word`` (any case)."""
    return not _spell().unknown([word.lower()])


def _strip_facts(text: str, brief, ctx: CopyContext) -> str:
    """The model's words: ``text`` without the code-written fact phrases and the shop's name."""
    rest = text.replace("{first_name}", " ").replace("{product}", " ")
    phrases = sorted({*facts_for(brief).phrases(), ctx.shop_name} - {""}, key=len, reverse=True)
    for phrase in phrases:
        rest = re.sub(re.escape(phrase), " ", rest, flags=re.I)
    return rest


def _brief_words(brief, ctx: CopyContext) -> set[str]:
    words = {w.lower() for w in _WORD.findall(f"{brief.product} {brief.category or ''} {brief.details} {ctx.shop_name}")}
    return words | {w.lower() for w in ctx.catalog_words}


def _family(word: str) -> str:
    word = word.lower()
    for i, fam in enumerate(_FAMILIES):
        if word in fam or word.rstrip("s") in fam:
            return f"family{i}"
    return word[:-1] if len(word) > 4 and word.endswith("s") else word


def _negated(text: str) -> set[str]:
    return {_family(m.group(1)) for rx in _NEGATED for m in rx.finditer(text.lower())}


def _asserted(text: str) -> set[str]:
    lower = text.lower()
    for rx in _NEGATED:
        lower = rx.sub(" ", lower)
    return {_family(w) for w in _WORD.findall(lower)}


def offer_word_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> list[str]:
    rest = _strip_facts(text, brief, ctx)
    if brief.language == "zh":
        allowed = _ZH_ALLOWED_BY_OFFER[brief.offer_type]
        # The product's name may carry such a word (赠品套装); its free-text facts may not: they are
        # the marketer's notes, and a hostile one could otherwise allow any offer.
        product_text = brief.product
        found = [m.group(0) for m in _ZH_OFFER.finditer(rest) if m.group(0) not in allowed and m.group(0) not in product_text]
    else:
        named = {w.lower() for w in _WORD.findall(f"{brief.product} {brief.category or ''}")}
        allowed = _ALLOWED_BY_OFFER[brief.offer_type] | named
        found = [w for w in _WORD.findall(rest) if w.lower() in _OFFER_TERMS and w.lower() not in allowed]
        found += [m.group(0) for m in _OFFER_PHRASES.finditer(rest)]
    return [f"offers {w!r}, which the brief does not" for w in dict.fromkeys(found)]


def contradiction_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> list[str]:
    facts_text = f"{brief.product} {brief.category or ''} {brief.details}"
    rest = _strip_facts(text, brief, ctx)
    if brief.language == "zh" or _CJK.search(brief.product):
        return _zh_contradictions(rest, facts_text)
    has, lacks = _asserted(facts_text) - _negated(facts_text), _negated(facts_text)
    lower = rest.lower()
    problems = [f"says {m.group(0)!r}, but the product is {brief.product!r}"
                for rx in _NEGATED for m in rx.finditer(lower) if _family(m.group(1)) in has]
    claimed = _asserted(rest)
    problems += [f"claims {w!r}, but the product facts rule it out" for w in _WORD.findall(lower)
                 if _family(w) in lacks and _family(w) in claimed]
    product_words = {w.lower() for w in _WORD.findall(facts_text)}
    problems += [f"says {w!r}, the opposite of {p!r}" for p in product_words for w in _WORD.findall(lower)
                 if w in _ANTONYMS.get(p, ())]
    return list(dict.fromkeys(problems))


def _zh_contradictions(rest: str, facts_text: str) -> list[str]:
    jieba = _jieba()
    tokens = {t for t in jieba.lcut_for_search(facts_text) if _CJK.search(t)}
    problems = []
    for token in tokens:
        for neg in _ZH_NEG:
            if f"{neg}{token}" in rest and f"{neg}{token}" not in facts_text:
                problems.append(f"says {neg}{token}, but the product is {token}")
        problems += [f"says {w}, the opposite of {token}" for w in _ZH_ANTONYMS.get(token, ()) if w in rest]
    for fam in _ZH_FAMILIES:
        if any(w in facts_text for w in fam):
            negated_in_facts = any(f"{n}香" in facts_text for n in _ZH_NEG)
            if not negated_in_facts and any(f"{n}香" in rest for n in _ZH_NEG):
                problems.append("says the product has no scent, but it is scented")
            if negated_in_facts and any(w in rest for w in fam) and not any(f"{n}香" in rest for n in _ZH_NEG):
                problems.append("claims a scent, but the product is unscented")
    return list(dict.fromkeys(problems))


def unknown_name_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> list[str]:
    allowed = _brief_words(brief, ctx) | {w.lower() for w in _WORD.findall(" ".join(facts_for(brief).phrases()))}
    rest = _strip_facts(text, brief, ctx)
    found = []
    if _CJK.search(rest):
        import jieba.posseg as pseg

        _jieba()
        found += [p.word for p in pseg.cut(rest) if p.flag in _ZH_NAME_FLAGS and len(p.word) >= 2
                  and p.word not in f"{brief.product}{brief.details}{ctx.shop_name}"]
    for m in _WORD.finditer(rest):
        word = m.group(0).rstrip("'’")
        before = rest[: m.start()].rstrip()
        initial = not before or before[-1] in ".!?:|！？。，：【】"
        lower = word.lower()
        if lower in allowed or word in _CAPS_OK:
            continue
        if lower in _GAZETTEER or (len(word) > 1 and word.isupper()) or (word[:1].isupper() and not initial):
            found.append(word)
    return [f"names {w!r}, which is neither the shop's nor in the catalog" for w in dict.fromkeys(found)]


def spelling_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> list[str]:
    rest = _strip_facts(text, brief, ctx)
    allowed = _brief_words(brief, ctx) | _COMMERCE_WORDS
    if _CJK.search(rest):
        jieba = _jieba()
        facts_text = f"{brief.product}{brief.details}{brief.category or ''}"
        # Chinese has no spelling; what small models get wrong is garbled words with rare characters
        # (跳珑, 苹动). Words jieba does not know are fine when built from common characters (脚感).
        freq = jieba.dt.FREQ
        odd = [t for t in jieba.lcut(rest) if len(t) >= 2 and all(_CJK.match(c) for c in t) and t not in freq
               and t not in facts_text and min(freq.get(c, 0) for c in t) < RARE_CHAR]
        return [f"{t!r} is not a word (rare character)" for t in dict.fromkeys(odd)]
    words = [w.strip("'’").lower() for w in _WORD.findall(rest.replace("-", " "))]
    words = [w for w in words if len(w) >= 3 and w not in allowed]
    unknown = _spell().unknown(words)
    return [f"{w!r} is not in the dictionary" for w in dict.fromkeys(w for w in words if w in unknown)]


def repetition_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> list[str]:
    rest = _strip_facts(text, brief, ctx)
    problems = []
    if brief.product.lower() in rest.lower() or text.lower().count(brief.product.lower()) > 1:
        if len(brief.product) >= (3 if _CJK.search(brief.product) else 8):
            problems.append(f"names {brief.product!r} twice")
    if _CJK.search(rest):
        tokens = [t for t in _jieba().lcut(rest) if len(t) >= 2 and _CJK.match(t)]
    else:
        tokens = [w for w in _WORD.findall(rest.lower()) if len(w) >= 3 and w not in _STOP]
    problems += [f"repeats {w!r}" for w, n in Counter(tokens).items() if n > 1]
    return problems


def sense_problems(text: str, brief, ctx: CopyContext = CopyContext()) -> dict[str, list[str]]:
    """Every sense check's problems for ``text`` (empty lists: it passed)."""
    return {
        "offer_words": offer_word_problems(text, brief, ctx),
        "contradiction": contradiction_problems(text, brief, ctx),
        "unknown_name": unknown_name_problems(text, brief, ctx),
        "spelling": spelling_problems(text, brief, ctx),
        "repetition": repetition_problems(text, brief, ctx),
    }
