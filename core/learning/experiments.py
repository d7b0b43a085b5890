"""Honest A/B readouts: each variant against the control, per segment.

The statistics a manager needs before believing a lift: conversion rate with a
Wilson interval, absolute lift with a Newcombe (hybrid score) interval,
relative lift with a log-ratio (Katz) interval, the pooled two-proportion z
test with a Holm correction across the variants of a segment, the Bayesian
probability of each arm being best (Beta-Binomial posterior), revenue per send
(bootstrap when user-level revenue exists), and a sequential-safe reading: an
always-valid confidence sequence (normal-mixture mSPRT, Johari et al. 2017) so
that looking at the numbers before the planned sample size does not inflate
false wins. ``readout`` ties them together and writes the plain-language
summary; every helper is a pure function of counts so it can be checked by hand.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import special, stats

from core.errors import ValidationError

ARM_COLUMNS = ("segment_name", "variant_id", "sends", "conversions", "revenue", "is_control")


def _z(conf: float) -> float:
    if not 0 < conf < 1:
        raise ValidationError(f"confidence level must be between 0 and 1, got {conf}")
    return float(stats.norm.ppf(0.5 + conf / 2))


def _check_counts(x: int, n: int) -> None:
    if n < 0 or x < 0 or x > n:
        raise ValidationError(f"counts must satisfy 0 <= conversions <= sends, got {x} of {n}")


def wilson_interval(x: int, n: int, conf: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``x / n``; (0, 1) when ``n`` is 0."""
    _check_counts(x, n)
    if n == 0:
        return 0.0, 1.0
    z = _z(conf)
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    x_control: int, n_control: int, x_variant: int, n_variant: int, conf: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p_variant - p_control`` (his method 10)."""
    p1, p2 = x_control / n_control, x_variant / n_variant
    l1, u1 = wilson_interval(x_control, n_control, conf)
    l2, u2 = wilson_interval(x_variant, n_variant, conf)
    d = p2 - p1
    return d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def relative_lift_interval(
    x_control: int, n_control: int, x_variant: int, n_variant: int, conf: float = 0.95
) -> tuple[float | None, float | None, float | None]:
    """Relative lift ``p_v / p_c - 1`` with a Katz log-ratio interval.

    Returns ``(None, None, None)`` when either arm has no conversions (the ratio
    or its log is undefined there; report the absolute lift instead).
    """
    if x_control == 0 or x_variant == 0:
        return None, None, None
    ratio = (x_variant / n_variant) / (x_control / n_control)
    se = math.sqrt(1 / x_variant - 1 / n_variant + 1 / x_control - 1 / n_control)
    z = _z(conf)
    return ratio - 1, math.exp(math.log(ratio) - z * se) - 1, math.exp(math.log(ratio) + z * se) - 1


def two_proportion_z_test(
    x_control: int, n_control: int, x_variant: int, n_variant: int
) -> tuple[float, float]:
    """Pooled two-sided z test of equal rates; returns ``(z, p_value)``."""
    pooled = (x_control + x_variant) / (n_control + n_variant)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_control + 1 / n_variant))
    if se == 0:
        return 0.0, 1.0
    z = (x_variant / n_variant - x_control / n_control) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def beta_posterior(
    conversions: int, sends: int, prior_alpha: float = 1.0, prior_beta: float = 1.0
) -> tuple[float, float]:
    """Beta-Binomial update: ``Beta(a, b)`` prior plus ``x`` of ``n`` gives ``Beta(a + x, b + n - x)``."""
    _check_counts(conversions, sends)
    if prior_alpha <= 0 or prior_beta <= 0:
        raise ValidationError("Beta prior parameters must be positive")
    return prior_alpha + conversions, prior_beta + sends - conversions


def prob_beats_exact(alpha_a: float, beta_a: float, alpha_b: int, beta_b: float) -> float:
    """Exact P(p_B > p_A) for independent Beta posteriors (needs whole-number ``alpha_b``).

    Evan Miller's closed form: sum over i < alpha_b of
    B(alpha_a + i, beta_a + beta_b) / ((beta_b + i) B(1 + i, beta_b) B(alpha_a, beta_a)).
    """
    if int(alpha_b) != alpha_b:
        raise ValidationError("the exact formula needs a whole-number alpha for arm B")
    i = np.arange(int(alpha_b))
    log_terms = (
        special.betaln(alpha_a + i, beta_a + beta_b)
        - np.log(beta_b + i)
        - special.betaln(1 + i, beta_b)
        - special.betaln(alpha_a, beta_a)
    )
    return float(np.exp(log_terms).sum())


def posterior_draws(
    alphas: Sequence[float], betas: Sequence[float], draws: int = 20_000, seed: int = 0
) -> np.ndarray:
    """Monte Carlo draws from independent Beta posteriors, shape ``(draws, arms)``."""
    rng = np.random.default_rng(seed)
    return rng.beta(np.asarray(alphas, float), np.asarray(betas, float), size=(draws, len(alphas)))


def prob_best(
    conversions: Sequence[int],
    sends: Sequence[int],
    prior_alpha: float | Sequence[float] = 1.0,
    prior_beta: float | Sequence[float] = 1.0,
    draws: int = 20_000,
    seed: int = 0,
) -> np.ndarray:
    """Probability that each arm has the highest rate, under Beta-Binomial posteriors."""
    x = np.asarray(conversions, int)
    n = np.asarray(sends, int)
    if np.any(x < 0) or np.any(x > n):
        raise ValidationError("each arm needs 0 <= conversions <= sends")
    a = np.broadcast_to(np.asarray(prior_alpha, float), x.shape) + x
    b = np.broadcast_to(np.asarray(prior_beta, float), x.shape) + n - x
    samples = posterior_draws(a, b, draws, seed)
    wins = np.bincount(samples.argmax(axis=1), minlength=len(x))
    return wins / draws


def confidence_sequence(
    x_control: int,
    n_control: int,
    x_variant: int,
    n_variant: int,
    alpha: float = 0.05,
    mixture_sd: float | None = None,
) -> tuple[float, float, float]:
    """Always-valid interval and p-value for ``p_variant - p_control`` (normal-mixture mSPRT).

    Valid however often it is looked at: the mixture likelihood ratio
    ``sqrt(V / (V + t^2)) * exp(t^2 d^2 / (2 V (V + t^2)))`` is a test
    martingale, so the interval ``d +- sqrt(V (V + t^2) / t^2 * (2 log(1/alpha)
    + log((V + t^2) / V)))`` covers the true difference at every look with
    probability ``1 - alpha``. ``t`` (``mixture_sd``) is the effect size the
    test is tuned for; by default a quarter of the pooled rate, a typical
    relative lift for marketing copy.

    Returns ``(low, high, always_valid_p)``.
    """
    p1, p2 = x_control / n_control, x_variant / n_variant
    pooled = (x_control + x_variant) / (n_control + n_variant)
    # Pooled-rate variance keeps V positive when an arm has 0 conversions so far.
    var = max(pooled * (1 - pooled), 1e-12) * (1 / n_control + 1 / n_variant)
    tau2 = (mixture_sd if mixture_sd is not None else max(0.25 * pooled, 1e-3)) ** 2
    d = p2 - p1
    half = math.sqrt(var * (var + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((var + tau2) / var)))
    log_lr = 0.5 * math.log(var / (var + tau2)) + tau2 * d * d / (2 * var * (var + tau2))
    return d - half, d + half, float(min(1.0, math.exp(-log_lr)))


def bootstrap_revenue_per_send(
    revenue: np.ndarray, conf: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean revenue per send with a percentile bootstrap interval, from one value per user.

    Most users spend nothing, so the resample is drawn in two steps that give
    exactly the distribution of a plain resample with replacement: the number
    of buyers ~ Binomial(n, buyers / n), then that many amounts drawn from the
    buyers' amounts. Fast for hundreds of thousands of sends.
    """
    values = np.asarray(revenue, float)
    n = len(values)
    if n == 0:
        raise ValidationError("no sends to compute revenue per send from")
    paid = values[values != 0]
    rng = np.random.default_rng(seed)
    buyers = rng.binomial(n, len(paid) / n, size=n_boot) if len(paid) else np.zeros(n_boot, int)
    totals = np.array([rng.choice(paid, size=k).sum() if k else 0.0 for k in buyers])
    means = totals / n
    lo, hi = np.quantile(means, [(1 - conf) / 2, (1 + conf) / 2])
    return float(values.mean()), float(lo), float(hi)


def aggregate_revenue_per_send(
    conversions: int, sends: int, revenue: float, conf: float = 0.95
) -> tuple[float, float | None, float | None]:
    """Revenue per send from totals only: the conversion-rate interval times the average order.

    Without user-level amounts the spread of order values is unknown, so the
    interval treats the average order value as fixed (it is narrower than the
    truth); the readout labels it as such.
    """
    if sends == 0:
        raise ValidationError("no sends to compute revenue per send from")
    if conversions == 0:
        return revenue / sends, None, None
    aov = revenue / conversions
    lo, hi = wilson_interval(conversions, sends, conf)
    return revenue / sends, lo * aov, hi * aov


@dataclass(frozen=True)
class Readout:
    """The result of ``readout``: one row per segment x arm, a summary, and warnings."""

    table: pd.DataFrame
    summary: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.summary)


def _pts(v: float) -> str:
    return f"{v * 100:+.1f} pts"


def _range(lo: float, hi: float) -> str:
    return f"{lo * 100:.1f} to {hi * 100:.1f}" if lo < 0 < hi or hi < 0 else f"{lo * 100:.1f}-{hi * 100:.1f}"


def readout(
    arms: pd.DataFrame,
    user_revenue: pd.DataFrame | None = None,
    *,
    conf: float = 0.95,
    planned_sends_per_arm: int | None = None,
    labels: dict[str, str] | None = None,
    mixture_sd: float | None = None,
    seed: int = 0,
    draws: int = 20_000,
) -> Readout:
    """Read out an experiment: every variant against its segment's control.

    Parameters
    ----------
    arms:
        One row per segment x arm with columns ``segment_name, variant_id,
        sends, conversions, revenue, is_control``; exactly one control per segment.
    user_revenue:
        Optional user-level frame ``segment_name, variant_id, revenue`` (one row
        per send, 0 for non-buyers); revenue intervals are then bootstrapped.
    planned_sends_per_arm:
        The sample size the test was planned for. Before every arm reaches it,
        decisions use the always-valid interval and a "do not peek" warning is given.
    labels:
        Display names for variant ids in the summary ("Variant B").
    """
    missing = [c for c in ARM_COLUMNS if c not in arms.columns]
    if missing:
        raise ValidationError(f"results lack columns: {', '.join(missing)}")
    labels = labels or {}
    alpha = 1 - conf
    rows: list[dict] = []
    summary: list[str] = []
    warnings: list[str] = []
    for segment, group in arms.groupby("segment_name", sort=False):
        group = group.reset_index(drop=True)
        control = _check_segment(str(segment), group)
        xc, nc = int(control["conversions"]), int(control["sends"])
        interim = planned_sends_per_arm is not None and int(group["sends"].min()) < planned_sends_per_arm
        if interim:
            warnings.append(
                f"{segment}: do not peek - the smallest arm has {int(group['sends'].min()):,} of the planned "
                f"{planned_sends_per_arm:,} sends, so fixed-sample p-values are not valid yet; decisions below "
                "use the always-valid interval."
            )
        best = prob_best(group["conversions"], group["sends"], draws=draws, seed=seed)
        seg_rows = [
            _arm_row(segment, arm, float(best[i]), (xc, nc), user_revenue, conf, mixture_sd, seed)
            for i, arm in group.iterrows()
        ]
        tested = [r for r in seg_rows if not r["is_control"]]
        _decide(tested, alpha, interim)
        rows.extend(seg_rows)
        summary.append(_segment_sentence(str(segment), tested, labels, interim))
    if user_revenue is None:
        warnings.append(
            "Revenue intervals come from totals only (average order value treated as fixed); "
            "upload user-level results for bootstrap intervals."
        )
    return Readout(table=pd.DataFrame(rows), summary=summary, warnings=warnings)


def _check_segment(segment: str, group: pd.DataFrame) -> pd.Series:
    """The segment's one control arm; refuses a segment with no or several controls, or an arm with no sends."""
    controls = group[group["is_control"].astype(bool)]
    if len(controls) != 1:
        raise ValidationError(
            f"segment {segment!r} has {len(controls)} control arms; mark exactly one arm as the control"
        )
    if (group["sends"] <= 0).any():
        bad = ", ".join(group.loc[group["sends"] <= 0, "variant_id"].astype(str))
        raise ValidationError(f"segment {segment!r}: arms with no sends ({bad}); remove them or add their counts")
    return controls.iloc[0]


def _arm_row(segment, arm: pd.Series, p_best: float, control: tuple[int, int], user_revenue: pd.DataFrame | None,
             conf: float, mixture_sd: float | None, seed: int) -> dict:
    """One readout row: the arm's rate and revenue per send, and for a variant its lift over ``control`` (x, n)."""
    x, n = int(arm["conversions"]), int(arm["sends"])
    lo, hi = wilson_interval(x, n, conf)
    row = {
        "segment_name": segment,
        "variant_id": arm["variant_id"],
        "is_control": bool(arm["is_control"]),
        "sends": n,
        "conversions": x,
        "rate": x / n,
        "rate_low": lo,
        "rate_high": hi,
        "prob_best": p_best,
    }
    values = np.array([])
    if user_revenue is not None:
        mask = (user_revenue["segment_name"] == segment) & (user_revenue["variant_id"] == arm["variant_id"])
        values = user_revenue.loc[mask, "revenue"].to_numpy(float)
    rlo: float | None
    rhi: float | None
    if len(values):
        rps, rlo, rhi = bootstrap_revenue_per_send(values, conf, seed=seed)
        row["revenue_method"] = "bootstrap"
    else:
        rps, rlo, rhi = aggregate_revenue_per_send(x, n, float(arm["revenue"]), conf)
        row["revenue_method"] = "rate x avg order"
    row.update(revenue_per_send=rps, revenue_low=rlo, revenue_high=rhi)
    if not row["is_control"]:
        xc, nc = control
        d_lo, d_hi = newcombe_interval(xc, nc, x, n, conf)
        rel, rel_lo, rel_hi = relative_lift_interval(xc, nc, x, n, conf)
        z, p = two_proportion_z_test(xc, nc, x, n)
        s_lo, s_hi, s_p = confidence_sequence(xc, nc, x, n, 1 - conf, mixture_sd)
        row.update(
            lift_pts=x / n - xc / nc, lift_low=d_lo, lift_high=d_hi,
            lift_rel=rel, lift_rel_low=rel_lo, lift_rel_high=rel_hi,
            z=z, p_value=p, seq_low=s_lo, seq_high=s_hi, seq_p_value=s_p,
        )
    return row


def _decide(tested: list[dict], alpha: float, interim: bool) -> None:
    """Holm-adjust the variants' p-values and mark which differences are reliable (in place).

    At an interim look the always-valid interval decides; otherwise the fixed-sample test does.
    """
    for r, p_adj in zip(tested, holm_adjust([r["p_value"] for r in tested])):
        r["p_holm"] = p_adj
        if interim:
            # Bonferroni on the always-valid p keeps the family-wise guarantee at every look.
            r["significant"] = min(1.0, r["seq_p_value"] * len(tested)) < alpha
            r["decision_low"], r["decision_high"] = r["seq_low"], r["seq_high"]
        else:
            r["significant"] = p_adj < alpha and (r["lift_low"] > 0 or r["lift_high"] < 0)
            r["decision_low"], r["decision_high"] = r["lift_low"], r["lift_high"]


def _segment_sentence(segment: str, tested: list[dict], labels: dict[str, str], interim: bool) -> str:
    if not tested:
        return f"{segment}: only the control was sent, nothing to compare."
    name = lambda r: labels.get(str(r["variant_id"]), f"Variant {r['variant_id']}")  # noqa: E731
    winners = sorted((r for r in tested if r["significant"] and r["lift_pts"] > 0), key=lambda r: -r["lift_pts"])
    losers = [r for r in tested if r["significant"] and r["lift_pts"] < 0]
    parts = []
    if winners:
        w = winners[0]
        parts.append(
            f"{name(w)} beat control by {_pts(w['lift_pts'])} ({_range(w['decision_low'], w['decision_high'])}) in {segment}"
        )
    for r in losers:
        parts.append(
            f"{name(r)} did worse than control by {_pts(r['lift_pts'])} ({_range(r['decision_low'], r['decision_high'])})"
            + ("" if winners else f" in {segment}")
        )
    if not parts:
        sentence = f"No reliable difference from control in {segment}"
    else:
        sentence = "; ".join(parts)
    if interim:
        sentence += " (interim look, always-valid interval)"
    return sentence + "."
