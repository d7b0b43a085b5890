"""How fast does the predictor train on the sample data and score a large segment?

Two figures, each against a baseline measured in the same run:

- training on the committed sample data (~148,000 exposures, 40 campaigns):
  ``build_training_data`` (cold: user features computed at 40 send dates; warm: features
  already materialized) and ``fit_predictor`` with the default settings, against
  ``FAST_SETTINGS``;
- scoring 20 variants for a 50,000-user segment with ``predict_variants`` (stratified
  5,000-member sample, bootstrap intervals, reasons, OOD), against scoring every one of
  the 50,000 members with the main model only (no intervals, no reasons).
  With ``--big-db PATH`` (a database holding the ~10-million-event set, features
  materialized) the members come from it; otherwise 50,000 members are built by
  resampling the sample's members with jitter, and the output says so.

With ``--experiments DIR`` (the folder holding the Upworthy and Hillstrom files) it also
times training and scoring on those real experiments, with peak memory
(``benchmarks/bench_predict_experiments.py``); ``--skip-sample`` leaves the sample part out.

Usage: ``python benchmarks/bench_predict.py [--big-db PATH] [--repeat 3] [--experiments DIR [--skip-sample]]``.
Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.ingest.sample import load_sample
from core.prediction.features import (  # noqa: E402,E501
    build_training_data,
    load_variants,
    pair_frame,
    user_frame,
    variant_features,
    with_category_shares,  # noqa: E402
)
from core.prediction.scoring import predict_variants  # noqa: E402
from core.prediction.training import FAST_SETTINGS, TrainingSettings, fit_predictor  # noqa: E402
from core.store import Store  # noqa: E402


def timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def synthetic_members(store: Store, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` members resampled from the sample's users, numbers jittered by +-10%."""
    from core.segments import segment_members

    base = with_category_shares(store, segment_members(store, None), None)
    rng = np.random.default_rng(seed)
    out = base.iloc[rng.integers(0, len(base), n)].reset_index(drop=True)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col] * rng.uniform(0.9, 1.1, n)
    out["user_id"] = [f"s{i}" for i in range(n)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-db", type=Path, help="database with the 10-million-event set (features materialized)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--experiments", type=Path, help="folder with the Upworthy and Hillstrom experiment files")
    parser.add_argument("--skip-sample", action="store_true")
    args = parser.parse_args(argv)
    rows, figures = [], {}
    if args.experiments:
        from benchmarks.bench_predict_experiments import run as run_experiments

        with tempfile.TemporaryDirectory() as tmp:
            exp_rows, exp_figures = run_experiments(args.experiments, Path(tmp))
        figures.update(exp_figures)
        print(f"{'experiment step':<56}  seconds  peak RSS MB")
        for name, seconds, peak in exp_rows:
            print(f"{name:<56}  {seconds:7.1f}  {peak:11.0f}")
        if args.skip_sample:
            print(json.dumps(figures))
            return 0
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.duckdb"
        with Store(db) as store:
            load_sample(store)
            cold, data = timed(lambda: build_training_data(store, "conversion"))
            warm, _ = timed(lambda: build_training_data(store, "conversion"))
            fit_default, predictor = timed(lambda: fit_predictor(data, TrainingSettings()))
            fit_fast, _ = timed(lambda: fit_predictor(data, FAST_SETTINGS))
            figures.update(training_data_cold_s=cold, training_data_warm_s=warm, fit_default_s=fit_default,
                           fit_fast_s=fit_fast, train_total_cold_s=cold + fit_default,
                           train_total_warm_s=warm + fit_default, training_rows=data.n_rows)
            rows += [("build training data (cold, 40 feature dates)", cold),
                     ("build training data (warm)", warm),
                     ("fit, default settings", fit_default), ("fit, FAST_SETTINGS (baseline)", fit_fast),
                     ("train total, cold", cold + fit_default)]
            variants = load_variants(store).drop_duplicates("variant_id").head(20)
            if args.big_db:
                big = Path(tmp) / "big.duckdb"
                shutil.copyfile(args.big_db, big)
                with Store(big) as big_store:
                    from core.segments import segment_members

                    members = with_category_shares(big_store, segment_members(big_store, None), None).head(50_000)
                source = f"{args.big_db.name} (first 50,000 users)"
            else:
                members = synthetic_members(store, 50_000)
                source = "synthetic: 50,000 members resampled from the sample (no 10M-event database given)"
            score_s, preds = timed(lambda: predict_variants(store, predictor, variants, None, members=members,
                                                            send_size=10_000), args.repeat)

            def full_scan():
                uf, vf = user_frame(members), variant_features(variants)
                ui, vi = np.tile(np.arange(len(uf)), len(vf)), np.repeat(np.arange(len(vf)), len(uf))
                return predictor.model.predict_rate(pair_frame(uf, vf, ui, vi))

            full_s, _ = timed(full_scan, 1)
            figures.update(score_20_variants_50k_s=score_s, score_full_scan_baseline_s=full_s,
                           members_source=source, n_members=len(members), n_variants=len(variants))
            rows += [("score 20 variants x 50,000 members (sampled, intervals, reasons)", score_s),
                     ("baseline: main model on all 50,000 x 20 rows, no intervals/reasons", full_s)]
    width = max(len(r[0]) for r in rows)
    print(f"{'step':<{width}}  seconds")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:7.2f}")
    print(f"members: {figures['members_source']}")
    print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
