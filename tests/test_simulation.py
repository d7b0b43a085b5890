"""The learning loop on a small generated shop with a known truth: plan -> send -> upload -> retrain.

The uploads go through the importer (a campaign-results CSV, preview, import), as an analyst's would.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from core.config import AppConfig
from core.errors import ValidationError
from core.ingest.sample import load_sample
from core.sample.generate import generate
from core.sample.simulate import SimulationSettings, format_rounds, run_simulation, summary_json, upload_results
from core.store import Store
from core.strategy.records import load_strategy
from tests.learning_world import TINY, build_world, exported_strategy


def _sent(sid: str, n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({
        "user_id": [f"u{i:04d}" for i in range(n)], "variant_id": ["S-CTL", "S-V1", "S-V2"] * (n // 3),
        "campaign_id": "SIM-R1", "sent_at": pd.Timestamp("2026-03-01 10:00") + pd.to_timedelta(range(n), unit="s"),
        "converted": [i % 7 == 0 for i in range(n)], "revenue": [40.0 if i % 7 == 0 else 0.0 for i in range(n)],
        "strategy_id": sid, "segment_name": "All customers", "p_true": 0.1,
    })


def test_results_go_through_the_importer_like_an_analysts_upload(tmp_path):
    with Store(str(tmp_path / "db.duckdb")) as store:
        build_world(store)
        sid = exported_strategy(store)
        sent = _sent(sid)
        cfg = AppConfig(data_dir=tmp_path / "data", db_path=str(tmp_path / "db.duckdb"), model=None)
        report = upload_results(store, cfg, sent, tmp_path / "round_1.csv")
        assert report.format == "campaign_results" and report.tables["exposures"] == 30
        header = (tmp_path / "round_1.csv").read_text().splitlines()[0]
        assert header == "strategy_id,user_id,variant_id,campaign_id,sent_at,converted,revenue"
        stored = store.df("SELECT * FROM exposures WHERE strategy_id = ? ORDER BY sent_at", [sid])
        assert len(stored) == 30 and stored["import_id"].eq(report.import_id).all()
        assert stored["converted"].sum() == sent["converted"].sum()
        assert stored["revenue"].sum() == pytest.approx(sent["revenue"].sum())
        assert store.scalar("SELECT imported_by FROM import_log WHERE import_id = ?", [report.import_id]) == "simulation"
        assert load_strategy(store, sid).status == "measured"  # as the Results page marks it
        # The same rows again would be skipped as duplicates: the simulation stops rather than lose them.
        with pytest.raises(ValidationError, match="importer would take 0 of 30"):
            upload_results(store, cfg, sent.assign(revenue=sent["revenue"] + 1), tmp_path / "again.csv")
        # A variant the strategy does not know is reported by the match, not dropped silently.
        with pytest.raises(ValidationError, match="not in the exported plan"):
            upload_results(store, cfg, _sent(sid).assign(variant_id="S-V9", campaign_id="SIM-R2"), tmp_path / "r2.csv")
        assert store.scalar("SELECT count(*) FROM exposures WHERE variant_id = 'S-V9'") == 0  # checked first


@pytest.fixture(scope="module")
def simulation(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sim")
    generate(tmp / "sample", scale=0.3)
    cfg = AppConfig(data_dir=tmp / "data", db_path=str(tmp / "data" / "sim.duckdb"), model=None)
    settings = SimulationSettings(rounds=3, seed=7, segments=("rfm_champions", "rfm_at_risk", "rfm_hibernating"))
    with Store(cfg.db_path) as store:
        load_sample(store, tmp / "sample")
        result = run_simulation(store, cfg, settings, tmp / "sample", training=TINY)
        versions = store.count("model_versions")
        strategies = store.scalar("SELECT count(DISTINCT strategy_id) FROM strategies")
        measured = store.scalar("SELECT count(*) FROM exposures WHERE strategy_id IS NOT NULL")
        imports = store.scalar("SELECT count(*) FROM import_log WHERE imported_by = 'simulation'")
    return result, versions, strategies, (measured, imports)


@pytest.mark.slow
def test_chosen_copy_gets_truly_better_over_three_rounds(simulation):
    result, versions, strategies, measured = simulation
    rounds = result.rounds
    print(format_rounds(rounds))
    assert len(rounds) == 3
    first, rest = rounds["chosen_true_rate"].iloc[0], rounds["chosen_true_rate"].iloc[1:]
    assert rest.min() > first  # every later round sends truly better copy than the first
    assert rounds["chosen_true_rate"].iloc[-1] > rounds["control_true_rate"].iloc[-1]
    assert (rounds["top_variant_true_rate"] <= rounds["best_possible_rate"] + 1e-12).all()
    # One model version before the loop and one retrain between rounds; one exported strategy per round.
    assert versions == 3 and strategies == 3
    assert list(rounds["model_version"]) == [1, 2, 3]
    assert measured == (rounds["sends"].sum(), 3)  # every send came back through one import per round


@pytest.mark.slow
def test_predicted_intervals_cover_the_observed_rates(simulation):
    result, *_ = simulation
    summary = summary_json(result)
    # The tiny test model's first intervals are a little narrow (about 70% covered); retrained ones
    # land at 85%. The full benchmark (python -m core.sample simulate) is where 80-97% is checked.
    assert 0.75 <= summary["coverage_90_pooled"] <= 0.99
    # A round has 27 cells, so one cell is 3.7 points; retrained rounds were seen at 74%-93% over repeated
    # runs (training is not bit-for-bit repeatable here), so the per-round floor is 70% (19 of 27).
    assert min(summary["coverage_90"][1:]) >= 0.70
    assert summary["improved_first_to_last"]
    assert json.loads(json.dumps(summary))["rounds"] == 3  # the CLI's last line is this JSON
