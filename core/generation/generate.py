"""Generate copy variants for a brief: the model writes hooks, code writes the facts.

``generate_copy`` samples hooks in seeded batches (one batched decode per round, stopping at the
end of the hook line), rejects unusable hooks, assembles each remaining hook with the brief's
facts in one of the channel's layouts (``core.generation.layouts``), runs every guardrail on the
assembled line, merges near-duplicate hooks and stops when it has enough passing variants or has
spent its sample budget. The same brief, settings, model and seed give the same variants.
``run_generation`` is the one entry point the Copy Lab page and the command line share.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.errors import GenerationError
from core.generation.brief import LANGUAGES, Brief
from core.generation.facts import WRITABLE_LANGUAGES
from core.generation.guardrails import Check, GuardrailReport, check_copy, is_near_duplicate
from core.generation.hooks import HookPrompt, build_hook_prompt, clean_hook, hook_problems, render_hook_prompt
from core.generation.layouts import assemble, proper_names
from core.generation.sense import CopyContext
from core.generation.settings import GenerationSettings
from core.store import Store

MAX_BATCH = 24  # sequences per decode call: one round of 24 short hooks beats two of 12
# Share of hooks that pass, to size the first round: an email subject leaves little room for a hook
# next to the facts, so fewer fit (bench_generate: 8 of 28 for a 19-character product).
FIRST_ROUND_RATE = {"email_subject": 0.35, "sms": 0.55, "push": 0.67, "banner": 0.6}
BUDGET_FACTOR = 4  # give up after sampling this many times the requested variants
ROUND_SEED_STEP = 7919  # each round's seed = seed + round * step, so rounds never repeat
HOOK_TOKENS = {"en": 20, "zh": 24}  # a hook is 3-8 words; more tokens only let the model ramble


@dataclass(frozen=True)
class Variant:
    """One candidate text with its guardrail report, the hook the model wrote and the layout used."""

    text: str
    report: GuardrailReport
    seed: int
    raw: str = ""
    duplicates: int = 0  # near-identical candidates merged into this one
    hook: str = ""
    layout: str = ""


@dataclass(frozen=True)
class GenerationResult:
    """What one generation run produced, kept and rejected."""

    variants: tuple[Variant, ...]
    rejected: tuple[Variant, ...]
    failure_counts: dict[str, int]
    generated: int
    duplicates_merged: int
    prompt: HookPrompt
    prompt_text: str
    brief: Brief
    settings: GenerationSettings
    model_name: str
    seconds: float
    rounds: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)
    segment_name: str = "All customers"

    @property
    def pass_rate(self) -> float:
        return (len(self.variants) + self.duplicates_merged) / max(1, self.generated)

    def to_dict(self) -> dict:
        def one(v: Variant) -> dict:
            return {"text": v.text, "hook": v.hook, "layout": v.layout, "duplicates": v.duplicates, "seed": v.seed,
                    "guardrails": v.report.to_dict()}

        return {
            "model": self.model_name, "brief": self.brief.to_dict(), "settings": self.settings.to_dict(),
            "segment": self.segment_name, "prompt": self.prompt_text, "variants": [one(v) for v in self.variants],
            "rejected": [one(v) for v in self.rejected], "failure_counts": self.failure_counts,
            "generated": self.generated, "duplicates_merged": self.duplicates_merged,
            "pass_rate": round(self.pass_rate, 3), "seconds": round(self.seconds, 2), "rounds": self.rounds,
        }


def known_customer_names(store: Store | None) -> frozenset[str]:
    """Lower-cased first names of real customers (imported or sample), for the personal-data check."""
    if store is None:
        return frozenset()
    rows = store.rows("SELECT DISTINCT lower(first_name) FROM users WHERE first_name IS NOT NULL AND length(first_name) > 2")
    return frozenset(r[0] for r in rows)


def check_language(lm, brief: Brief) -> None:
    """Raise ``GenerationError`` when CopyLift or the model cannot write the brief's language."""
    if brief.language not in WRITABLE_LANGUAGES:
        raise GenerationError(f"CopyLift has no layouts for {LANGUAGES[brief.language]} yet; choose "
                              + " or ".join(LANGUAGES[x] for x in WRITABLE_LANGUAGES) + ".")
    if lm.languages is not None and brief.language not in lm.languages:
        raise GenerationError(f"{lm.name} does not write {LANGUAGES[brief.language]} well; choose "
                              f"{' or '.join(LANGUAGES[x] for x in lm.languages)}, or pick another model.")


def _candidate(raw: str, finished: bool, brief: Brief, index: int, seed: int, ctx: CopyContext,
               names: frozenset[str] = frozenset()) -> Variant:
    """One sampled hook turned into a checked variant (its report says why when it cannot be used)."""
    hook = clean_hook(raw)
    problems = hook_problems(hook, brief.language) if finished else ["the hook ran past its token limit"]
    if problems:
        return Variant(hook, GuardrailReport((Check("hook", False, "; ".join(problems)),)), seed, raw, hook=hook)
    built = assemble(brief, hook, index, ctx.shop_name, names)
    if built is None:
        report = GuardrailReport((Check("length", False, f"no layout fits the {brief.limit}-character limit"),))
        return Variant(hook, report, seed, raw, hook=hook)
    report = check_copy(built.text, brief, finished=True, from_model=True, context=ctx)
    return Variant(built.text, report, seed, raw, hook=hook, layout=built.layout)


def generate_copy(
    lm,
    brief: Brief,
    settings: GenerationSettings,
    *,
    context: CopyContext | None = None,
    progress: Callable[[float, str], None] | None = None,
    on_variant: Callable[[Variant], None] | None = None,
) -> GenerationResult:
    """Sample hooks, assemble, check and keep up to ``settings.n_variants`` passing variants.

    ``progress(fraction, message)`` is called after each batch; ``on_variant``
    as soon as each passing variant is kept, so a page can show it at once.
    """
    check_language(lm, brief)
    ctx = context or CopyContext()
    start = time.perf_counter()
    names = proper_names(ctx.catalog_words | {ctx.shop_name})
    prompt = build_hook_prompt(brief)
    prompt_text = render_hook_prompt(lm, prompt)
    tokens = min(settings.max_new_tokens, HOOK_TOKENS[prompt.language])
    want = settings.n_variants
    budget = BUDGET_FACTOR * want + 4
    kept: list[Variant] = []
    rejected: list[Variant] = []
    failures: Counter[str] = Counter()
    generated = merged = rounds = 0
    while len(kept) < want and generated < budget:
        # First round over-generates by half; later rounds size themselves on the pass rate seen so far.
        rate = max(0.2, (len(kept) + merged) / generated) if generated else FIRST_ROUND_RATE[brief.channel]
        batch = min(MAX_BATCH, budget - generated, max(4, math.ceil((want - len(kept)) / rate)))
        seed = settings.seed + rounds * ROUND_SEED_STEP
        samples = lm.sample(
            prompt_text, batch, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
            repetition_penalty=settings.repetition_penalty, max_new_tokens=tokens, seed=seed,
            language=prompt.language,
        )
        rounds += 1
        generated += len(samples)
        for raw, finished in samples:
            variant = _candidate(raw, finished, brief, len(kept), seed, ctx, names)
            if not variant.report.clean:
                failures.update({c.name for c in variant.report.failures})
                rejected.append(variant)
                continue
            twin = next((i for i, k in enumerate(kept) if is_near_duplicate(k.hook, variant.hook)), None)
            if twin is not None:
                kept[twin] = replace(kept[twin], duplicates=kept[twin].duplicates + 1)
                merged += 1
                failures["duplicate"] += 1
                continue
            if len(kept) < want:
                kept.append(variant)
                if on_variant:
                    on_variant(variant)
        if progress:
            progress(min(1.0, len(kept) / want), f"{len(kept)} of {want} variants ready ({generated} written, "
                     f"{generated - len(kept) - merged} failed a check)")
    notes = ()
    if len(kept) < want:
        notes = (f"Only {len(kept)} of {want} variants passed the checks after {generated} tries; "
                 "change the seed, simplify the product facts or review the rejected ones.",)
    return GenerationResult(
        variants=tuple(kept), rejected=tuple(rejected), failure_counts=dict(failures.most_common()),
        generated=generated, duplicates_merged=merged, prompt=prompt, prompt_text=prompt_text, brief=brief,
        settings=settings, model_name=lm.name, seconds=time.perf_counter() - start, rounds=rounds, notes=notes,
    )


def catalog_words(store: Store | None, limit: int = 5000) -> frozenset[str]:
    """Words of the catalog's product titles and categories (names and words the checks accept)."""
    if store is None:
        return frozenset()
    import re

    rows = store.rows("SELECT title, category FROM products LIMIT ?", [limit])
    text = " ".join(f"{t or ''} {c or ''}" for t, c in rows)
    return frozenset(re.findall(r"[A-Za-z][\w'-]*|[\u3400-\u9fff]+", text))


def run_generation(
    store: Store | None,
    lm,
    brief: Brief,
    settings: GenerationSettings,
    segment: object = None,
    *,
    shop_name: str = "",
    progress: Callable[[float, str], None] | None = None,
    on_variant: Callable[[Variant], None] | None = None,
) -> GenerationResult:
    """Generate with what the store knows (customer names, catalog words): the page's and the CLI's path."""
    ctx = CopyContext(shop_name=shop_name, catalog_words=catalog_words(store), known_names=known_customer_names(store))
    result = generate_copy(lm, brief, settings, context=ctx, progress=progress, on_variant=on_variant)
    # The segment only labels the result: hooks are about the product, not the audience. It is a
    # segment reference (an object with ``name``) or the older dict form.
    name = getattr(segment, "name", None) or (segment.get("name") if isinstance(segment, dict) else None)
    return replace(result, segment_name=str(name)) if name else result
