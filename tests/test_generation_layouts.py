"""Facts by code: layouts put a hook and the brief's facts together, in English and Chinese.

Whatever the hook says, the assembled line states the brief's offer, code and product exactly,
fits the channel, and an SMS always ends with the opt-out line.
"""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest

from core.generation.brief import Brief
from core.generation.facts import ZH_LIMITS, facts_for, zh_discount
from core.generation.guardrails import check_copy
from core.generation.layouts import LAYOUTS, assemble, normalize_hook, rendered_length
from core.generation.sense import CopyContext

HOOKS = ("Light steps on every trail", "Comfort that goes the distance", "Made for early mornings", "Go further")


def test_english_fact_phrases():
    b = Brief(product="Trail Running Shoes", channel="sms", offer_type="percent", offer_value=20, promo_code="RUN20",
              end_date=date(2026, 12, 4))
    f = facts_for(b)
    assert (f.offer, f.offer_on, f.code, f.until) == (
        "20% off", "20% off Trail Running Shoes", " with code RUN20", " until Friday, Dec 4")
    amount = facts_for(Brief(product="Desk Lamp", channel="push", offer_type="amount", offer_value=50, min_spend=300))
    assert amount.offer_on == "$50 off orders over $300 on Desk Lamp"
    assert facts_for(Brief(product="Mug", channel="push", offer_type="free_shipping")).offer_on == "free shipping on Mug"
    assert facts_for(Brief(product="Mug", channel="push")).offer_on == "meet the Mug"


def test_chinese_fact_phrases():
    zh = dict(product="跑鞋", channel="sms", language="zh")
    assert facts_for(Brief(**zh, offer_type="percent", offer_value=20)).offer_on == "跑鞋8折"
    assert (zh_discount(15), zh_discount(33)) == ("8.5", "6.7")
    assert facts_for(Brief(**zh, offer_type="amount", offer_value=50, min_spend=300)).offer == "满300减50"
    assert facts_for(Brief(**zh, offer_type="amount", offer_value=15, currency="¥")).offer == "立减15元"
    assert facts_for(Brief(**zh, offer_type="free_shipping")).offer == "包邮"
    f = facts_for(Brief(**zh, offer_type="percent", offer_value=20, promo_code="RUN20", end_date=date(2026, 12, 4)))
    assert (f.code, f.until, f.opt_out) == ("结账输入RUN20", "12月4日前有效", "回T退订")


def test_layouts_rotate_per_variant_and_sms_always_opts_out():
    b = Brief(product="Wireless Earbuds", channel="sms", offer_type="amount", offer_value=15, promo_code="EAR15")
    built = [assemble(b, "Music that stays with you", i, "Larkmoor") for i in range(3)]
    assert len({a.layout for a in built}) == 2 and built[0].layout == built[2].layout
    for a in built:
        assert a.text.startswith("Larkmoor: ") and a.text.endswith("Reply STOP to opt out")
        assert "$15 off Wireless Earbuds with code EAR15" in a.text
    assert built[0].text == ("Larkmoor: Music that stays with you! $15 off Wireless Earbuds with code EAR15. "
                             "Shop now. Reply STOP to opt out")


def test_title_case_hooks_become_sentence_case_and_names_stay():
    assert normalize_hook("Light Steps On Every Trail!") == "Light steps on every trail"
    assert normalize_hook("Made For The GORE Trail", frozenset({"GORE"})) == "Made for the GORE trail"
    assert normalize_hook("  “Soft, warm and cozy.”  ") == "Soft, warm and cozy"


def test_optional_facts_are_dropped_before_a_hook_is_given_up():
    b = Brief(product="Ultralight Carbon Trekking Poles", channel="email_subject", offer_type="percent",
              offer_value=25, promo_code="POLES25", end_date=date(2026, 12, 4))
    a = assemble(b, "Lighter climbs", 0)
    assert rendered_length(a.text) <= 60 and "25% off Ultralight Carbon Trekking Poles" in a.text
    assert a.dropped  # the date (and maybe the code) did not fit an email subject
    push = Brief(**{**b.to_dict(), "channel": "push"})
    assert "with code POLES25" in assemble(push, "Lighter climbs", 0).text  # never dropped in a push
    assert assemble(b, "an extremely long hook that cannot possibly fit into any email subject line at all", 0) is None


BRIEFS = [
    dict(product=p, channel=c, offer_type=o, offer_value=v, promo_code=code, tone=t, end_date=end)
    for (p, (o, v, code), c, t, end) in itertools.product(
        ("Trail Running Shoes", "Scented Soy Candle", "Noise-Cancelling Headphones"),
        (("percent", 20, "RUN20"), ("amount", 15, "EAR15"), ("free_shipping", None, None), ("gift", None, None),
         ("none", None, None)),
        ("email_subject", "push", "sms", "banner"), ("friendly", "urgent"), (None, date(2026, 12, 4)))
]


@pytest.mark.parametrize("raw", BRIEFS[::3], ids=lambda r: f"{r['channel']}-{r['offer_type']}-{r['product'][:5]}")
def test_every_layout_states_the_brief_exactly_and_fits(raw):
    brief = Brief(**raw)
    facts = facts_for(brief)
    fitted = 0
    for i, hook in enumerate(HOOKS * 2):
        a = assemble(brief, hook, i, "Larkmoor")
        if a is None:  # only when the hook and the facts together cannot fit the channel
            cta = 3 + min(len(c) for c in facts.ctas) if brief.channel == "banner" else 0
            assert len(hook) + len(facts.offer_on) + 2 + cta > brief.limit
            continue
        fitted += 1
        assert rendered_length(a.text) <= brief.limit
        assert facts.offer_on.lower() in a.text.lower()
        if brief.promo_code and brief.channel in ("push", "sms"):
            assert facts.code.strip() in a.text
        if brief.channel == "sms":
            assert a.text.endswith("Reply STOP to opt out")
        if brief.channel == "banner":
            assert a.text.count("|") == 1
        report = check_copy(a.text, brief, from_model=True, context=CopyContext(shop_name="Larkmoor"))
        assert report.clean, (a.text, [c.message for c in report.failures])
    assert fitted >= 2


@pytest.mark.parametrize("offer", [("percent", 20, None), ("amount", 50, 300), ("free_shipping", None, None)])
@pytest.mark.parametrize("channel", ["sms", "push", "email_subject", "banner"])
def test_chinese_layouts_count_characters_and_pass_the_checks(offer, channel):
    kind, value, minimum = offer
    brief = Brief(product="跑鞋", channel=channel, offer_type=kind, offer_value=value, min_spend=minimum,
                  promo_code="RUN20" if kind != "free_shipping" else None, language="zh", category="运动户外")
    for i, hook in enumerate(("轻盈回弹，每一步都更轻松", "跑得更远更舒服")):
        a = assemble(brief, hook, i, "小店")
        assert a is not None and len(a.text) <= ZH_LIMITS[channel]
        assert facts_for(brief).offer_on in a.text
        if channel == "sms":
            assert a.text.startswith("【小店】") and a.text.endswith("回T退订")
        report = check_copy(a.text, brief, from_model=True, context=CopyContext(shop_name="小店"))
        assert report.clean, (a.text, [c.message for c in report.failures])


def test_every_channel_and_language_has_layouts():
    assert {k[1] for k in LAYOUTS} == {"email_subject", "push", "sms", "banner"}
    assert {k[0] for k in LAYOUTS} == {"en", "zh"}
    for layouts in LAYOUTS.values():
        assert len(layouts) >= 2
        assert all(re.search(r"\{[Ff]acts\}", la.template) for la in layouts)


def test_only_brand_like_catalog_words_keep_their_capital():
    from core.generation.layouts import proper_names

    names = proper_names({"A", "Trail", "Soft", "Vantora", "GORE-TEX", "Larkmoor"})
    assert names == {"Vantora", "GORE-TEX", "Larkmoor"}
    b = Brief(product="Trail running shoes", channel="email_subject", offer_type="percent", offer_value=20)
    assert assemble(b, "A great trail shoe", 1, keep=names).text == "20% off Trail running shoes: a great trail shoe"
    assert assemble(b, "Vantora grip on every trail", 1, keep=names).text.endswith(": Vantora grip on every trail")
