"""Retraining makes a new model version from the results and leaves the old one untouched."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest

import core.learning as learning
from core.config import AppConfig
from core.ingest import run_import
from core.learning import after_import, retrain, set_auto_retrain
from core.prediction.registry import file_sha256, get_version, load_version
from core.prediction.training import train_model
from core.store import Store
from core.working_set import list_working_set
from tests.learning_world import TINY, aggregate_results_csv, build_world, exported_strategy



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
    assert steps[-1] == 1.0 and steps == sorted(steps)
    metrics = report.metrics.set_index("metric")
    # Before and after are measured on the same three strategy cells.
    assert metrics.loc["cells", "before"] == metrics.loc["cells", "after"] == 3
    assert not pd.isna(metrics.loc["log loss per send", "before"])
    assert set(report.movement["variant_id"]) == {"S-CTL", "S-V1", "S-V2"}
    assert report.movement["before"].notna().all() and report.movement["after"].notna().all()


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
