"""Speed of the results readout on a large user-level campaign, against a plain bootstrap baseline.

A campaign with ``--sends`` users per arm (3 arms, ~3% conversion, 1-2 segments):
the full readout (Wilson, Newcombe, z + Holm, P(best), always-valid interval,
bootstrap revenue per send) against the textbook bootstrap of revenue per send
(resample every user's revenue, 2,000 times) measured in the same run. The
learning loop itself is benchmarked by ``python -m core.sample simulate``.

Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.learning.experiments import bootstrap_revenue_per_send, readout


def make_campaign(sends: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    frames = []
    for seg in ("Cart abandoners", "Champions"):
        for vid, rate in (("control", 0.030), ("B", 0.034), ("C", 0.031)):
            conv = rng.random(sends) < rate
            frames.append(pd.DataFrame({"segment_name": seg, "variant_id": vid,
                                        "revenue": np.where(conv, rng.gamma(4.0, 14.0, sends), 0.0)}))
    users = pd.concat(frames, ignore_index=True)
    arms = users.groupby(["segment_name", "variant_id"], as_index=False).agg(
        sends=("revenue", "size"), conversions=("revenue", lambda r: int((r > 0).sum())), revenue=("revenue", "sum"))
    arms["is_control"] = arms["variant_id"] == "control"
    return arms, users


def naive_bootstrap(values: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = np.array([rng.choice(values, size=len(values)).mean() for _ in range(n_boot)])
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sends", type=int, default=200_000, help="users per arm and segment")
    args = parser.parse_args()
    arms, users = make_campaign(args.sends)
    t = time.perf_counter()
    result = readout(arms, users)
    readout_s = time.perf_counter() - t
    one = users[(users["segment_name"] == "Champions") & (users["variant_id"] == "B")]["revenue"].to_numpy()
    t = time.perf_counter()
    fast = bootstrap_revenue_per_send(one)
    fast_s = time.perf_counter() - t
    t = time.perf_counter()
    naive = naive_bootstrap(one)
    naive_s = time.perf_counter() - t
    print(f"{'what':<48} {'seconds':>8}")
    print(f"{'full readout, 6 arms x ' + format(args.sends, ',') + ' users':<48} {readout_s:>8.2f}")
    print(f"{'revenue bootstrap, one arm (two-step)':<48} {fast_s:>8.3f}")
    print(f"{'revenue bootstrap, one arm (plain resample)':<48} {naive_s:>8.3f}")
    print(f"interval two-step {fast[1]:.4f}-{fast[2]:.4f} vs plain {naive[0]:.4f}-{naive[1]:.4f}")
    print(result.summary[0])
    print(json.dumps({"sends_per_arm": args.sends, "readout_s": round(readout_s, 3),
                      "bootstrap_two_step_s": round(fast_s, 4), "bootstrap_plain_s": round(naive_s, 3),
                      "speedup": round(naive_s / fast_s, 1),
                      "interval_two_step": [round(fast[1], 4), round(fast[2], 4)],
                      "interval_plain": [round(naive[0], 4), round(naive[1], 4)]}))


if __name__ == "__main__":
    main()
