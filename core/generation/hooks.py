"""The part the model writes: a short hook (tagline) about one benefit of the product.

The prompt shows ten hand-written product -> tagline examples (none of them from the evaluation
briefs) and then the brief's product, category, facts and tone. A base model (Gemma 3) reads it as
a completion prompt that starts with ``<bos>``; a chat model (SmolLM2-Instruct) reads the same
examples as chat turns. The examples come first and are the same for every brief of a language,
so their key/value cache is shared between briefs (``decode.PrefixCache``).

``hook_problems`` rejects a hook before it is assembled: digits, prices, percentages and codes
are facts, which only code writes, and a hook is 2-12 words (4-20 characters in Chinese).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.generation.brief import Brief

_EN_EXAMPLES = (
    ("Merino Wool Socks", "Apparel", "soft, breathable merino", "friendly", "Soft on your feet, mile after mile"),
    ("Noise-Cancelling Headphones", "Electronics", "", "premium", "Pure sound, nothing else"),
    ("Cast Iron Skillet", "Home & Kitchen", "pre-seasoned", "informative", "Even heat for a perfect sear"),
    ("Vitamin C Serum", "Beauty", "brightening", "premium", "Brighter skin starts tonight"),
    ("Camping Hammock", "Outdoor", "packs small", "playful", "Hang out anywhere you like"),
    ("Smart Watch", "Electronics", "heart-rate tracking", "urgent", "Know your pace before the weekend"),
    ("Bamboo Cutting Board", "Home & Kitchen", "", "friendly", "A kinder board for everyday cooking"),
    ("Kids' Rain Boots", "Apparel", "", "playful", "Puddles, meet your match"),
    ("Lip Balm Set", "Beauty", "shea butter", "friendly", "Soft lips all winter long"),
    ("Yoga Block", "Sports", "cork", "informative", "Steady support for every pose"),
)
_ZH_EXAMPLES = (
    ("羊毛袜", "服饰", "柔软透气", "friendly", "柔软透气，脚下更舒服"),
    ("降噪耳机", "数码", "", "premium", "只留纯净好声音"),
    ("铸铁锅", "家居厨房", "受热均匀", "informative", "受热均匀，煎出好味道"),
    ("精华液", "美妆", "提亮肤色", "premium", "每晚一滴，肌肤透亮"),
    ("露营吊床", "户外", "轻便易收纳", "playful", "随处一挂，躺着看风景"),
    ("智能手表", "数码", "心率监测", "urgent", "每一次心跳都看得见"),
    ("竹砧板", "家居厨房", "", "friendly", "天天做饭的好帮手"),
    ("儿童雨靴", "服饰", "", "playful", "下雨天也能踩水玩"),
    ("润唇膏", "美妆", "乳木果油", "friendly", "整个冬天嘴唇都水润"),
    ("瑜伽砖", "运动", "软木材质", "informative", "稳稳支撑每个动作"),
)
_TONES_ZH = {"friendly": "亲切", "urgent": "紧迫", "premium": "高级", "playful": "俏皮", "informative": "实用"}
_HEAD = {
    "en": "Short taglines for an online shop. Each tagline is 3 to 8 words about one benefit of the product. "
          "No prices, no offers, no names.\n\n",
    "zh": "网店商品的短标语。每条标语6到14个字，只写商品的一个好处，不写价格、优惠和名字。\n\n",
}
_DIGIT = re.compile(r"[0-9０-９]")
_MONEY = re.compile(r"[$€£¥￥%]|\b(?:percent|usd|eur)\b", re.I)
_CODE = re.compile(r"\b(?=[A-Z0-9]*\d)[A-Z0-9]{4,}\b|\bcode\b", re.I)
_FORM = re.compile(r"[{}\[\]<>|#@*_]|https?:|www\.")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# A hook that ends on one of these stopped mid-phrase ("Smart earbuds for the").
_DANGLING_EN = frozenset("the a an for to and of with your my our or but from is are".split())  # not "on": "holds on"
_DANGLING_ZH = ("的", "和", "与", "让", "在", "给", "把", "被", "跟")


@dataclass(frozen=True)
class HookPrompt:
    """What the model reads to write hooks: ``text`` for a base model, ``messages`` for a chat model."""

    text: str
    messages: tuple[dict, ...]
    language: str


def _block(product: str, category: str | None, details: str, tone: str, language: str) -> str:
    if language == "zh":
        lines = [f"商品：{product}" + (f"（{category}）" if category else "")]
        if details:
            lines.append(f"特点：{details}")
        lines.append(f"语气：{_TONES_ZH.get(tone, tone)}")
        return "\n".join(lines) + "\n标语："
    lines = [f"Product: {product}" + (f" ({category})" if category else "")]
    if details:
        lines.append(f"Facts: {details}")
    lines.append(f"Tone: {tone}")
    return "\n".join(lines) + "\nTagline:"


def build_hook_prompt(brief: Brief) -> HookPrompt:
    """The few-shot hook prompt for ``brief`` (its language decides the examples)."""
    language = "zh" if brief.language == "zh" else "en"
    examples = _ZH_EXAMPLES if language == "zh" else _EN_EXAMPLES
    sep = "" if language == "zh" else " "
    # Product facts are the marketer's free text: quoted as data, and the hook checks still apply.
    details = brief.details[:200]
    shots = "".join(f"{_block(p, c, d, t, language)}{sep}{h}\n\n" for p, c, d, t, h in examples)
    current = _block(brief.product, brief.category, details, brief.tone, language)
    text = _HEAD[language] + shots + current
    messages: list[dict] = [{"role": "system", "content": _HEAD[language].strip()}]
    for p, c, d, t, h in examples:
        messages.append({"role": "user", "content": _block(p, c, d, t, language)})
        messages.append({"role": "assistant", "content": h})
    messages.append({"role": "user", "content": current})
    return HookPrompt(text, tuple(messages), language)


def render_hook_prompt(lm, prompt: HookPrompt) -> str:
    """The exact text ``lm`` reads: a completion prompt for base models, the chat template otherwise."""
    if getattr(lm, "kind", "chat") == "base":
        return lm.completion(prompt.text)
    return lm.render(prompt.messages)


def clean_hook(raw: str) -> str:
    """The first line of what the model wrote, without end tokens, labels or wrapping quotes."""
    text = raw.split("<|im_end|>")[0].split("<end_of_turn>")[0].replace("<|endoftext|>", "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    text = re.sub(r"^(?:tagline|标语)\s*[:：]\s*", "", text, flags=re.I)
    return " ".join(text.strip(" \"'“”‘’「」").split())


def hook_problems(hook: str, language: str) -> list[str]:
    """Why a hook cannot be used (empty list: it can)."""
    problems = []
    if _DIGIT.search(hook) or _MONEY.search(hook):
        problems.append("the hook states a number, price or percentage (facts are written from the brief)")
    if _CODE.search(hook):
        problems.append("the hook mentions a code")
    if _FORM.search(hook):
        problems.append("the hook contains markup, a link or a placeholder")
    words = hook.lower().rstrip(" .!?,;:").split()
    if (words and words[-1] in _DANGLING_EN) or hook.rstrip("，。！？").endswith(_DANGLING_ZH):
        problems.append("the hook stops mid-phrase")
    if language == "zh":
        size = len(re.sub(r"\s", "", hook))
        if not _CJK.search(hook) or _LATIN_WORD.search(hook):
            problems.append("the hook is not in Chinese")
        elif not 4 <= size <= 20:
            problems.append(f"the hook has {size} characters (4-20 fit the layouts)")
    else:
        words = hook.split()
        if _CJK.search(hook):
            problems.append("the hook is not in English")
        elif not 2 <= len(words) <= 12:
            problems.append(f"the hook has {len(words)} words (2-12 fit the layouts)")
    return problems
