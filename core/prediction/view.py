"""What the Predict page shows, computed here so the page stays a short script.

Tidy frames for the per-variant table, the managers' segment x variant lift
matrix, and the expected incremental conversions and revenue of a planned send.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from core.errors import CopyLiftError
from core.generation.working_set import list_working_set
from core.number_format import DEFAULT_CURRENCY, Headline, money
from core.prediction.model import Predictor
from core.prediction.scoring import predict_variants, predictions_frame
from core.prediction.types import VariantPrediction
from core.store import Store


def default_control_index(rows: pd.DataFrame, options: Sequence[str]) -> int:
    """Where a control picker starts: the first row flagged ``is_control`` among ``options``, else the first option.

    The one rule for the Predict page's control and the Results page's control arm.
    """
    flagged = rows.loc[rows["is_control"].fillna(False).astype(bool), "variant_id"].astype(str)
    return next((list(options).index(v) for v in flagged if v in options), 0)


def candidate_variants(store: Store) -> tuple[pd.DataFrame, str]:
    """Variants to score: the Copy Lab's working set, else past variants (and which it is)."""
    working = list_working_set(store)
    if not working.empty:
        return working.assign(is_control=False), "working set"
    past = store.df(
        """SELECT v.variant_id, v.campaign_id, c.name AS campaign, v.channel, v.copy_text,
                  coalesce(v.offer_type, c.offer_type) AS offer_type,
                  coalesce(v.offer_value, c.offer_value) AS offer_value,
                  coalesce(v.promo_code, c.promo_code) AS promo_code,
                  coalesce(v.category, c.category) AS category, v.is_control
           FROM variants v LEFT JOIN campaigns c ON c.campaign_id = v.campaign_id
           ORDER BY v.campaign_id, v.variant_id"""
    )
    return past, "past variants"


def prediction_table(predictions: Sequence[VariantPrediction], variants: pd.DataFrame,
                     outcome: str = "conversion") -> pd.DataFrame:
    """Predictions joined with each variant's text, in percent for people to read."""
    frame = predictions_frame(predictions, outcome)
    text = variants[["variant_id", "copy_text", "channel"]].astype({"variant_id": str})
    frame = frame.merge(text, on="variant_id", how="left")
    scale = 1.0 if outcome == "revenue" else 100.0
    for col in ("rate", "low", "high", "send_low", "send_high", "lift_pts", "lift_low", "lift_high"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce") * scale
    frame["lift_pct"] = pd.to_numeric(frame["lift_pct"], errors="coerce") * 100
    return frame


def chart_rows(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the predicted-rate chart: every variant, plus the control it is compared with.

    When no variant is the control, lift is measured against the segment's historical
    rate on each channel; that rate (rate minus lift, the same for every variant of a
    channel) becomes a grey control bar, so the chart shows what the lifts are over.
    """
    if table.empty or table["is_control"].fillna(False).astype(bool).any():
        return table
    known = table.dropna(subset=["lift_pts"])
    if known.empty:
        return table
    base = (known["rate"] - known["lift_pts"]).groupby(known["channel"].fillna("unknown channel")).first()
    history = pd.DataFrame({
        "variant_id": [f"segment's history, {channel}" for channel in base.index],
        "rate": base.to_numpy(), "low": base.to_numpy(), "high": base.to_numpy(), "is_control": True,
        "channel": base.index.to_numpy(),
    })
    return pd.concat([table, history], ignore_index=True)


def incremental_outcomes(predictions: Sequence[VariantPrediction], send_size: int,
                         revenue_per_conversion: float) -> pd.DataFrame:
    """Expected extra conversions and revenue over the control for a send of ``send_size``."""
    rows = []
    for p in predictions:
        if p.lift_pts is None or p.lift_low is None or p.lift_high is None:
            continue
        rows.append({
            "variant_id": p.variant_id,
            "extra_conversions": p.lift_pts * send_size,
            "extra_low": p.lift_low * send_size,
            "extra_high": p.lift_high * send_size,
            "extra_revenue": p.lift_pts * send_size * revenue_per_conversion,
            "revenue_low": p.lift_low * send_size * revenue_per_conversion,
            "revenue_high": p.lift_high * send_size * revenue_per_conversion,
        })
    return pd.DataFrame(rows)


def best_variant_headline(extra: pd.DataFrame, send_size: int,
                          currency: str = DEFAULT_CURRENCY) -> Headline | None:
    """The managers' headline: the variant with the most expected extra conversions, if it beats the control.

    When every variant is predicted at or below the control, calling one of them
    "best" would mislead: the headline says so and names the closest one instead.
    """
    if extra.empty:
        return None
    best = extra.sort_values("extra_conversions").iloc[-1]
    interval = f"90% interval {money(best['revenue_low'], currency)} to {money(best['revenue_high'], currency)}"
    if best["extra_conversions"] <= 0:
        return Headline(f"No variant beats the control (closest: {best['variant_id']}); extra revenue for "
                        f"{send_size:,} sends", money(best["extra_revenue"], currency), interval)
    return Headline(f"Best variant {best['variant_id']}: extra revenue for {send_size:,} sends",
                    money(best["extra_revenue"], currency), interval)


def revenue_per_conversion(store: Store) -> float:
    """Mean revenue of a converted exposure (0 when there is no history)."""
    value = store.scalar("SELECT avg(revenue) FROM exposures WHERE converted AND revenue > 0")
    if value is None:
        value = store.scalar("SELECT sum(revenue) / nullif(sum(conversions), 0) FROM variant_results")
    return float(value or 0.0)


def lift_matrix(store: Store, predictor: Predictor, variants: pd.DataFrame, segments: Sequence,
                control_variant_id: str | None = None,
                progress: Callable[[float, str], None] | None = None) -> pd.DataFrame:
    """Predicted lift (points) per segment x variant, tidy: segment, variant_id, lift_pts, rate."""
    rows = []
    for i, seg in enumerate(segments):
        name = getattr(seg, "name", None) or "All customers"
        if progress:
            progress(i / max(len(segments), 1), f"Scoring {name}")
        try:
            preds = predict_variants(store, predictor, variants, seg, control_variant_id, sample_size=2000)
        except CopyLiftError:  # an empty segment must not hide the others
            continue
        for p in preds:
            rows.append({"segment": name, "variant_id": p.variant_id, "rate": p.rate,
                         "lift_pts": np.nan if p.lift_pts is None else p.lift_pts})
    if progress:
        progress(1.0, "Done")
    return pd.DataFrame(rows, columns=["segment", "variant_id", "rate", "lift_pts"])


def model_description(metrics: dict, outcome: str) -> str:
    """Plain words for what a model predicts and what it learned from (Predict page, CLI)."""
    sources = {"exposure": "user-level sends", "aggregate": "aggregate results per variant"}
    learned = " and ".join(sources.get(s, s) for s in metrics.get("sources", [])) or "unknown data"
    text = metrics.get("text_representation") or "interpretable copy features"
    return (f"Predicts **{metrics.get('outcome', outcome)}** per send, learned from {learned} "
            f"({metrics.get('n_campaigns', 0):,} campaigns, {metrics.get('n_variants', 0):,} variants). "
            f"Copy is read as: {text}.")
