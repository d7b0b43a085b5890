"""Layouts: how a model-written hook and the code-written facts become one line of copy.

Each channel has a few layouts per language (``LAYOUTS``). None greets the customer by
``{first_name}``: a hook written as a tagline reads badly after a name ("Hi Sam, soft linens."),
and in two blind reads (benchmarks/copy_eval.py) 0-30% of such lines were sendable as-is, against
35-57% for the other layouts. The token stays allowed in the marketer's own edits. A variant's layout is picked by its
position, so the variants of one brief do not share one sentence frame; when a layout does not
fit the channel limit, the next one is tried, then the optional facts (the promo code in an email
subject or a banner, the end date) are dropped before giving up. Every layout names the product
and states the offer; the SMS layouts always end with the opt-out line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.generation.facts import Facts, channel_limit, facts_for

FIRST_NAME_ALLOWANCE = 10  # characters a {first_name} is counted as when checking the limit
_SLOT = re.compile(r"\{(\w+)\}")
_TRAILING = re.compile(r"[\s.!?,;:。！？，；：、…~-]+$")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Layout:
    name: str
    template: str


LAYOUTS: dict[tuple[str, str], tuple[Layout, ...]] = {
    ("en", "email_subject"): (
        Layout("hook_first", "{Hook}: {Facts}"),
        Layout("offer_first", "{Facts}: {hook}"),
    ),
    ("en", "push"): (
        Layout("hook_first", "{Hook}. {Facts}. {cta}"),
        Layout("offer_first", "{Facts}! {Hook}. {cta}"),
    ),
    ("en", "sms"): (
        Layout("hook_first", "{shop}{Hook}! {Facts}. {cta}. {opt_out}"),
        Layout("offer_first", "{shop}{Facts}. {Hook}. {cta}. {opt_out}"),
    ),
    ("en", "banner"): (
        Layout("hook_first", "{Hook}: {facts} | {cta}"),
        Layout("offer_first", "{Facts}: {hook} | {cta}"),
    ),
    ("zh", "email_subject"): (
        Layout("hook_first", "{hook}，{facts}"),
        Layout("offer_first", "{facts}：{hook}"),
    ),
    ("zh", "push"): (
        Layout("offer_first", "{facts}！{hook}，{cta}"),
        Layout("hook_first", "{hook}！{facts}。{cta}"),
    ),
    ("zh", "sms"): (
        Layout("hook_first", "{shop}{hook}！{facts}。{cta}，{opt_out}"),
        Layout("offer_first", "{shop}{facts}。{hook}！{opt_out}"),
    ),
    ("zh", "banner"): (
        Layout("hook_first", "{hook}：{facts} | {cta}"),
        Layout("offer_first", "{facts}，{hook} | {cta}"),
    ),
}


@dataclass(frozen=True)
class Assembled:
    text: str
    layout: str
    dropped: tuple[str, ...] = ()  # optional facts left out to fit the limit


def rendered_length(text: str) -> int:
    return len(text.replace("{first_name}", "x" * FIRST_NAME_ALLOWANCE))


def _capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_start(hook: str, keep: frozenset[str]) -> str:
    first = hook.split(" ", 1)[0]
    if (len(first) > 1 and first.isupper()) or first in keep or first == "I" or first.startswith("I'"):
        return hook
    return hook[:1].lower() + hook[1:]


def normalize_hook(hook: str, keep: frozenset[str] = frozenset()) -> str:
    """One line, no trailing punctuation; Title Case Hooks become sentence case (names in ``keep`` stay)."""
    hook = _TRAILING.sub("", " ".join(hook.split()).strip(" \"'“”‘’「」"))
    if _CJK.search(hook):
        return hook
    words = hook.split()
    caps = [w for w in words[1:] if len(w) > 3 and w[:1].isupper()]
    long_words = [w for w in words[1:] if len(w) > 3]
    if len(words) >= 3 and long_words and len(caps) >= 0.7 * len(long_words):
        words = [words[0]] + [w if w in keep or w.isupper() else w.lower() for w in words[1:]]
    return " ".join(words)


def proper_names(words) -> frozenset[str]:
    """The words that stay capitalized mid-sentence: all-caps ones and those the dictionary does not know.

    Catalog titles are in Title Case, so "A", "Trail" or "Soft" appear in them; only brand-like words
    (Kestrel, GORE-TEX) keep their capital when a hook starts lower-case after a name or a colon.
    """
    from core.generation.sense import english_words

    known = english_words()
    return frozenset(w for w in words if (len(w) > 1 and w.isupper()) or (w[:1].isupper() and w.lower() not in known))


def _proper_words(product: str) -> frozenset[str]:
    """Words of the product name that stay capitalized mid-sentence: brand-like, not dictionary words."""
    from core.generation.sense import is_dictionary_word

    return frozenset(w for w in re.findall(r"[A-Za-z][\w'-]*", product)
                     if w[:1].isupper() and (w.isupper() or not is_dictionary_word(w)))


def _fact_block(facts: Facts, code: bool, until: bool) -> str:
    if facts.language == "zh":
        return "，".join(p for p in (facts.offer_on, facts.code if code else "", facts.until if until else "") if p)
    return facts.offer_on + (facts.code if code else "") + (facts.until if until else "")


def _fill(template: str, values: dict[str, str]) -> str:
    # {first_name} is not a slot: it stays in the copy as the personalization token.
    return _SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def assemble(brief, hook: str, index: int, shop: str = "", keep: frozenset[str] = frozenset()) -> Assembled | None:
    """The copy for ``hook`` in the ``index``-th layout that fits (None when none fits)."""
    facts = facts_for(brief)
    layouts = LAYOUTS[(facts.language, brief.channel)]
    limit = channel_limit(brief.channel, facts.language)
    keep = keep | _proper_words(brief.product)
    hook = normalize_hook(hook, keep)
    if not hook:
        return None
    cta = facts.ctas[index % len(facts.ctas)]
    shortest = min(facts.ctas, key=len)
    if facts.language == "zh":
        shop_part = f"【{shop}】" if shop else ""
    else:
        shop_part = f"{shop}: " if shop else ""
    # The code is required where the customer acts on the message itself (push, SMS).
    code_optional = brief.channel in ("email_subject", "banner")
    steps = [(True, True, ())]
    if facts.until:
        steps.append((True, False, ("end date",)))
    if facts.code and code_optional:
        steps.append((False, False, ("promo code", "end date") if facts.until else ("promo code",)))
    # The variant's own call to action first; the shortest one before dropping any fact.
    tries = [(c, u, d, cta) for c, u, d in steps[:1]] + [(True, True, (), shortest)] + [
        (c, u, d, shortest) for c, u, d in steps[1:]]
    for with_code, with_until, dropped, action in tries:
        block = _fact_block(facts, with_code, with_until)
        values = {"Hook": _capitalize(hook), "hook": _lower_start(hook, keep), "Facts": _capitalize(block),
                  "facts": block, "cta": action, "shop": shop_part, "opt_out": facts.opt_out}
        for k in range(len(layouts)):
            layout = layouts[(index + k) % len(layouts)]
            text = _fill(layout.template, values)
            if rendered_length(text) <= limit:
                return Assembled(text, f"{brief.channel}/{layout.name}", dropped)
    return None
