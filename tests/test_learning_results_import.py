"""One results-import flow for the Results page and the simulation: import -> match -> measured -> auto-retrain."""

from __future__ import annotations

import functools

import pytest

import core.learning.retrain as learning
from core.config import AppConfig
from core.errors import ValidationError
from core.ingest import ImportOptions
from core.learning.results_import import import_results
from core.store import Store
from core.strategy.records import load_strategy, strategy_history
from tests.learning_world import TINY, aggregate_results_csv, build_world, exported_strategy


@pytest.fixture
def world(tmp_path):
    cfg = AppConfig(data_dir=tmp_path / "data", db_path=str(tmp_path / "data" / "db.duckdb"), model=None)
    with Store(cfg.db_path) as store:
        build_world(store)
        sid = exported_strategy(store)
        path = tmp_path / "results.csv"
        path.write_bytes(aggregate_results_csv(sid))
        yield store, cfg, sid, path


def test_import_matches_marks_measured_and_reports_unknown_arms(world):
    store, cfg, sid, path = world
    done = import_results(store, cfg, [path], ImportOptions(imported_by="results page"))
    assert done.report.tables["variant_results"] == 4  # the unknown S-V9 row too: reported, not dropped
    assert done.strategies == (sid,) and done.measured == (sid,)
    assert load_strategy(store, sid).status == "measured"
    assert strategy_history(store, sid)["author"].iloc[-1] == "results page"  # signed by who imported
    levels = [level for level, _ in done.messages]
    texts = " ".join(text for _, text in done.messages)
    assert levels[:2] == ["success", "info"] and "warning" in levels
    assert "Imported 4 of 4 rows" in texts and f"Strategy {sid}: 3 arms matched." in texts and "S-V9" in texts
    assert done.retrain is None  # automatic retraining is off by default


def test_unknown_strategy_is_imported_and_warned_about_not_marked(world, tmp_path):
    store, cfg, _, _ = world
    path = tmp_path / "other.csv"
    path.write_text("strategy_id,variant,segment,sends,conversions,revenue\nstg-nope,S-V1,All customers,10,1,5\n")
    done = import_results(store, cfg, [path], ImportOptions())
    assert done.strategies == ("stg-nope",) and done.measured == ()
    assert [level for level, _ in done.messages] == ["success", "warning"]
    assert "not known here" in done.messages[1][1]


def test_auto_retrain_runs_when_enabled_with_progress_as_fraction_then_message(world, monkeypatch):
    store, cfg, _, path = world
    learning.set_auto_retrain(store, True)
    monkeypatch.setattr(learning, "retrain", functools.partial(learning.retrain, settings=TINY))
    calls = []
    done = import_results(store, cfg, [path], ImportOptions(), progress=lambda f, m: calls.append((f, m)))
    assert done.retrain is not None and done.retrain.new_version == 1
    assert all(isinstance(f, float) and isinstance(m, str) for f, m in calls)
    fractions = [f for f, _ in calls]
    assert fractions[0] == 0.0 and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert any("Training the new version" in m for _, m in calls)


def test_auto_retrain_can_be_left_to_the_caller(world, monkeypatch):
    store, cfg, _, path = world
    learning.set_auto_retrain(store, True)
    monkeypatch.setattr(learning, "retrain", lambda *a, **k: pytest.fail("retrained"))
    assert import_results(store, cfg, [path], ImportOptions(), auto_retrain=False).retrain is None


def test_expected_rows_are_checked_before_anything_is_written(world):
    store, cfg, sid, path = world
    with pytest.raises(ValidationError, match="importer would take 0 of 5"):
        import_results(store, cfg, [path], ImportOptions(), expect_rows=5)
    assert store.count("variant_results") == 0 and load_strategy(store, sid).status == "exported"
