"""The next send's allocation: Thompson sampling on a posterior that uses the model's prediction as a prior."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.intervals import beta_from_interval
from core.learning.experiments import posterior_draws
from core.learning.matching import exported_record, plan_frame
from core.learning.results import strategy_results
from core.store import Store
from core.strategy.allocation import thompson_allocation
from core.strategy.plan import with_allocation
from core.strategy.records import StrategyRecord, save_strategy


# -- next send's allocation -------------------------------------------------------------------
def next_allocation(
    plan: pd.DataFrame,
    arms: pd.DataFrame,
    *,
    floor: float = 0.01,
    holdout: float = 0.10,
    max_prior_sends: float = 1000.0,
    draws: int = 10_000,
    seed: int = 0,
) -> pd.DataFrame:
    """Thompson-sampling shares per segment for the treated variants of a plan.

    Prior per variant: the Beta matching the model's predicted rate and 90%
    interval, worth at most ``max_prior_sends`` pseudo-sends so results can
    overrule a wrong prediction; posterior = prior + observed conversions and
    misses. Each variant's share is ``floor`` plus its probability of being
    best times the rest of the treated traffic (so new variants keep being
    tried), and the holdout stays fixed.
    """
    counts = arms.set_index(["segment_name", "variant_id"]) if not arms.empty else None
    rows = []
    for segment, group in plan[~plan["is_control"].astype(bool)].groupby("segment_name", sort=False):
        priors = [
            beta_from_interval(r, lo, hi, max_pseudo=max_prior_sends) if pd.notna(r) else (1.0, 1.0)
            for r, lo, hi in zip(group["pred_rate"], group["pred_low"], group["pred_high"])
        ]
        post = []
        for (a, b), vid in zip(priors, group["variant_id"]):
            x = n = 0
            if counts is not None and (segment, vid) in counts.index:
                x, n = int(counts.loc[(segment, vid), "conversions"]), int(counts.loc[(segment, vid), "sends"])
            post.append((a + x, b + n - x, x, n))
        shares = thompson_allocation(
            [p[0] for p in post], [p[1] for p in post], floor=floor, holdout=holdout, seed=seed, draws=draws
        )
        samples = posterior_draws([p[0] for p in post], [p[1] for p in post], draws, seed)
        p_best = np.bincount(samples.argmax(axis=1), minlength=len(post)) / draws
        for vid, (a, b), (pa, pb, x, n), s, pb_ in zip(group["variant_id"], priors, post, shares, p_best):
            rows.append(
                {
                    "segment_name": segment, "variant_id": vid, "prior_alpha": a, "prior_beta": b,
                    "sends": n, "conversions": x, "posterior_alpha": pa, "posterior_beta": pb,
                    "posterior_mean": pa / (pa + pb), "prob_best": float(pb_), "share": float(s),
                }
            )
    return pd.DataFrame(rows)


def update_allocation(store: Store, strategy_id: str, *, author: str | None = None, seed: int = 0) -> StrategyRecord:
    """Save the strategy's next-send allocation as a new ``measured`` version (old versions stay)."""
    record = exported_record(store, strategy_id)
    arms, _ = strategy_results(store, strategy_id)
    settings = record.plan.settings
    alloc = next_allocation(
        plan_frame(record), arms, floor=settings.floor, holdout=settings.holdout, seed=seed
    )
    plan = record.plan
    for segment, group in alloc.groupby("segment_name", sort=False):
        plan = with_allocation(plan, str(segment), dict(zip(group["variant_id"], group["share"])))
    return save_strategy(
        store, plan, author=author, strategy_id=strategy_id, status="measured",
        comment="allocation updated from results (Thompson sampling, model prior + observed counts)",
    )
