"""Traffic allocation between a segment's arms: best predicted, Thompson "explore" with a floor, or manual, always with an explicit holdout."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.errors import ValidationError

MODES = ("best", "explore", "manual")
HOLDOUT_DEFAULT = 0.10
FLOOR_DEFAULT = 0.01


# -- allocation ------------------------------------------------------------------
def thompson_allocation(
    alphas: Sequence[float],
    betas: Sequence[float],
    *,
    floor: float = FLOOR_DEFAULT,
    holdout: float = HOLDOUT_DEFAULT,
    seed: int = 0,
    draws: int = 10_000,
) -> np.ndarray:
    """Shares of the whole audience per arm, proportional to P(arm is best), with a floor.

    Each arm gets ``floor`` plus its probability of being best times what is left
    of the treated traffic, so the shares sum to ``1 - holdout`` and none is below
    ``floor``. Reusable with posterior counts: alphas = 1 + conversions, betas = 1 + misses.
    """
    a = np.asarray(alphas, dtype=float)
    b = np.asarray(betas, dtype=float)
    k = len(a)
    if k == 0 or len(b) != k:
        raise ValidationError("Thompson allocation needs one alpha and one beta per variant")
    if np.any(a <= 0) or np.any(b <= 0):
        raise ValidationError("Beta parameters must be positive")
    treated = 1.0 - holdout
    if k * floor > treated + 1e-12:
        raise ValidationError(
            f"{k} variants x {floor:.1%} minimum share is more than the {treated:.0%} of traffic "
            "left after the holdout; lower the minimum share or choose fewer variants"
        )
    rng = np.random.default_rng(seed)
    samples = rng.beta(a, b, size=(int(draws), k))
    p_best = np.bincount(samples.argmax(axis=1), minlength=k) / samples.shape[0]
    return floor + (treated - k * floor) * p_best


def best_allocation(rates: Sequence[float], holdout: float = HOLDOUT_DEFAULT) -> np.ndarray:
    """All treated traffic to the highest predicted rate (first one on ties)."""
    if len(rates) == 0:
        raise ValidationError("choose at least one variant")
    shares = np.zeros(len(rates))
    shares[int(np.argmax(rates))] = 1.0 - holdout
    return shares


def manual_allocation(shares: Sequence[float], holdout: float, labels: Sequence[str] | None = None) -> np.ndarray:
    """Validate shares the marketer typed: each in [0, 1], together with the holdout summing to 1."""
    arr = np.asarray(shares, dtype=float)
    labels = list(labels or [str(i + 1) for i in range(len(arr))])
    problems = [f"{lab}: share {s} is not between 0 and 1" for lab, s in zip(labels, arr) if not 0 <= s <= 1]
    total = float(arr.sum()) + holdout
    if abs(total - 1.0) > 1e-3:
        problems.append(
            f"variant shares sum to {arr.sum():.1%} and the holdout is {holdout:.1%}: together "
            f"{total:.1%}, not 100%; adjust the shares so they add up to {1 - holdout:.1%}"
        )
    if problems:
        raise ValidationError("Manual shares are invalid: " + "; ".join(problems), problems)
    return arr
