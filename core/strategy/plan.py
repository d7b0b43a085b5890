"""Send strategies: which variants go to which segment, in what shares, and what to expect.

A ``Plan`` holds, for each segment, the candidate variants with their predicted
rates and intervals, an explicit control/holdout arm, the allocation (shares of
the segment's audience), the expected sends, conversions and revenue with
intervals, the incremental conversions over control, a "do not send" flag with
its reason, sample-size guidance and the frequency-guard count. Everything here
is pure (predictions in, plan out) except the persistence helpers at the end,
which keep every change as a new row of ``strategies`` (nothing is overwritten).

Allocation modes: ``best`` (all treated traffic to the top predicted variant),
``explore`` (Thompson sampling from Beta distributions fitted to the predicted
intervals, with a minimum share per variant) and ``manual`` (validated shares).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from core.errors import NotFoundError, ValidationError
from core.intervals import Z90, beta_from_interval
from core.prediction.types import VariantPrediction
from core.segments.catalog import SegmentRef
from core.strategy.allocation import (
    FLOOR_DEFAULT,
    HOLDOUT_DEFAULT,
    MODES,
    best_allocation,
    manual_allocation,
    thompson_allocation,
)

CONTROL_ARM = "control"


# -- value objects ---------------------------------------------------------------
@dataclass(frozen=True)
class PlanSettings:
    """How a plan allocates traffic and guards frequency."""

    mode: str = "best"
    holdout: float = HOLDOUT_DEFAULT
    floor: float = FLOOR_DEFAULT
    seed: int = 0
    draws: int = 10_000
    max_messages: int = 3
    window_days: int = 7
    exclude_over_frequency: bool = False
    send_date: str = field(default_factory=lambda: date.today().isoformat())
    power: float = 0.80
    alpha: float = 0.05

    def __post_init__(self) -> None:
        problems = []
        if self.mode not in MODES:
            problems.append(f"allocation mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not 0.0 < self.holdout < 1.0:
            problems.append(f"holdout share {self.holdout} must be above 0 and below 1 (lift needs a control)")
        if not 0.0 <= self.floor < 1.0:
            problems.append(f"minimum share {self.floor} must be between 0 and 1")
        if self.max_messages < 1 or self.window_days < 1:
            problems.append("frequency cap and window must be at least 1")
        if not 0.5 <= self.power < 1.0 or not 0.0 < self.alpha < 0.5:
            problems.append("power must be in [0.5, 1) and alpha in (0, 0.5)")
        if problems:
            raise ValidationError("Plan settings are invalid: " + "; ".join(problems), problems)


@dataclass(frozen=True)
class ArmPlan:
    """One arm of a segment plan: a variant or the control, its share and its expected outcome."""

    variant_id: str  # CONTROL_ARM for the holdout when it gets no copy
    channel: str | None
    copy_text: str | None
    is_control: bool
    share: float
    rate: float | None  # None: control without a predicted baseline
    low: float | None
    high: float | None
    lift_pts: float | None = None
    lift_low: float | None = None
    lift_high: float | None = None
    sends: int = 0
    conversions: float | None = None
    conversions_low: float | None = None
    conversions_high: float | None = None
    revenue: float | None = None
    revenue_low: float | None = None
    revenue_high: float | None = None
    thin_data: bool = False


@dataclass(frozen=True)
class SampleSize:
    """Sends needed to detect the predicted lift of the best arm over control."""

    control_needed: int | None
    variant_needed: int | None
    control_planned: int
    variant_planned: int
    enough: bool
    message: str


@dataclass(frozen=True)
class SegmentPlan:
    """Everything planned and expected for one segment."""

    segment: SegmentRef
    members: int
    audience: int  # members minus users excluded by the frequency guard
    avg_order_value: float
    control_variant_id: str | None
    arms: tuple[ArmPlan, ...]  # the control arm first
    over_frequency: int = 0
    excluded_user_ids: tuple[str, ...] = ()
    incremental: float | None = None
    incremental_low: float | None = None
    incremental_high: float | None = None
    do_not_send: bool = False
    reason: str = ""
    sample_size: SampleSize | None = None

    @property
    def control(self) -> ArmPlan:
        return self.arms[0]

    @property
    def variants(self) -> tuple[ArmPlan, ...]:
        return self.arms[1:]

    def total(self, attr: str) -> float | None:
        return sum_if_all_known([getattr(a, attr) for a in self.arms])


@dataclass(frozen=True)
class Plan:
    """A whole send strategy: settings plus one ``SegmentPlan`` per segment."""

    name: str
    settings: PlanSettings
    segments: tuple[SegmentPlan, ...]
    predictor_version: int | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


# -- expected outcomes -----------------------------------------------------------
def conversion_interval(sends: int, rate: float, low: float, high: float, z: float = Z90) -> tuple[float, float, float]:
    """Expected conversions and a 90% interval: model interval widened by binomial noise.

    low = n*low - z*sqrt(n*low*(1-low)), high = n*high + z*sqrt(n*high*(1-high)); clipped to [0, n].
    """
    n = float(sends)
    lo = n * low - z * math.sqrt(max(n * low * (1 - low), 0.0))
    hi = n * high + z * math.sqrt(max(n * high * (1 - high), 0.0))
    return n * rate, max(lo, 0.0), min(hi, n)


def split_sends(audience: int, shares: Sequence[float]) -> list[int]:
    """Whole sends per arm summing exactly to ``audience`` (largest remainders)."""
    raw = np.asarray(shares, dtype=float) * audience
    sends = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - sends), kind="stable")[: audience - int(sends.sum())]:
        sends[i] += 1
    return [int(s) for s in sends]


def required_sample_size(
    p_control: float, p_variant: float, ratio: float = 1.0, power: float = 0.80, alpha: float = 0.05
) -> tuple[int, int] | None:
    """Sends per arm (control, variant) to detect ``p_variant`` vs ``p_control`` (two-sided test).

    ``ratio`` = variant sends / control sends. Normal approximation without continuity
    correction (Fleiss): n_c = [z_a sqrt(pbar qbar (1 + 1/r)) + z_b sqrt(p_c q_c + p_v q_v / r)]^2 / d^2.
    Returns None when there is no difference to detect.
    """
    d = p_variant - p_control
    if d == 0 or ratio <= 0:
        return None
    za, zb = norm.ppf(1 - alpha / 2), norm.ppf(power)
    pbar = (p_control + ratio * p_variant) / (1 + ratio)
    term = za * math.sqrt(pbar * (1 - pbar) * (1 + 1 / ratio)) + zb * math.sqrt(
        p_control * (1 - p_control) + p_variant * (1 - p_variant) / ratio
    )
    n_control = math.ceil(term**2 / d**2)
    return n_control, math.ceil(n_control * ratio)


def _sample_size(control: ArmPlan, best: ArmPlan | None, settings: PlanSettings) -> SampleSize | None:
    if best is None or control.rate is None or best.rate is None:
        return None
    planned_c, planned_v = control.sends, best.sends
    if best.rate <= control.rate:
        return SampleSize(None, None, planned_c, planned_v, False,
                          "The best variant is not predicted to beat control: no sample size can detect a lift.")
    ratio = planned_v / planned_c if planned_c and planned_v else (1 - settings.holdout) / settings.holdout
    need = required_sample_size(control.rate, best.rate, ratio, settings.power, settings.alpha)
    assert need is not None
    enough = planned_c >= need[0] and planned_v >= need[1]
    lift = (best.rate - control.rate) * 100
    msg = (
        f"Detecting +{lift:.2f} pts ({control.rate:.2%} → {best.rate:.2%}) with {settings.power:.0%} power "
        f"needs {need[0]:,} control and {need[1]:,} sends of {best.variant_id}; the plan has "
        f"{planned_c:,} and {planned_v:,}."
    )
    if not enough:
        msg += " The audience is too small to measure this lift; widen the segment, raise the holdout or send to one variant."
    return SampleSize(need[0], need[1], planned_c, planned_v, enough, msg)


def _with_outcome(arm: ArmPlan, sends: int, aov: float) -> ArmPlan:
    # rate, low and high are set together (a prediction) or all None (a control without a baseline).
    if arm.rate is None or arm.low is None or arm.high is None:
        return replace(arm, sends=sends)
    conv, lo, hi = conversion_interval(sends, arm.rate, arm.low, arm.high)
    return replace(
        arm, sends=sends, conversions=conv, conversions_low=lo, conversions_high=hi,
        revenue=conv * aov, revenue_low=lo * aov, revenue_high=hi * aov,
    )


def _verdict(control: ArmPlan, variants: Sequence[ArmPlan]) -> tuple[bool, str]:
    scored = [(v, v.lift_pts) for v in variants if v.lift_pts is not None]
    if control.rate is None or not scored:
        return False, "No control copy and no historical rate: the lift over control cannot be estimated."
    best, lift = max(scored, key=lambda scored_arm: scored_arm[0].rate or 0.0)
    pts = lift * 100
    if best.lift_low is not None and best.lift_high is not None and best.lift_high < 0:
        return True, (
            f"Predicted to hurt: the best variant {best.variant_id} converts {pts:+.2f} pts vs control "
            f"(interval {best.lift_low * 100:+.2f} to {best.lift_high * 100:+.2f} pts). Keep the control copy."
        )
    if lift <= 0:
        return True, (
            f"The best variant {best.variant_id} is not predicted to beat control ({pts:+.2f} pts). "
            "Write stronger copy or keep the control."
        )
    if control.copy_text is None and control.variant_id == CONTROL_ARM:
        return False, "No control copy: lift is predicted against the segment's historical rate; the holdout gets no message."
    return False, ""


def assemble_segment(
    segment: SegmentRef,
    control: ArmPlan,
    candidates: Sequence[ArmPlan],
    shares: Sequence[float] | npt.NDArray[np.floating],
    *,
    members: int,
    avg_order_value: float,
    settings: PlanSettings,
    control_variant_id: str | None = None,
    over_frequency: int = 0,
    excluded_user_ids: Iterable[str] = (),
) -> SegmentPlan:
    """Put arms and shares together and compute outcomes, verdict and sample size."""
    excluded = tuple(excluded_user_ids)
    audience = max(members - len(excluded), 0)
    all_shares = [settings.holdout, *shares]
    if abs(sum(all_shares) - 1.0) > 1e-6:
        raise ValidationError(f"shares and holdout sum to {sum(all_shares):.4f}, not 1")
    sends = split_sends(audience, all_shares)
    arms = [
        _with_outcome(replace(arm, share=float(s)), n, avg_order_value)
        for arm, s, n in zip([control, *candidates], all_shares, sends)
    ]
    ctrl, variants = arms[0], arms[1:]
    inc = inc_lo = inc_hi = None
    if ctrl.rate is not None and variants:
        inc = sum(v.sends * (v.lift_pts or 0.0) for v in variants)
        inc_lo = sum(v.sends * (v.lift_low if v.lift_low is not None else 0.0) for v in variants)
        inc_hi = sum(v.sends * (v.lift_high if v.lift_high is not None else 0.0) for v in variants)
    flagged, reason = _verdict(ctrl, variants)
    best = max(variants, key=lambda v: v.rate or 0.0) if variants else None
    return SegmentPlan(
        segment=segment, members=members, audience=audience, avg_order_value=float(avg_order_value),
        control_variant_id=control_variant_id, arms=tuple(arms), over_frequency=over_frequency,
        excluded_user_ids=excluded, incremental=inc, incremental_low=inc_lo, incremental_high=inc_hi,
        do_not_send=flagged, reason=reason, sample_size=_sample_size(ctrl, best, settings),
    )


def _arm_from_prediction(p: VariantPrediction, info: Mapping[str, Any], control_rate: float | None) -> ArmPlan:
    lift = p.lift_pts
    lift_low, lift_high = p.lift_low, p.lift_high
    if control_rate is not None and lift is None:
        lift = p.rate - control_rate
    if control_rate is not None and lift_low is None:
        lift_low, lift_high = p.low - control_rate, p.high - control_rate
    return ArmPlan(
        variant_id=p.variant_id, channel=info.get("channel"), copy_text=info.get("copy_text"),
        is_control=p.is_control, share=0.0, rate=p.rate, low=p.low, high=p.high,
        lift_pts=lift, lift_low=lift_low, lift_high=lift_high, thin_data=p.thin_data,
    )


def build_segment_plan(
    segment: SegmentRef,
    predictions: Sequence[VariantPrediction],
    *,
    members: int,
    avg_order_value: float,
    settings: PlanSettings,
    variant_info: Mapping[str, Mapping[str, Any]] | None = None,
    manual_shares: Mapping[str, float] | None = None,
    over_frequency: int = 0,
    excluded_user_ids: Iterable[str] = (),
) -> SegmentPlan:
    """Plan one segment from its predictions.

    The prediction flagged ``is_control`` (at most one) becomes the holdout arm,
    which receives the control copy; without one, the holdout receives nothing
    and lift cannot be predicted. ``variant_info`` maps variant id to its
    ``channel`` and ``copy_text``.
    """
    info = variant_info or {}
    controls = [p for p in predictions if p.is_control]
    treated = [p for p in predictions if not p.is_control]
    if len(controls) > 1:
        raise ValidationError(f"segment {segment.name}: more than one control variant")
    if not treated:
        raise ValidationError(f"segment {segment.name}: choose at least one variant to send besides the control")
    ctrl_pred = controls[0] if controls else None
    if ctrl_pred is not None:
        control = _arm_from_prediction(ctrl_pred, info.get(ctrl_pred.variant_id, {}), None)
        control = replace(control, lift_pts=0.0, lift_low=None, lift_high=None)
    else:
        # No control copy: the holdout gets no message. The predictor may still give lift
        # against the segment's historical rate; then that rate is the holdout's baseline.
        base = next((p.rate - p.lift_pts for p in treated if p.lift_pts is not None), None)
        control = ArmPlan(CONTROL_ARM, None, None, True, 0.0, base, base, base, lift_pts=None)
    arms = [_arm_from_prediction(p, info.get(p.variant_id, {}), control.rate if ctrl_pred else None) for p in treated]
    shares = allocate(treated, settings, manual_shares)
    return assemble_segment(
        segment, control, arms, shares, members=members, avg_order_value=avg_order_value,
        settings=settings, control_variant_id=ctrl_pred.variant_id if ctrl_pred else None,
        over_frequency=over_frequency, excluded_user_ids=excluded_user_ids,
    )


def with_allocation(plan: Plan, segment_name: str, shares: Mapping[str, float]) -> Plan:
    """A copy of ``plan`` whose segment uses new variant shares (e.g. Thompson on observed counts)."""
    if segment_name not in {s.segment.name for s in plan.segments}:
        raise NotFoundError(f"segment {segment_name!r} is not in this plan")
    segs = []
    for seg in plan.segments:
        if seg.segment.name == segment_name:
            ids = [v.variant_id for v in seg.variants]
            arr = manual_allocation([shares.get(i, 0.0) for i in ids], plan.settings.holdout, ids)
            seg = assemble_segment(
                seg.segment, seg.control, seg.variants, arr, members=seg.members,
                avg_order_value=seg.avg_order_value, settings=plan.settings,
                control_variant_id=seg.control_variant_id, over_frequency=seg.over_frequency,
                excluded_user_ids=seg.excluded_user_ids,
            )
        segs.append(seg)
    return replace(plan, segments=tuple(segs))


# -- frequency guard -------------------------------------------------------------
def over_frequency(counts: Mapping[str, int] | pd.Series, user_ids: Iterable[str], max_messages: int) -> list[str]:
    """Users who would get more than ``max_messages`` with this plan's one extra message."""
    counts = dict(counts)
    return sorted(u for u in set(user_ids) if counts.get(u, 0) + 1 > max_messages)


# -- serialization ---------------------------------------------------------------
def plan_to_dict(plan: Plan) -> dict:
    return asdict(plan)


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    try:
        segs = []
        for s in data["segments"]:
            s = dict(s)
            s["segment"] = SegmentRef(**s["segment"])
            s["arms"] = tuple(ArmPlan(**a) for a in s["arms"])
            s["excluded_user_ids"] = tuple(s.get("excluded_user_ids") or ())
            s["sample_size"] = SampleSize(**s["sample_size"]) if s.get("sample_size") else None
            segs.append(SegmentPlan(**s))
        return Plan(
            name=data["name"], settings=PlanSettings(**data["settings"]), segments=tuple(segs),
            predictor_version=data.get("predictor_version"), created_at=data.get("created_at", ""),
        )
    except (KeyError, TypeError) as err:
        raise ValidationError(f"saved plan cannot be read ({err}); it was written by another version") from err


def allocate(
    predictions: Sequence[VariantPrediction], settings: PlanSettings, manual: Mapping[str, float] | None = None
) -> np.ndarray:
    """Shares for the treated predictions under the plan's allocation mode."""
    if settings.mode == "best":
        return best_allocation([p.rate for p in predictions], settings.holdout)
    if settings.mode == "explore":
        params = [beta_from_interval(p.rate, p.low, p.high) for p in predictions]
        return thompson_allocation(
            [x[0] for x in params], [x[1] for x in params], floor=settings.floor,
            holdout=settings.holdout, seed=settings.seed, draws=settings.draws,
        )
    manual = manual or {}
    missing = [p.variant_id for p in predictions if p.variant_id not in manual]
    if missing:
        raise ValidationError(f"manual allocation lacks a share for {', '.join(missing)}")
    ids = [p.variant_id for p in predictions]
    return manual_allocation([manual[i] for i in ids], settings.holdout, ids)


def sum_if_all_known(values: Sequence[float | None]) -> float | None:
    """The sum, or None when any value is unknown (a partial total would read as the whole)."""
    known = [v for v in values if v is not None]
    return float(sum(known)) if len(known) == len(values) else None
