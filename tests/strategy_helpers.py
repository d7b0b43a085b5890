"""Hand-made predictions and plans shared by the strategy and export tests."""

from __future__ import annotations

from core.prediction.types import VariantPrediction
from core.segments.catalog import SegmentRef
from core.strategy.plan import Plan, PlanSettings, build_segment_plan


def pred(vid: str, rate: float, low: float, high: float, *, control_rate: float | None = 0.02,
         is_control: bool = False, segment: str = "Seg A") -> VariantPrediction:
    lift = None if control_rate is None or is_control else rate - control_rate
    return VariantPrediction(
        variant_id=vid, segment_name=segment, rate=rate, low=low, high=high, n_members=1000,
        is_control=is_control, lift_pts=lift,
        lift_low=None if lift is None else low - control_rate,
        lift_high=None if lift is None else high - control_rate,
        model_version=3,
    )


INFO = {
    "ctrl": {"channel": "email_subject", "copy_text": "Our spring collection is here"},
    "v1": {"channel": "email_subject", "copy_text": "20% off spring picks, today only"},
    "v2": {"channel": "email_subject", "copy_text": "Free shipping on your favourites"},
}


def simple_plan(settings: PlanSettings | None = None, members: int = 1000, name: str = "Spring") -> Plan:
    settings = settings or PlanSettings(mode="explore", holdout=0.1, floor=0.05, seed=7, draws=2000)
    preds = [pred("ctrl", 0.02, 0.018, 0.022, is_control=True), pred("v1", 0.03, 0.025, 0.035),
             pred("v2", 0.025, 0.02, 0.03)]
    seg = build_segment_plan(SegmentRef("seg-a", 1, "Seg A"), preds, members=members, avg_order_value=50.0,
                             settings=settings, variant_info=INFO)
    return Plan(name=name, settings=settings, segments=(seg,), predictor_version=3)
