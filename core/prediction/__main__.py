"""Command line: ``python -m core.prediction train|score|evaluate`` (the sample's oracle evaluation is ``python -m core.sample evaluate``).

Same code path as the Predict page:

* ``train --db PATH [--outcome conversion] [--fast]`` trains and saves a new model version and says
  which outcome and which data it learned from;
* ``evaluate --db PATH [--mode tests|customers] [--outcome click] [--control ARM] [--folds 5]`` checks the
  predictor on the imported experiments with cross-validation by test (aggregate A/B tests) or by
  customer (a user-level experiment with a control arm), printing the baselines of the same run;
* ``score --db PATH --segment NAME --variants FILE.csv [--control ID] [--send-size N] [--out FILE]``
  writes predicted rate, interval, lift and reasons per variant as CSV (stdout by default).
  The variants file needs ``copy_text`` and ``channel``; ``variant_id``, ``offer_type``,
  ``offer_value``, ``promo_code``, ``category`` and ``is_control`` are optional.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from core.cli import open_store, report_error
from core.config import load_config
from core.errors import CopyLiftError, NotFoundError, ValidationError
from core.formula_cells import neutralize
from core.store import Store


def _find_segment(store: Store, name: str | None):
    if not name or name.lower() in ("all", "all customers"):
        return None
    from core.segments import list_segments

    for seg in list_segments(store):
        if name in (seg.name, seg.segment_id):
            return seg
    raise NotFoundError(f"segment {name!r} not found; list them on the Segments page")


def read_variants_csv(path: Path) -> pd.DataFrame:
    """Variants to score from a CSV file; checks the required columns."""
    try:
        frame = pd.read_csv(path, dtype={"variant_id": str, "copy_text": str, "channel": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as err:
        raise ValidationError(f"cannot read {path}: {err}") from err
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("copy_text", "channel") if c not in frame.columns]
    if missing:
        raise ValidationError(f"{path} lacks column(s) {', '.join(missing)}; add them (line 1 is the header)")
    for i, channel in enumerate(frame["channel"], start=2):
        from core.migrations import CHANNELS

        if channel not in CHANNELS:
            raise ValidationError(f"{path} line {i}: channel {channel!r} is not one of {', '.join(CHANNELS)}")
    if "variant_id" not in frame.columns:
        frame["variant_id"] = [f"row{i}" for i in range(2, len(frame) + 2)]
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.prediction")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train and save a new model version")
    t.add_argument("--db")
    t.add_argument("--outcome", default="conversion", choices=["open", "click", "conversion", "revenue"])
    t.add_argument("--fast", action="store_true", help="small model settings (seconds)")
    e = sub.add_parser("evaluate", help="cross-validate on imported experiments, with baselines")
    e.add_argument("--db")
    e.add_argument("--mode", choices=["auto", "tests", "customers"], default="auto",
                   help="tests: aggregate A/B tests, split by test; customers: user-level, split by customer")
    e.add_argument("--outcome", default="conversion", choices=["open", "click", "conversion", "revenue"])
    e.add_argument("--control", help="control arm (variant id) for the customers mode")
    e.add_argument("--folds", type=int, default=5)
    e.add_argument("--fast", action="store_true", help="small model settings, no language-model text vectors")
    s = sub.add_parser("score", help="score variants for a segment, CSV out")
    s.add_argument("--db")
    s.add_argument("--segment", default="All customers")
    s.add_argument("--variants", required=True, type=Path)
    s.add_argument("--control")
    s.add_argument("--send-size", type=int)
    s.add_argument("--outcome", default="conversion", choices=["open", "click", "conversion", "revenue"])
    s.add_argument("--out", type=Path)
    args = parser.parse_args(argv)

    from core.prediction.registry import require_latest
    from core.prediction.scoring import predict_variants, predictions_frame
    from core.prediction.training import FAST_SETTINGS, train_model

    try:
        if args.command == "evaluate":
            from core.prediction.validation import run_evaluation

            # Never the sample shop here: this checks the analyst's own imported experiments.
            with open_store(args.db) as store:
                return run_evaluation(store, args.mode, args.outcome, args.control, args.folds,
                                      FAST_SETTINGS if args.fast else None)
        with open_store(args.db, sample_if_empty=True) as store:
            cfg = load_config()
            if args.command == "train":
                progress = lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr)  # noqa: E731
                mv = train_model(store, cfg, args.outcome, progress,
                                 settings=FAST_SETTINGS if args.fast else None)
                print(f"Model version {mv.version} predicts {mv.outcome} per send, learned from "
                      f"{', '.join(mv.metrics.get('sources', []))} data ({mv.metrics.get('n_campaigns')} campaigns, "
                      f"{mv.metrics.get('n_variants')} variants); copy read as: "
                      f"{mv.metrics.get('text_representation')}", file=sys.stderr)
                print(json.dumps({"version": mv.version, "outcome": mv.outcome, "file": mv.file_path,
                                  "metrics": mv.metrics}, indent=2, default=float))
                return 0
            predictor = require_latest(store, cfg, args.outcome)
            variants = read_variants_csv(args.variants)
            preds = predict_variants(store, predictor, variants, _find_segment(store, args.segment),
                                     control_variant_id=args.control, send_size=args.send_size)
            frame = predictions_frame(preds, predictor.outcome).map(neutralize)
            if args.out:
                frame.to_csv(args.out, index=False)
            else:
                frame.to_csv(sys.stdout, index=False)
            return 0
    except CopyLiftError as err:
        return report_error(err)


if __name__ == "__main__":
    raise SystemExit(main())
