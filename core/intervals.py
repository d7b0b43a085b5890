"""Interval facts shared by prediction, planning and the trust checks.

Predictions carry 90% intervals; planning (Thompson allocation) and the trust
checks (predicted vs observed) both turn such an interval into a Beta
distribution. One definition of each, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from core.errors import ValidationError

Z90 = 1.6448536269514722  # stats.norm.ppf(0.95): predictions carry 90% intervals
# Cap on the Beta's pseudo-count alpha + beta: a model interval is never worth more than this many
# observed sends, so measured results can always overrule a prediction.
MAX_PSEUDO_SENDS = 5000.0


def beta_from_interval(
    rate: float, low: float, high: float, level: float = 0.90, max_pseudo: float = MAX_PSEUDO_SENDS
) -> tuple[float, float]:
    """A Beta(alpha, beta) with mean ``rate`` whose spread matches the interval ``low``-``high``.

    Method of moments with sd = width / (2 z); the pseudo-count ``alpha + beta``
    is capped at ``max_pseudo`` so that observed data can always overrule the
    model, and floored at 2 (a flat-ish prior) for very wide intervals.
    """
    if not 0 <= low <= rate <= high <= 1:
        raise ValidationError(f"need 0 <= low <= rate <= high <= 1, got {low}, {rate}, {high}")
    m = min(max(rate, 1e-6), 1 - 1e-6)
    z = Z90 if level == 0.90 else float(stats.norm.ppf(0.5 + level / 2))
    sd = (high - low) / (2 * z)
    k = max_pseudo if sd <= 0 else m * (1 - m) / sd**2 - 1
    k = float(np.clip(k, 2.0, max_pseudo))
    return m * k, (1 - m) * k
