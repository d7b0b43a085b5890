"""Generate copy variants for a brief: sample in batches, check, keep what passes.

``generate_copy`` over-generates in seeded batches (one batched ``generate``
call per round, never one call per variant), cleans each text, runs the
guardrails, merges near-duplicates and stops when it has enough passing
variants or has spent its sample budget. The same brief, settings, prompt and
seed give the same variants. ``run_generation`` is the one entry point the
Copy Lab page and the command line share.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from core.errors import GenerationError
from core.generation.brief import LANGUAGES, Brief
from core.generation.guardrails import (
    GuardrailReport, check_copy, clean_model_text, first_sentences, is_near_duplicate,
)
from core.generation.model import LanguageModel
from core.generation.prompt import Prompt, prepare_prompt
from core.generation.settings import GenerationSettings
from core.segments import EVERYONE, SegmentRef
from core.store import Store

MAX_BATCH = 16  # sequences per generate call; more costs memory for little speed
BUDGET_FACTOR = 4  # give up after sampling this many times the requested variants
ROUND_SEED_STEP = 7919  # each round's seed = seed + round * step, so rounds never repeat


@dataclass(frozen=True)
class Variant:
    """One candidate text with its guardrail report."""

    text: str
    report: GuardrailReport
    seed: int
    raw: str = ""
    duplicates: int = 0  # near-identical candidates merged into this one


@dataclass(frozen=True)
class GenerationResult:
    """What one generation run produced, kept and rejected."""

    variants: tuple[Variant, ...]
    rejected: tuple[Variant, ...]
    failure_counts: dict[str, int]
    generated: int
    duplicates_merged: int
    prompt: Prompt
    prompt_text: str
    brief: Brief
    settings: GenerationSettings
    model_name: str
    seconds: float
    rounds: int = 1
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def pass_rate(self) -> float:
        return (len(self.variants) + self.duplicates_merged) / max(1, self.generated)

    def to_dict(self) -> dict:
        def one(v: Variant) -> dict:
            return {"text": v.text, "duplicates": v.duplicates, "seed": v.seed, "guardrails": v.report.to_dict()}

        return {
            "model": self.model_name, "brief": self.brief.to_dict(), "settings": self.settings.to_dict(),
            "segment": self.prompt.segment_name, "segment_description": self.prompt.segment_description,
            "prompt": self.prompt_text, "variants": [one(v) for v in self.variants],
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


def generate_copy(
    lm: LanguageModel,
    prompt: Prompt,
    brief: Brief,
    settings: GenerationSettings,
    *,
    known_names: frozenset[str] = frozenset(),
    progress: Callable[[float, str], None] | None = None,
    on_variant: Callable[[Variant], None] | None = None,
) -> GenerationResult:
    """Sample, check and keep up to ``settings.n_variants`` passing variants.

    ``progress(fraction, message)`` is called after each batch; ``on_variant``
    as soon as each passing variant is kept, so a page can show it at once.
    """
    if lm.languages is not None and brief.language not in lm.languages:
        raise GenerationError(
            f"{lm.name} does not write {LANGUAGES[brief.language]} well; choose English or configure "
            "another model with COPYLIFT_MODEL."
        )
    start = time.perf_counter()
    prompt_text = lm.render(prompt.messages)
    want = settings.n_variants
    budget = BUDGET_FACTOR * want + 4
    kept: list[Variant] = []
    rejected: list[Variant] = []
    failures: Counter[str] = Counter()
    generated = merged = rounds = 0
    while len(kept) < want and generated < budget:
        # First round over-generates by 50%; later rounds size themselves on the pass rate seen so far.
        rate = max(0.2, (len(kept) + merged) / generated) if generated else 0.67
        batch = min(MAX_BATCH, budget - generated, max(4, math.ceil((want - len(kept)) / rate)))
        seed = settings.seed + rounds * ROUND_SEED_STEP
        samples = lm.sample(
            prompt_text, batch, temperature=settings.temperature, top_p=settings.top_p, top_k=settings.top_k,
            repetition_penalty=settings.repetition_penalty, max_new_tokens=settings.max_new_tokens, seed=seed,
        )
        rounds += 1
        generated += len(samples)
        for raw, finished in samples:
            text = clean_model_text(raw)
            short = first_sentences(text, brief.limit)
            if short and short != text:
                # The model ran on past the channel's length; its opening sentences are the copy.
                text, finished = short, True
            report = check_copy(text, brief, known_names=known_names, finished=finished, from_model=True)
            variant = Variant(text=text, report=report, seed=seed, raw=raw)
            if not report.clean:
                failures.update({c.name for c in report.failures})
                rejected.append(variant)
                continue
            twin = next((i for i, k in enumerate(kept) if is_near_duplicate(k.text, text)), None)
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
                 "lower the temperature, simplify the brief or review the rejected ones.",)
    return GenerationResult(
        variants=tuple(kept), rejected=tuple(rejected), failure_counts=dict(failures.most_common()),
        generated=generated, duplicates_merged=merged, prompt=prompt, prompt_text=prompt_text, brief=brief,
        settings=settings, model_name=lm.name, seconds=time.perf_counter() - start, rounds=rounds, notes=notes,
    )


def run_generation(
    store: Store | None,
    lm: LanguageModel,
    brief: Brief,
    settings: GenerationSettings,
    segment: SegmentRef = EVERYONE,
    *,
    progress: Callable[[float, str], None] | None = None,
    on_variant: Callable[[Variant], None] | None = None,
) -> GenerationResult:
    """Build the prompt from the store (segment, past copy) and generate: the page's and the CLI's path."""
    prompt = prepare_prompt(store, brief, segment)
    return generate_copy(lm, prompt, brief, settings, known_names=known_customer_names(store),
                         progress=progress, on_variant=on_variant)
