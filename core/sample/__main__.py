"""Command line for the sample shop: generate it, evaluate the predictor against its truth, simulate the loop.

    python -m core.sample                    # regenerate sample_data/ (scale 1, byte for byte)
    python -m core.sample --scale 33 --no-gzip --out /tmp/big   # ~10 million events
    python -m core.sample --ensure-db        # build the app's database if it holds no data
    python -m core.sample evaluate [--db PATH] [--fast]   # held-out evaluation against the oracle, JSON
    python -m core.sample simulate --rounds 4 --fast      # plan -> send -> results -> retrain, on the truth

Generation runs in chunks of users, so memory stays flat as the scale grows.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from core.cli import open_store, report_error
from core.config import SAMPLE_DIR, AppConfig
from core.errors import CopyLiftError
from core.ingest.sample import ensure_db, load_sample
from core.prediction.training import FAST_SETTINGS
from core.sample.evaluate import evaluate
from core.sample.generate import generate
from core.sample.simulate import SimulationSettings, format_rounds, run_simulation, summary_json
from core.sample.world import SampleSpec
from core.store import Store

OUTCOMES = ["open", "click", "conversion", "revenue"]


def generate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.sample", description="Regenerate the sample shop.")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply users, events and exposures")
    parser.add_argument("--seed", type=int, default=SampleSpec.seed)
    parser.add_argument("--out", default=str(SAMPLE_DIR), help="folder for the CSV files")
    parser.add_argument("--no-gzip", action="store_true",
                        help="write events and exposures as plain CSV (faster to load at large scale)")
    parser.add_argument("--ensure-db", action="store_true",
                        help="load the sample into the database if it holds no data (no generation)")
    parser.add_argument("--db", default=None, help="database path for --ensure-db (default: app config)")
    args = parser.parse_args(argv)
    if args.ensure_db:
        counts = ensure_db(args.db)
        print("database already has data" if counts is None else f"loaded sample data: {counts}")
        return 0
    started = time.perf_counter()
    counts = generate(args.out, scale=args.scale, seed=args.seed, compress=not args.no_gzip,
                      progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"out": args.out, "seconds": round(time.perf_counter() - started, 1), **counts}))
    return 0


def evaluate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.sample evaluate",
                                     description="Held-out evaluation of the predictor against the sample's truth.")
    parser.add_argument("--db", help="database file (default: the app's); the sample is loaded if it holds no data")
    parser.add_argument("--outcome", default="conversion", choices=OUTCOMES)
    parser.add_argument("--fast", action="store_true", help="small, quick model settings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-segments", action="store_true", help="skip the variant x segment comparison")
    args = parser.parse_args(argv)
    try:
        with open_store(args.db, sample_if_empty=True) as store:
            report = evaluate(store, args.outcome, FAST_SETTINGS if args.fast else None, seed=args.seed,
                              segments=not args.no_segments)
    except CopyLiftError as err:
        return report_error(err)
    print(json.dumps(report, indent=2, default=float))
    return 0


def simulate_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.sample simulate",
                                     description="The learning loop on the sample's ground truth.")
    parser.add_argument("--rounds", type=int, default=SimulationSettings.rounds)
    parser.add_argument("--seed", type=int, default=SimulationSettings.seed)
    parser.add_argument("--sends", type=int, default=SimulationSettings.sends_per_segment,
                        help="messages per segment per round")
    parser.add_argument("--fast", action="store_true", help="train the predictor's smaller, faster model")
    parser.add_argument("--scale", type=float, default=None,
                        help="generate a sample of this scale into a temporary folder instead of sample_data/")
    args = parser.parse_args(argv)
    settings = SimulationSettings(rounds=args.rounds, seed=args.seed, sends_per_segment=args.sends,
                                  fast_model=args.fast)
    with tempfile.TemporaryDirectory(prefix="copylift-sim-") as tmp:
        sample_dir = Path(SAMPLE_DIR)
        if args.scale is not None:
            sample_dir = Path(tmp) / "sample"
            generate(sample_dir, scale=args.scale)
        cfg = AppConfig(data_dir=Path(tmp) / "data", db_path=str(Path(tmp) / "data" / "sim.duckdb"), model=None)
        with Store(cfg.db_path) as store:
            load_sample(store, sample_dir)
            result = run_simulation(store, cfg, settings, sample_dir,
                                    progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_rounds(result.rounds))
    print(json.dumps(summary_json(result)))
    return 0


COMMANDS = {"evaluate": evaluate_main, "simulate": simulate_main}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return generate_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
