"""Proof of the learning loop on the sample data, where the true response is known.

Several rounds of: plan (predict the candidate copy for each segment, allocate
traffic by Thompson sampling on the model prior plus everything observed so
far, save and export the strategy) -> send (each member of each segment gets
the arm the plan assigned; whether they convert is drawn from the sample's
ground-truth response model, ``core.sample.truth``) -> upload results
(as an analyst would: the round's user-level results written as a
campaign-results CSV with the strategy id, imported through the Results
page's own flow, ``core.learning.results_import``) -> read out and check the
predicted 90% intervals -> retrain (a new model version) -> re-plan.

What it shows: the true conversion rate of the copy the plans chose rises
round over round, and the share of observed rates inside the predicted 90%
intervals stays near 90%. Run ``python -m core.sample simulate``; it prints a table
of rounds and, as the last line, a JSON object with the figures.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import SAMPLE_DIR, AppConfig
from core.errors import ValidationError
from core.ingest import ImportOptions, ImportReport
from core.learning.allocation import next_allocation
from core.learning.matching import match_upload, plan_frame
from core.learning.results_import import import_results
from core.learning.trust import add_observed
from core.prediction.scoring import predict_variants
from core.sample.truth import ResponseModel, copy_frame
from core.segments import get_segment, segment_members
from core.segments.catalog import SegmentRef
from core.store import Store
from core.strategy.plan import Plan, PlanSettings, build_segment_plan, with_allocation
from core.strategy.records import save_strategy, set_status

# Candidate email subject lines (limit 60 characters); {cat} is the promoted category.
# They differ in the features the true model rewards or punishes (discount, free
# shipping, urgency, personalization, call to action, length over the limit...).
CONTROL_TEXT = "Our {cat} collection"
CANDIDATES = (
    "New in {cat}: see what just arrived",
    "{first_name}, 20% off {cat} - shop now",
    "Free shipping on all {cat} this week",
    "Looking for something new in {cat}?",
    "Last chance: 30% off {cat}, ends tonight. Shop now",
    "$10 off your next {cat} order",
    "Discover our carefully curated selection of brand new {cat} products",
    "10% off {cat} today",
)
DEFAULT_SEGMENTS = ("rfm_champions", "rfm_at_risk", "rfm_hibernating")


@dataclass(frozen=True)
class SimulationSettings:
    """What the simulation runs: rounds, seed, audience and allocation settings."""

    rounds: int = 4
    seed: int = 7
    category: str = "Home & Kitchen"
    channel: str = "email_subject"
    segments: tuple[str, ...] = DEFAULT_SEGMENTS
    sends_per_segment: int = 3000  # per round; members are contacted in waves when the segment is smaller
    holdout: float = 0.10
    floor: float = 0.02
    max_prior_sends: float = 1000.0
    avg_order_value: float = 55.0
    fast_model: bool = False  # the predictor's FAST_SETTINGS (tests); the full model otherwise

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValidationError("the simulation needs at least one round")
        if self.sends_per_segment < 50:
            raise ValidationError("send at least 50 messages per segment per round")


@dataclass(frozen=True)
class SimulationResult:
    rounds: pd.DataFrame
    cells: pd.DataFrame = field(repr=False)
    settings: SimulationSettings | None = None
    seconds: float = 0.0


# -- adapters to the predictor -----------------------------------------------------------
# The training and registry modules load skops (seconds): imported where they are used.
def _train(store: Store, cfg: AppConfig, settings: SimulationSettings, training=None):
    from core.prediction.training import FAST_SETTINGS, train_model

    if training is None and settings.fast_model:
        training = FAST_SETTINGS
    return train_model(store, cfg, outcome="conversion", settings=training, note="simulation")


def _load(store: Store, cfg: AppConfig):
    from core.prediction.registry import load_latest

    return load_latest(store, cfg)


def _predict(store: Store, predictor, variants: pd.DataFrame, segment, control_id: str):
    return predict_variants(store, predictor, variants, segment, control_variant_id=control_id)


# -- the pieces of one round ---------------------------------------------------------------
def candidate_variants(settings: SimulationSettings) -> pd.DataFrame:
    """The control and the candidate copy as rows of ``variants`` (origin 'manual', in the working set)."""
    texts = [CONTROL_TEXT, *CANDIDATES]
    ids = ["SIM-CTRL", *[f"SIM-{chr(ord('A') + i)}" for i in range(len(CANDIDATES))]]
    return pd.DataFrame(
        {
            "variant_id": ids,
            "campaign_id": [f"SIMC-{v}" for v in ids],  # one campaign per copy, so the split holds copy out
            "channel": settings.channel,
            "copy_text": [t.format(cat=settings.category, first_name="{first_name}") for t in texts],
            "category": settings.category,
            "is_control": [True] + [False] * len(CANDIDATES),
            "origin": "manual",
            "in_working_set": True,
        }
    )


def _true_probabilities(truth, user_ids: np.ndarray, variants: pd.DataFrame, arms: np.ndarray,
                        channel: str, category: str) -> np.ndarray:
    traits = truth.users(user_ids)
    copies = copy_frame(variants["copy_text"], channel, category).set_index(variants["variant_id"])
    per_user = copies.loc[arms].reset_index(drop=True)
    return truth.probability(traits, per_user)


def _segments(store: Store, ids: tuple[str, ...]):
    out = []
    for sid in ids:
        seg = get_segment(store, sid)
        members = segment_members(store, seg)["user_id"].astype(str).to_numpy()
        if len(members) < 50:
            raise ValidationError(f"segment {seg.name} has only {len(members)} members; pick larger segments")
        out.append((seg, np.sort(members)))
    return out


def _plan(store: Store, predictor, variants: pd.DataFrame, segments, observed: pd.DataFrame,
          settings: SimulationSettings, round_no: int):
    """Predict, allocate (model prior + observed counts), save and export a strategy; return it and its plan rows."""
    plan_settings = PlanSettings(mode="explore", holdout=settings.holdout, floor=settings.floor,
                                 seed=settings.seed + round_no)
    info = variants.set_index("variant_id")[["channel", "copy_text"]].to_dict("index")
    seg_plans = []
    for seg, _members in segments:
        preds = _predict(store, predictor, variants, seg, "SIM-CTRL")
        seg_plans.append(build_segment_plan(
            SegmentRef(seg.segment_id, seg.version, seg.name), preds,
            members=settings.sends_per_segment, avg_order_value=settings.avg_order_value,
            settings=plan_settings, variant_info=info,
        ))
    version = getattr(predictor, "version", None)
    plan = Plan(f"Simulation round {round_no}", plan_settings, tuple(seg_plans), predictor_version=version)
    rows = plan_frame(_Record("draft", 0, plan.name, plan))
    alloc = next_allocation(rows, observed, floor=settings.floor, holdout=settings.holdout,
                            max_prior_sends=settings.max_prior_sends, seed=settings.seed + round_no)
    for segment, group in alloc.groupby("segment_name", sort=False):
        plan = with_allocation(plan, str(segment), dict(zip(group["variant_id"], group["share"])))
    record = save_strategy(store, plan, author="simulation")
    for status in ("submitted", "approved", "exported"):
        record = set_status(store, record.strategy_id, status, author="simulation", comment="simulated")
    return record, plan_frame(record)


@dataclass(frozen=True)
class _Record:
    """Just enough of a strategy record for ``plan_frame`` before the plan is saved."""

    strategy_id: str
    version: int
    name: str
    plan: object


def _send(truth, plan_rows: pd.DataFrame, variants: pd.DataFrame, segments, settings: SimulationSettings,
          rng: np.random.Generator, sent_at: pd.Timestamp, round_no: int, strategy_id: str) -> pd.DataFrame:
    """Assign each audience member an arm by the plan's shares and draw outcomes from the true model."""
    frames = []
    for seg, members in segments:
        arms = plan_rows[plan_rows["segment_name"] == seg.name]
        # A send larger than the segment goes out in waves: every member once per wave, at a
        # slightly later time, so each exposure keeps a unique (user, variant, campaign, time) key.
        waves = -(-settings.sends_per_segment // len(members))
        audience = np.concatenate([rng.permutation(members) for _ in range(waves)])[: settings.sends_per_segment]
        wave = np.arange(len(audience)) // len(members)
        shares = arms["share"].to_numpy(float)
        assigned = rng.choice(arms["variant_id"].to_numpy(), size=len(audience), p=shares / shares.sum())
        p_true = _true_probabilities(truth, audience, variants, assigned, settings.channel, settings.category)
        converted = rng.random(len(audience)) < p_true
        revenue = np.where(converted, rng.gamma(4.0, settings.avg_order_value / 4.0, len(audience)), 0.0)
        frames.append(pd.DataFrame({
            "user_id": audience, "variant_id": assigned, "campaign_id": f"SIM-R{round_no}",
            "sent_at": sent_at + pd.to_timedelta(wave, unit="min"), "converted": converted, "revenue": revenue.round(2),
            "strategy_id": strategy_id, "segment_name": seg.name, "p_true": p_true,
        }))
    return pd.concat(frames, ignore_index=True)


# The columns of the campaign-results CSV an analyst uploads on the Results page (user-level format).
RESULT_CSV_COLUMNS = ("strategy_id", "user_id", "variant_id", "campaign_id", "sent_at", "converted", "revenue")


def results_csv(results: pd.DataFrame, path: Path) -> Path:
    """Write one send's user-level results in the campaign-results format the importer reads."""
    frame = results[list(RESULT_CSV_COLUMNS)].assign(
        sent_at=pd.to_datetime(results["sent_at"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
        converted=results["converted"].astype(int),
    )
    frame.to_csv(path, index=False)
    return path


def upload_results(store: Store, cfg: AppConfig, results: pd.DataFrame, path: Path) -> ImportReport:
    """Upload a round's results as an analyst would: a CSV through the Results page's import flow.

    Nothing may go astray: results for arms the exported plan does not know,
    a preview that rejects rows or would skip any as duplicates, or an import
    that writes fewer exposures than were sent stop the simulation
    (``ValidationError``; the first two before anything is written). The
    strategy is marked measured by ``import_results``, as on the Results page;
    the loop retrains itself between rounds, so the automatic retrain is off.
    Returns the import report.
    """
    for match in match_upload(store, results):
        if not match.ok:
            raise ValidationError(" ".join(match.messages))
    results_csv(results, path)
    options = ImportOptions(format="campaign_results", imported_by="simulation")
    done = import_results(store, cfg, [path], options, expect_rows=len(results), auto_retrain=False)
    return done.report


def _true_rates(truth, variants: pd.DataFrame, segments, settings: SimulationSettings) -> pd.DataFrame:
    """True conversion of every candidate for every segment (mean over its members)."""
    rows = []
    for seg, members in segments:
        traits = truth.users(members)
        for vid, text in zip(variants["variant_id"], variants["copy_text"]):
            p = truth.probability(traits, copy_frame([text], settings.channel, settings.category)).mean()
            rows.append({"segment_name": seg.name, "variant_id": vid, "true_rate": float(p)})
    return pd.DataFrame(rows)


# -- the loop ------------------------------------------------------------------------------
def run_simulation(
    store: Store,
    cfg: AppConfig,
    settings: SimulationSettings = SimulationSettings(),
    sample_dir: str | Path = SAMPLE_DIR,
    progress: Callable[[str], None] | None = None,
    training=None,
) -> SimulationResult:
    """Run the plan -> send -> upload -> retrain loop on a store loaded with the sample data.

    ``training`` overrides the predictor's ``TrainingSettings`` (tests pass a tiny model).
    """
    started = time.perf_counter()
    say = (lambda msg: progress(f"{time.perf_counter() - started:7.1f}s  {msg}")) if progress else (lambda msg: None)
    truth = ResponseModel.load(sample_dir)
    rng = np.random.default_rng(settings.seed)
    variants = candidate_variants(settings)
    store.insert_df("variants", variants)
    segments = _segments(store, settings.segments)
    truth_rates = _true_rates(truth, variants, segments, settings)
    last = pd.Timestamp(store.scalar("SELECT max(ts) FROM events")).normalize()
    predictor = _load(store, cfg)
    if predictor is None:
        say("training the first model on the sample history")
        _train(store, cfg, settings, training)
        predictor = _load(store, cfg)
    observed = pd.DataFrame(columns=["segment_name", "variant_id", "sends", "conversions"])
    rounds, cells = [], []
    uploads = Path(tempfile.mkdtemp(prefix="copylift-sim-results-"))  # the CSVs an analyst would upload
    try:
        for r in range(1, settings.rounds + 1):
            say(f"round {r}: plan")
            record, plan_rows = _plan(store, predictor, variants, segments, observed, settings, r)
            say(f"round {r}: send {record.strategy_id}")
            sent = _send(truth, plan_rows, variants, segments, settings, rng,
                         last + pd.Timedelta(hours=r), r, record.strategy_id)
            say(f"round {r}: upload the results (importer)")
            upload_results(store, cfg, sent, uploads / f"round_{r}_{record.strategy_id}.csv")
            counts = sent.groupby(["segment_name", "variant_id"], as_index=False).agg(
                sends=("user_id", "size"), conversions=("converted", "sum"))
            observed = (pd.concat([observed, counts]).groupby(["segment_name", "variant_id"], as_index=False)
                        [["sends", "conversions"]].sum())
            cell = add_observed(plan_rows.merge(counts, on=["segment_name", "variant_id"])
                                .dropna(subset=["pred_rate"]).assign(round=r))
            cells.append(cell)
            treated = sent[sent["variant_id"] != "SIM-CTRL"]
            top = plan_rows[~plan_rows["is_control"]].sort_values("share").groupby("segment_name").tail(1)
            top_true = top.merge(truth_rates, on=["segment_name", "variant_id"])["true_rate"].mean()
            treated_truth = truth_rates[truth_rates["variant_id"] != "SIM-CTRL"]
            best_true = treated_truth.groupby("segment_name")["true_rate"].max()
            ctrl_true = truth_rates[truth_rates["variant_id"] == "SIM-CTRL"]["true_rate"].mean()
            rounds.append({
                "round": r,
                "model_version": getattr(predictor, "version", None),
                "sends": len(sent),
                "chosen_true_rate": float(treated["p_true"].mean()),
                "top_variant_true_rate": float(top_true),
                "best_possible_rate": float(best_true.mean()),
                "control_true_rate": float(ctrl_true),
                "observed_rate": float(treated["converted"].mean()),
                "cells": len(cell),
                "coverage_90": float(cell["inside"].mean()),
            })
            if r < settings.rounds:  # the last round's results would only feed a plan nobody makes
                say(f"round {r}: retrain")
                _train(store, cfg, settings, training)
                predictor = _load(store, cfg)
    finally:
        shutil.rmtree(uploads, ignore_errors=True)
    return SimulationResult(pd.DataFrame(rounds), pd.concat(cells, ignore_index=True), settings,
                            time.perf_counter() - started)


def format_rounds(frame: pd.DataFrame) -> str:
    """The rounds as a readable fixed-width table (rates in percent)."""
    lines = [f"{'round':>5} {'model':>5} {'sends':>7} {'chosen true %':>13} {'top true %':>10} "
             f"{'best %':>7} {'control %':>9} {'observed %':>10} {'cells':>5} {'in 90% PI':>9}"]
    for row in frame.itertuples():
        lines.append(
            f"{row.round:>5} {str(row.model_version):>5} {row.sends:>7,} {row.chosen_true_rate * 100:>13.3f} "
            f"{row.top_variant_true_rate * 100:>10.3f} {row.best_possible_rate * 100:>7.3f} "
            f"{row.control_true_rate * 100:>9.3f} {row.observed_rate * 100:>10.3f} {row.cells:>5} "
            f"{row.coverage_90:>9.0%}"
        )
    return "\n".join(lines)


def summary_json(result: SimulationResult) -> dict:
    r = result.rounds
    return {
        "rounds": int(len(r)),
        "chosen_true_rate": [round(float(v), 5) for v in r["chosen_true_rate"]],
        "top_variant_true_rate": [round(float(v), 5) for v in r["top_variant_true_rate"]],
        "best_possible_rate": round(float(r["best_possible_rate"].iloc[0]), 5),
        "coverage_90": [round(float(v), 3) for v in r["coverage_90"]],
        "coverage_90_pooled": round(float(result.cells["inside"].mean()), 3),
        "improved_first_to_last": bool(r["chosen_true_rate"].iloc[-1] > r["chosen_true_rate"].iloc[0]),
        "seconds": round(result.seconds, 1),
        "settings": asdict(result.settings) if result.settings else None,
    }
