"""Retraining makes a new model version from the results and leaves the old one untouched; its
before/after comparison is scored on held-out campaigns that neither compared model trained on."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import core.learning.retrain as learning
import core.prediction.training as training
from core.config import AppConfig
from core.errors import PredictionError
from core.generation.working_set import list_working_set
from core.ingest import run_import
from core.learning.retrain import after_import, campaigns_seen, pick_held_out, retrain, set_auto_retrain
from core.prediction.features import build_training_data
from core.prediction.registry import ModelVersion, file_sha256, get_version, load_version
from core.prediction.training import train_model, without_campaigns
from core.store import Store
from tests.learning_world import TINY, aggregate_results_csv, build_world, exported_strategy, user_results_csv


@pytest.fixture
def world(tmp_path):
    cfg = AppConfig(data_dir=tmp_path / "data", db_path=str(tmp_path / "data" / "db.duckdb"), model=None)
    with Store(cfg.db_path) as store:
        build_world(store)
        sid = exported_strategy(store)
        yield store, cfg, sid, tmp_path


def test_retrain_adds_a_version_and_keeps_the_old_one(world):
    store, cfg, sid, tmp = world
    v1 = train_model(store, cfg, settings=TINY)
    assert v1.metrics["campaigns"] == ["P1", "P2"]  # the strategy had no results yet
    row_before = store.one("SELECT * FROM model_versions WHERE version = 1")
    sha_before = file_sha256(Path(cfg.predictor_dir) / v1.file_path)
    (tmp / "results.csv").write_bytes(aggregate_results_csv(sid))
    run_import(store, [tmp / "results.csv"])
    steps = []
    report = retrain(store, cfg, working_set=list_working_set(store), settings=TINY,
                     progress=lambda f, m: steps.append(f))
    assert (report.old_version, report.new_version) == (1, 2)
    assert store.one("SELECT * FROM model_versions WHERE version = 1") == row_before
    assert file_sha256(Path(cfg.predictor_dir) / v1.file_path) == sha_before
    assert load_version(store, cfg, 1).version == 1  # still loads, hash still matches
    assert get_version(store, 2).data_hash != get_version(store, 1).data_hash  # it learned from the new rows
    assert get_version(store, 2).metrics["campaigns"] == ["P1", "P2", "S"]  # the saved version saw everything
    assert steps[-1] == 1.0 and steps == sorted(steps)
    # The only measured strategy is held out: its aggregate rows belong to campaign S.
    assert report.held_out.strategies == (sid,) and report.held_out.campaigns == ("S",)
    assert not report.held_out.old_saw
    metrics = report.metrics.set_index("metric")
    # Before and after are measured on the same three held-out strategy cells.
    assert metrics.loc["held-out: cells", "before"] == metrics.loc["held-out: cells", "after"] == 3
    for name in ("held-out: log loss per send", "held-out: AUC (per send)", "held-out: calibration error (ECE, pts)",
                 "held-out: share inside 90% interval"):
        assert not pd.isna(metrics.loc[name, "before"]) and not pd.isna(metrics.loc[name, "after"])
    # Nothing but the held-out campaign was new, and the note says so rather than claim learning.
    assert any("retraining noise" in n for n in report.notes)
    assert set(report.movement["variant_id"]) == {"S-CTL", "S-V1", "S-V2"}
    assert report.movement["before"].notna().all() and report.movement["after"].notna().all()


def test_comparison_model_never_sees_the_held_out_campaign(world, monkeypatch):
    store, cfg, first, tmp = world
    second = exported_strategy(store)
    train_model(store, cfg, settings=TINY)
    rates = {"S-CTL": 0.05, "S-V1": 0.10, "S-V2": 0.06}
    (tmp / "march.csv").write_bytes(user_results_csv(first, "S-MAR", "2026-03-02 09:00:00", rates, seed=1))
    (tmp / "april.csv").write_bytes(user_results_csv(second, "S-APR", "2026-04-06 09:00:00", rates, seed=2))
    run_import(store, [tmp / "march.csv"])
    run_import(store, [tmp / "april.csv"])
    fitted = []
    real_fit = training.fit_predictor
    monkeypatch.setattr(training, "fit_predictor",
                        lambda data, *a, **k: fitted.append(set(data.groups)) or real_fit(data, *a, **k))
    report = retrain(store, cfg, settings=TINY)
    # Two measured strategies, neither seen by version 1: the newer one (April) is held out.
    assert report.held_out.strategies == (second,) and report.held_out.campaigns == ("S-APR",)
    comparison, final = fitted
    assert comparison == {"P1", "P2", "S-MAR"}  # learned from March, never saw April
    assert final == {"P1", "P2", "S-MAR", "S-APR"}
    metrics = report.metrics.set_index("metric")
    assert metrics.loc["held-out: cells", "before"] == metrics.loc["held-out: cells", "after"] == 3
    assert metrics.loc["held-out: sends", "after"] == 400
    assert any("also learned from 1 campaign(s)" in n for n in report.notes)


def test_train_model_leaves_out_excluded_campaigns(world):
    store, cfg, _, _ = world
    data = build_training_data(store)
    part = without_campaigns(data, ["P2"])
    assert set(part.groups) == {"P1"} and data.n_rows - part.n_rows == 800  # P2: two arms x 400 users
    assert len(part.X) == len(part.weight) == len(part.variant_ids) == part.n_rows
    with pytest.raises(PredictionError, match="held out"):
        without_campaigns(data, ["P1", "P2"])
    version = train_model(store, cfg, settings=TINY, exclude_campaigns=["P2"])
    assert version.metrics["campaigns"] == ["P1"] and version.metrics["excluded_campaigns"] == ["P2"]
    assert version.metrics["n_rows"] == part.n_rows


def _campaigns(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["strategy_id", "campaign_id", "measured_at", "imported_at"]).assign(
        measured_at=lambda f: pd.to_datetime(f["measured_at"]), imported_at=lambda f: pd.to_datetime(f["imported_at"]))


def test_held_out_rule_by_hand():
    camps = _campaigns([
        ("A", "c1", "2026-01-01", "2026-01-02"), ("B", "c2", "2026-02-01", "2026-02-02"),
        ("C", "c3", "2026-03-01", "2026-03-02"), ("D", "c4", "2026-04-01", "2026-04-02"),
        ("E", "c5", "2026-05-01", "2026-05-02"),
    ])
    # 5 strategies -> ceil(25% of 5) = 2 held out: the newest two the old model did not see.
    held = pick_held_out(camps, seen={"c1", "c2", "c3"})
    assert held.strategies == ("E", "D") and held.campaigns == ("c4", "c5") and not held.old_saw
    # The old model saw all but C: only C qualifies, however old it is.
    held = pick_held_out(camps, seen={"c1", "c2", "c4", "c5"})
    assert held.strategies == ("C",) and not held.old_saw
    # The old model saw everything: the newest are held out and flagged, so "before" is not reported.
    held = pick_held_out(camps, seen={"c1", "c2", "c3", "c4", "c5"})
    assert held.strategies == ("E", "D") and held.old_saw
    assert pick_held_out(camps.iloc[:0], seen=set()).strategies == ()


def test_strategies_sharing_a_held_out_campaign_are_scored_together():
    camps = _campaigns([
        ("A", "c1", "2026-01-01", None), ("B", "c1", "2026-02-01", None), ("B", "c2", "2026-02-01", None),
        ("C", "c3", "2026-03-01", None),
    ])
    held = pick_held_out(camps, seen=set(), share=0.5)  # 2 of 3: C and B
    assert held.campaigns == ("c1", "c2", "c3")
    assert held.strategies == ("C", "B", "A")  # A's only campaign is held out too, so it is unseen as well


def test_campaigns_seen_falls_back_to_import_times_for_old_versions():
    camps = _campaigns([("A", "c1", "2026-01-01", "2026-01-02 10:00:00"), ("B", "c2", "2026-02-01", "2026-02-02 00:00:00"),
                        ("C", "c3", "2026-03-01", None)])

    def version(metrics):
        return ModelVersion(1, "conversion", pd.Timestamp("2026-01-15").to_pydatetime(), "h", "s", "f", "x", metrics)

    assert campaigns_seen(None, camps) == set()
    assert campaigns_seen(version({"campaigns": ["c2"]}), camps) == {"c2"}
    # No record: imported before the version was made (or never through the importer) counts as seen.
    assert campaigns_seen(version({}), camps) == {"c1", "c3"}


def test_auto_retrain_setting_controls_retraining_after_import(world, monkeypatch):
    store, cfg, sid, tmp = world
    (tmp / "results.csv").write_bytes(aggregate_results_csv(sid))
    imported = run_import(store, [tmp / "results.csv"])
    assert after_import(store, cfg, imported.import_id) is None  # off by default
    assert store.count("model_versions") == 0
    set_auto_retrain(store, True)
    monkeypatch.setattr(learning, "retrain", functools.partial(learning.retrain, settings=TINY))
    report = after_import(store, cfg, imported.import_id)
    assert report is not None and report.new_version == 1
    # No model before: no "before" column, but the held-out comparison still runs for "after".
    metrics = report.metrics.set_index("metric")
    assert metrics["before"].isna().all() and metrics.loc["held-out: cells", "after"] == 3
    assert np.isfinite(metrics.loc["held-out: log loss per send", "after"])
