"""Sampling settings for copy generation, with per-channel defaults.

``GenerationSettings`` is frozen and validated on creation; ``HELP`` holds the
one-line explanation the Copy Lab shows next to each control.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace

from core.errors import ValidationError

MAX_VARIANTS = 20
REGEN_SEED_STEP = 1_000_003  # far past the seeds of one run's rounds (seed + round * 7919)

HELP = {
    "temperature": "Higher = bolder, more varied wording (and more invented details); lower = safer, "
    "more similar lines.",
    "top_p": "Only words from the most likely share of choices are used; lower = more conventional copy.",
    "top_k": "Only the k most likely next words are considered; 0 turns the limit off.",
    "repetition_penalty": "Above 1 discourages repeating words within a line.",
    "max_new_tokens": "Upper bound on the hook the model writes (about 4 characters per token); the offer, code "
    "and call to action are added by CopyLift.",
    "n_variants": "How many passing variants to return (1-20). More are generated and checked behind the scenes.",
    "seed": "Same brief + same settings + same seed = the same variants. Change it for new ideas.",
}


@dataclass(frozen=True)
class GenerationSettings:
    """How the model samples. See ``HELP`` for what each knob does to the copy."""

    temperature: float = 0.8
    top_p: float = 0.92
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int = 40
    n_variants: int = 8
    seed: int = 42

    def __post_init__(self) -> None:
        problems = []
        checks = [
            ("temperature", 0.05, 2.0), ("top_p", 0.05, 1.0), ("top_k", 0, 500),
            ("repetition_penalty", 1.0, 2.0), ("max_new_tokens", 8, 256),
            ("n_variants", 1, MAX_VARIANTS), ("seed", 0, 2**31 - 1),
        ]
        for name, low, high in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                problems.append(f"{name}: {value!r} is not a number")
            elif not low <= value <= high:
                problems.append(f"{name}: {value} must be between {low} and {high}")
            elif isinstance(low, int) and isinstance(high, int) and value != int(value):
                problems.append(f"{name}: {value} must be a whole number")
        if problems:
            raise ValidationError("Invalid generation settings: " + "; ".join(problems), problems)
        for name in ("top_k", "max_new_tokens", "n_variants", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))

    def to_dict(self) -> dict:
        return asdict(self)

    def for_regeneration(self, n: int) -> GenerationSettings:
        """Settings for the ``n``-th "regenerate this one": one variant, a seed no earlier run used.

        The step is far larger than the round offsets of one run (``generate.ROUND_SEED_STEP`` per
        round), so a regeneration never replays a batch an earlier run or regeneration sampled.
        """
        if n < 1:
            raise ValidationError("regeneration counts start at 1")
        return replace(self, n_variants=1, seed=(self.seed + REGEN_SEED_STEP * n) % 2**31)

    def settings_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]


# The model writes only the hook (3-8 words), so every channel needs few tokens. Temperature 0.5:
# in the blind read of benchmarks/copy_eval.py (README), Gemma's hooks at 0.5 were sendable as-is
# 41% of the time against 32% at the earlier 0.7-0.8 channel defaults, in the same run.
CHANNEL_DEFAULTS: dict[str, GenerationSettings] = {
    "email_subject": GenerationSettings(temperature=0.5, max_new_tokens=20),
    "push": GenerationSettings(temperature=0.5, max_new_tokens=20),
    "sms": GenerationSettings(temperature=0.5, max_new_tokens=20),
    "banner": GenerationSettings(temperature=0.5, max_new_tokens=20),
}


def default_settings(channel: str, **overrides: object) -> GenerationSettings:
    """The channel's defaults with some fields replaced (validated)."""
    base = CHANNEL_DEFAULTS.get(channel, GenerationSettings())
    clean = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(clean) - set(GenerationSettings.__dataclass_fields__)
    if unknown:
        raise ValidationError(f"unknown generation settings: {', '.join(sorted(unknown))}")
    return replace(base, **clean)
