"""Value objects that the predictor hands to the Predict, Strategy and Results pages."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reason:
    """One feature group's contribution to a variant's prediction, in points (0.004 = 0.4 pts)."""

    label: str  # plain words, e.g. "mentions 20% off"
    effect: float  # change in predicted rate when this feature group is neutralized, signed


@dataclass(frozen=True)
class VariantPrediction:
    """Predicted rate of one variant for one segment, with its intervals and reasons.

    Rates are probabilities (0.023 = 2.3%). ``low``/``high`` cover model
    uncertainty (90% interval); ``send_low``/``send_high`` add the sampling noise
    of a planned send of ``send_size`` users.
    """

    variant_id: str
    segment_name: str
    rate: float
    low: float
    high: float
    n_members: int
    send_size: int | None = None
    send_low: float | None = None
    send_high: float | None = None
    is_control: bool = False
    lift_pts: float | None = None  # rate - control rate
    lift_low: float | None = None
    lift_high: float | None = None
    lift_pct: float | None = None  # relative, 0.25 = +25%
    reasons: tuple[Reason, ...] = field(default_factory=tuple)
    thin_data: bool = False  # rests on few comparable training rows
    out_of_distribution: bool = False  # copy features far from anything seen in training
    model_version: int | None = None
