"""Checks every piece of copy must pass before a marketer sees it as usable.

``check_copy`` returns a ``GuardrailReport`` listing each check with a plain
message: offer consistency (every percentage, price, number, promo code, day
and date must match the brief), the channel length limit, leftover chat
markup, wrapping quotes, hashtags, links, unknown placeholders, the brand
voice (banned words, don't-say phrases, emoji rule), personal data of real
customers, and (for model output) unfinished or off-task text.
``clean_model_text`` removes harmless wrapping the model adds (a "Subject:"
label, quotes around the whole line) before the checks run. A failed report
can be overridden with a reason, which is kept with the variant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher

from core.errors import ValidationError
from core.generation.brief import Brief
from core.generation.facts import allowed_numbers
from core.generation.sense import SENSE_CHECKS, CopyContext, sense_problems

ALLOWED_PLACEHOLDERS = ("{first_name}", "{product}")
MIN_CHARS = 12
FIRST_NAME_ALLOWANCE = 10  # characters counted for {first_name} when checking length

CHECK_NAMES = {
    "empty": "Long enough",
    "unfinished": "Finished sentence",
    "off_task": "Copy, not chatter",
    "on_brief": "About the product or offer",
    "offer": "Matches the offer",
    "length": "Fits the channel",
    "markup": "No markup",
    "quotes": "No wrapping quotes",
    "hashtag": "No hashtags",
    "url": "No links",
    "placeholder": "Known placeholders only",
    "banner_format": "Headline | CTA",
    "banned_word": "No banned words",
    "dont_say": "No don't-say phrases",
    "emoji": "Emoji rule",
    "personal_data": "No personal data",
    "hook": "Usable hook",
    **SENSE_CHECKS,
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTH_RE = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DATE_MD = re.compile(_MONTH_RE + r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b", re.I)
_DATE_DM = re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH_RE + r"\b", re.I)
_DATE_NUM = re.compile(r"\b(\d{1,2})[/.](\d{1,2})(?:[/.](\d{2,4}))?\b")
_WEEKDAY = re.compile(r"\b(" + "|".join(_WEEKDAYS) + r")\b", re.I)
_CODE_AFTER = re.compile(r"\b(?:code|promo|coupon|voucher)\s*:?\s*([A-Za-z0-9]{3,15})\b", re.I)
_CODE_USE = re.compile(r"\buse\s+([A-Z0-9]{4,15})\b")
_CODE_LIKE = re.compile(r"\b(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,15}\b")
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s?(?:%|percent\b|per\s+cent\b)", re.I)
_MONEY = re.compile(r"[$€£]\s?(\d+(?:[.,]\d{1,2})?)|(\d+(?:[.,]\d{1,2})?)\s?(?:€|£|dollars?\b|euros?\b|pounds?\b|usd\b|eur\b)", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_FREE_SHIP = re.compile(r"\bfree\s+(?:shipping|delivery)\b|\bships?\s+free\b", re.I)
_FREE_GIFT = re.compile(r"\b(?:free|bonus)\s+gift\b|\bgift\s+with\s+(?:purchase|every)", re.I)
_MARKUP = re.compile(r"<\|[^|]*\|?>?|\bim_(?:start|end)\b|</?[a-zA-Z][^>]*>|```|\*\*|^#{1,6}\s|^(?:assistant|user|system)\s*:", re.I | re.M)
_HASHTAG = re.compile(r"(?<![\w&])#[A-Za-z]\w*")
_URL = re.compile(r"https?://|\bwww\.|\b[\w-]+\.(?:com|net|org|io|co|shop|store|example|ly|uk|de)\b(?:/\S*)?", re.I)
_BRACES = re.compile(r"\{\{?[^{}]*\}?\}")
_BRACKETS = re.compile(r"\[[^\]]{1,40}\]|\bX{2,}\b|%s|\$\{")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\w)\+?\d[\d\s().-]{7,}\d(?!\w)")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u231A-\u23FF\uFE0F]")
_OFF_TASK = re.compile(
    r"\b(?:subject line|push notification|here(?:'s| is) (?:a|an|the|your|my)|as an ai|i (?:can|cannot|can't|will|would)"
    r"|sure[,!]|certainly|email address|your name|the brief|marketing copy|variant|i'?m sorry|apologi[sz]e"
    r"|i'?m (?:here|so glad|happy to)|ladies and gentlemen|bonjour|bien s[uû]r)\b", re.I)
_LABEL = re.compile(r"^\s*(?:\**\s*)?(?:email\s+)?(?:subject(?:\s+line)?|push(?:\s+notification)?|sms|banner|headline|text|copy|message)\s*\d*\s*[:\-]\s*", re.I)
_GREETING = re.compile(r"(?:\b(?i:hi|hey|hello|dear|psst|yo)\s+([A-Z][a-z']+)\b)|(?:^\W*([A-Z][a-z']+)\s*[,:!])", re.M)
_NAME_WORDS = frozenset(
    "summer may june april august autumn will grace hope joy faith rose lily ivy dawn sky sunny star holly ruby "
    "pearl jade amber violet daisy iris hazel olive sage mark bill frank hunter chase drew guy page brook river "
    "win major king prince sunday new hello hurry last today now".split())
_QUOTES = "\"'“”‘’«»"


@dataclass(frozen=True)
class Check:
    """One guardrail's verdict on one text."""

    name: str
    passed: bool
    message: str = ""

    @property
    def label(self) -> str:
        return CHECK_NAMES.get(self.name, self.name)


@dataclass(frozen=True)
class GuardrailReport:
    """All checks for one text; ``passed`` is True when every check passed or a reason overrides them."""

    checks: tuple[Check, ...] = field(default_factory=tuple)
    override_reason: str | None = None

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def clean(self) -> bool:
        return not self.failures

    @property
    def passed(self) -> bool:
        return self.clean or bool(self.override_reason)

    def override(self, reason: str) -> GuardrailReport:
        reason = " ".join(str(reason or "").split())
        if len(reason) < 5:
            raise ValidationError("an override needs a reason of at least 5 characters, e.g. 'legal approved the claim'")
        return replace(self, override_reason=reason)

    def to_dict(self) -> dict:
        return {
            "passed": self.passed, "clean": self.clean, "override_reason": self.override_reason,
            "checks": [{"name": c.name, "passed": c.passed, "message": c.message} for c in self.checks],
        }

    @classmethod
    def from_dict(cls, raw: dict) -> GuardrailReport:
        checks = tuple(Check(c["name"], bool(c["passed"]), c.get("message", "")) for c in raw.get("checks", []))
        return cls(checks=checks, override_reason=raw.get("override_reason"))


def first_sentences(text: str, limit: int) -> str:
    """The longest run of whole sentences from the start that fits ``limit`` ('' if none does)."""
    if len(text) <= limit:
        return text
    cuts = [m.end() for m in re.finditer(r"[.!?](?=\s)", text) if m.end() <= limit]
    return text[: cuts[-1]].strip() if cuts else ""


def clean_model_text(raw: str) -> str:
    """Strip what the model wraps around the copy: end tokens, a leading label, quotes around it all."""
    text = raw.split("<|im_end|>")[0].replace("<|endoftext|>", "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    for _ in range(2):
        text = _LABEL.sub("", text).strip()
        if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES and text.count(text[0]) <= 2:
            text = text[1:-1].strip()
    return " ".join(text.split())


def _num(raw: str) -> float:
    return float(raw.replace(",", "."))


def _fmt(value: float) -> str:
    return f"{value:g}"


def render_length(text: str, brief: Brief) -> int:
    """Characters the text takes once placeholders are filled in."""
    rendered = text.replace("{product}", brief.product).replace("{first_name}", "x" * FIRST_NAME_ALLOWANCE)
    return len(rendered)


def _offer_problems(text: str, brief: Brief) -> list[str]:
    problems: list[str] = []
    work = text.replace("{product}", " ").replace("{first_name}", " ")
    work = work.replace(brief.product, " ")
    if brief.promo_code:
        # The brief's own code is a fact; Chinese text has no word boundary around it ("输入RUN20").
        work = re.sub(re.escape(brief.promo_code), " ", work, flags=re.I)
    codes = {m.group(1) for m in _CODE_AFTER.finditer(work) if re.search(r"[A-Z0-9]", m.group(1)) and
             not m.group(1).islower()}
    codes |= set(_CODE_USE.findall(work)) | set(_CODE_LIKE.findall(work))
    for code in sorted(codes):
        if brief.promo_code and code.upper() == brief.promo_code:
            continue
        problems.append(f"mentions code {code}, but the brief's code is {brief.promo_code}" if brief.promo_code
                        else f"mentions code {code}, but the brief has no promo code")
    for code in codes:
        work = re.sub(rf"\b{re.escape(code)}\b", " ", work)
    # Numbers inside the product name ("SPF 50 Sunscreen") are the product's, not claims.
    allowed: set[float] = {_num(n) for n in _NUMBER.findall(brief.product)} | allowed_numbers(brief)
    if brief.offer_value is not None:
        allowed.add(float(brief.offer_value))
    if brief.price is not None:
        allowed.add(round(float(brief.price), 2))
    for m in _PERCENT.finditer(work):
        value = _num(m.group(1))
        if brief.offer_type != "percent":
            problems.append(f"says {m.group(0).strip()}, but the offer is {brief.offer_phrase() or 'none'}")
        elif value != brief.offer_value:
            problems.append(f"says {_fmt(value)}%, but the offer is {_fmt(brief.offer_value)}% off")
    work = _PERCENT.sub(" ", work)
    for m in _MONEY.finditer(work):
        value = _num(m.group(1) or m.group(2))
        if value not in allowed or (brief.offer_type != "amount" and value != brief.price):
            problems.append(f"mentions {m.group(0).strip()}, which is neither the offer nor the price in the brief")
    work = _MONEY.sub(" ", work)
    end = brief.end_date
    for regex, day_group, month_group in ((_DATE_MD, 2, 1), (_DATE_DM, 1, 2)):
        for m in regex.finditer(work):
            day, month = int(m.group(day_group)), _MONTHS.index(m.group(month_group)[:3].lower()) + 1
            if end is None:
                problems.append(f"mentions the date {m.group(0).strip()}, but the brief has no end date")
            elif (month, day) != (end.month, end.day):
                problems.append(f"mentions {m.group(0).strip()}, but the offer ends {end:%b} {end.day}")
        work = regex.sub(" ", work)
    for m in _DATE_NUM.finditer(work):
        a, b = int(m.group(1)), int(m.group(2))
        if end is None or (a, b) not in ((end.month, end.day), (end.day, end.month)):
            problems.append(f"mentions the date {m.group(0)}, which is not the brief's end date")
    work = _DATE_NUM.sub(" ", work)
    for m in _WEEKDAY.finditer(work):
        day = m.group(1).lower()
        if end is None:
            problems.append(f"mentions {m.group(1)}, but the brief has no end date")
        elif _WEEKDAYS[end.weekday()] != day:
            problems.append(f"mentions {m.group(1)}, but the offer ends on a {_WEEKDAYS[end.weekday()].title()}")
    if end is not None:
        allowed |= {float(end.day), float(end.year)}
    for m in _NUMBER.finditer(work):
        value = _num(m.group(0))
        if value not in allowed:
            problems.append(f"the number {m.group(0)} is not in the brief")
    if _FREE_SHIP.search(text) and brief.offer_type != "free_shipping":
        problems.append("promises free shipping, which the brief does not offer")
    if _FREE_GIFT.search(text) and brief.offer_type != "gift":
        problems.append("promises a free gift, which the brief does not offer")
    return list(dict.fromkeys(problems))


def _voice_checks(text: str, brief: Brief) -> list[Check]:
    voice = brief.brand_voice
    lower = " ".join(text.lower().split())
    banned = [w for w in voice.banned_words if re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", lower)]
    dont = [p for p in voice.dont_say if " ".join(p.lower().split()) in lower]
    emoji = _EMOJI.findall(text)
    return [
        Check("banned_word", not banned, f"uses banned word(s): {', '.join(banned)}" if banned else ""),
        Check("dont_say", not dont, f"says {', '.join(repr(p) for p in dont)} (on the don't-say list)" if dont else ""),
        Check("emoji", voice.emoji_allowed or not emoji,
              "" if voice.emoji_allowed or not emoji else f"{voice.name} voice allows no emoji"),
    ]


def _personal_data(text: str, brief: Brief, known_names: frozenset[str]) -> list[str]:
    found = [f"email address {m}" for m in _EMAIL.findall(text)]
    found += [f"phone number {m.strip()}" for m in _PHONE.findall(text)]
    if known_names:
        brief_words = {w.lower() for w in re.findall(r"[A-Za-z']+", f"{brief.product} {brief.details}")}
        # A real customer's name shows up as a greeting ("Hi Anna," / "Anna, ..."), where
        # {first_name} belongs; elsewhere "Summer" or "Grace" are ordinary words.
        for m in _GREETING.finditer(text):
            word = m.group(1) or m.group(2)
            if word.lower() in known_names and word.lower() not in brief_words | _NAME_WORDS:
                found.append(f"a customer's name ({word}); use {{first_name}} instead")
    return found


_STOP_WORDS = frozenset(
    "a an and the of for with in on to by from our your new set pack pro plus mini max one two".split())
_OFFER_WORDS = re.compile(r"\b(?:off|sale|save|saving|savings|deal|discount|offer|code|free|gift|bonus|%)", re.I)


def _stem(word: str) -> str:
    word = word.lower()
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _mentions_brief(text: str, brief: Brief) -> bool:
    """Whether model copy is about this brief: it names the product (a content word of its name,
    or ``{product}``), the product's category, or the offer. Small models drift into unrelated
    lines ("Excel Business Writing Tips!") that pass every other check."""
    if "{product}" in text or brief.product.lower() in text.lower():
        return True
    words = {_stem(w) for w in re.findall(r"[A-Za-z]+", text)}
    names = re.findall(r"[A-Za-z]+", f"{brief.product} {brief.category or ''}")
    if any(len(w) > 2 and w.lower() not in _STOP_WORDS and _stem(w) in words for w in names):
        return True
    if brief.promo_code and brief.promo_code.lower() in text.lower():
        return True
    return brief.offer_type != "none" and bool(_OFFER_WORDS.search(text))


def check_copy(
    text: str,
    brief: Brief,
    *,
    known_names: frozenset[str] = frozenset(),
    finished: bool = True,
    from_model: bool = False,
    context: CopyContext | None = None,
) -> GuardrailReport:
    """Run every guardrail on ``text`` for ``brief``.

    Parameters
    ----------
    known_names:
        Lower-cased first names of real customers; copy naming one of them fails.
    finished:
        False when the model stopped at its token limit mid-sentence.
    from_model:
        Also check that the text is copy rather than the model talking about the task.
    context:
        The shop's name and the catalog's words, which the sense checks allow as names and words.
    """
    context = context or CopyContext(known_names=known_names)
    known_names = known_names or context.known_names
    short = len(text.strip()) < MIN_CHARS
    checks: list[Check] = [Check("empty", not short, f"under {MIN_CHARS} characters: not copy yet" if short else "")]
    if from_model:
        dangling = text.rstrip().endswith((",", ":", ";", "-", "("))
        checks.append(Check("unfinished", finished and not dangling,
                            "" if finished and not dangling else "stops mid-sentence"))
        chatter = _OFF_TASK.search(text)
        checks.append(Check("off_task", chatter is None, f"talks about the task ({chatter.group(0)!r})" if chatter else ""))
        on_brief = _mentions_brief(text, brief)
        checks.append(Check("on_brief", on_brief, "" if on_brief else
                            f"names neither {brief.product!r}, its category, nor the offer"))
    offer = _offer_problems(text, brief)
    checks.append(Check("offer", not offer, "; ".join(offer)))
    length = render_length(text, brief)
    checks.append(Check("length", length <= brief.limit,
                        "" if length <= brief.limit else f"{length} characters, the {brief.channel} limit is {brief.limit}"))
    markup = _MARKUP.search(text)
    checks.append(Check("markup", markup is None, f"contains markup {markup.group(0)!r}" if markup else ""))
    stripped = text.strip()
    wrapped = len(stripped) >= 2 and stripped[0] in _QUOTES and stripped[-1] in _QUOTES
    checks.append(Check("quotes", not wrapped, "the whole text is wrapped in quotes" if wrapped else ""))
    voice = brief.brand_voice
    tags = _HASHTAG.findall(text)
    checks.append(Check("hashtag", voice.allow_hashtags or not tags,
                        "" if voice.allow_hashtags or not tags else f"hashtag(s) {', '.join(tags)}"))
    urls = _URL.findall(text)
    checks.append(Check("url", voice.allow_urls or not urls, "" if voice.allow_urls or not urls else "contains a link"))
    unknown = [p for p in _BRACES.findall(text) if p not in ALLOWED_PLACEHOLDERS] + _BRACKETS.findall(text)
    brief_words = {w.lower() for w in re.findall(r"[A-Za-z']+", f"{brief.product} {brief.details} {context.shop_name}")}
    # "Hi Sarah," in copy sent to thousands is a name the model made up: it should be {first_name}.
    unknown += [f"greeting to '{m.group(1)}'" for m in _GREETING.finditer(text)
                if m.group(1) and m.group(1).lower() not in brief_words | _NAME_WORDS]
    checks.append(Check("placeholder", not unknown,
                        f"unknown placeholder(s) {', '.join(unknown)}; allowed: {', '.join(ALLOWED_PLACEHOLDERS)}" if unknown else ""))
    if brief.channel == "banner":
        parts = [p.strip() for p in text.split("|")]
        good = len(parts) == 2 and all(parts) and len(parts[1]) <= 30
        checks.append(Check("banner_format", good, "" if good else "write 'headline | call to action' (CTA up to 30 characters)"))
    checks.extend(_voice_checks(text, brief))
    personal = _personal_data(text, brief, known_names)
    checks.append(Check("personal_data", not personal, "; ".join(personal)))
    for name, problems in sense_problems(text, brief, context).items():
        checks.append(Check(name, not problems, "; ".join(problems)))
    return GuardrailReport(checks=tuple(checks))


def _normalized(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    # Chinese has no spaces: each character counts as a word.
    return " ".join(re.findall(r"[a-z0-9%$]+|[\u3400-\u9fff]", text))


def is_near_duplicate(a: str, b: str, threshold: float = 0.88) -> bool:
    """True when two texts differ only in punctuation, case or a word or two."""
    na, nb = _normalized(a), _normalized(b)
    if na == nb:
        return True
    wa, wb = set(na.split()), set(nb.split())
    jaccard = len(wa & wb) / max(1, len(wa | wb))
    return jaccard >= 0.8 or SequenceMatcher(None, na, nb).ratio() >= threshold


def render_preview(text: str, brief: Brief, first_name: str = "Sam") -> str:
    """The text as a customer would read it, with a sample user's name."""
    return text.replace("{first_name}", first_name).replace("{product}", brief.product)
