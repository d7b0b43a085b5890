"""How long exporting a strategy takes as audiences grow.

Measures, in one run: stable user assignment (sha256 per user, so a re-export
gives everyone the same arm) against a baseline of numpy's seeded generator
(fast, but not stable when the member list changes), the CSV encoding of the
assignment file, and Thompson allocation. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/bench_strategy_export.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.strategy.allocation import thompson_allocation
from core.strategy.export import stable_uniform, to_csv_bytes


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    results = []
    for n in [int(x) for x in args.sizes.split(",")]:
        ids = [f"u{i:08d}" for i in range(n)]
        stable = timed(lambda: stable_uniform("stg-bench", 7, ids))
        baseline = timed(lambda: np.random.default_rng(7).random(n))
        frame = pd.DataFrame({"user_id": ids, "segment": "All customers", "variant_id": "v1", "arm": "treatment"})
        csv_s = timed(lambda: to_csv_bytes(frame), repeat=1)
        results.append({"users": n, "stable_assign_s": round(stable, 4), "numpy_rng_s": round(baseline, 5),
                        "ratio": round(stable / baseline, 1), "assignments_csv_s": round(csv_s, 3)})
    thompson = timed(lambda: thompson_allocation([30, 25, 20, 10], [970, 975, 980, 990], seed=1, draws=10_000))
    print(f"{'users':>10} {'stable (s)':>11} {'numpy rng (s)':>14} {'ratio':>7} {'csv (s)':>8}")
    for r in results:
        print(f"{r['users']:>10,} {r['stable_assign_s']:>11.4f} {r['numpy_rng_s']:>14.5f} {r['ratio']:>7.1f} "
              f"{r['assignments_csv_s']:>8.3f}")
    print(f"Thompson allocation, 4 variants x 10,000 draws: {thompson * 1000:.1f} ms")
    load = round(os.getloadavg()[0], 1)
    print(f"Load average (1 min) during the run: {load}")
    print(json.dumps({"bench": "strategy_export", "sizes": results, "thompson_10k_draws_ms": round(thompson * 1000, 2),
                      "load_avg_1m": load}))


if __name__ == "__main__":
    main()
