"""The background retrain runs in a child process on a snapshot and is adopted only into a free version."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.api.retrain_job import adopt, run_retrain, snapshot
from core.config import load_config
from core.errors import PredictionError
from core.store import Store
from tests.api_fixtures import seed_shop


def fake_version(store: Store, version: int, folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(b"model bytes")
    store.execute("INSERT INTO model_versions (version, outcome, data_hash, settings_hash, file_path, file_sha256) "
                  "VALUES (?, 'conversion', 'd', 's', ?, 'sha')", [version, name])


def test_snapshot_copies_every_table(store, tmp_path):
    seed_shop(store)
    snapshot(store, tmp_path / "snap.duckdb")
    with Store(tmp_path / "snap.duckdb", read_only=True) as snap:
        assert snap.count("users") == store.count("users") and snap.count("variants") == 4
        assert snap.scalar("SELECT count(*) FROM api_events") == 0  # the service's tables too


def test_adopt_links_the_file_and_records_the_version(store, tmp_path, monkeypatch):
    monkeypatch.setenv("COPYLIFT_DATA_DIR", str(tmp_path / "data"))
    cfg = load_config()
    with Store(tmp_path / "snap.duckdb") as snap:
        fake_version(snap, 1, tmp_path / "private", "predictor_v0001_conversion.skops")
    adopt(store, cfg, tmp_path / "snap.duckdb", tmp_path / "private", 1)
    assert store.one("SELECT file_path, file_sha256 FROM model_versions") == ("predictor_v0001_conversion.skops", "sha")
    assert (Path(cfg.predictor_dir) / "predictor_v0001_conversion.skops").read_bytes() == b"model bytes"


def test_adopt_refuses_a_version_saved_meanwhile_and_keeps_the_other_file(store, tmp_path, monkeypatch):
    monkeypatch.setenv("COPYLIFT_DATA_DIR", str(tmp_path / "data"))
    cfg = load_config()
    fake_version(store, 1, Path(cfg.predictor_dir), "predictor_v0001_conversion.skops")
    with Store(tmp_path / "snap.duckdb") as snap:
        fake_version(snap, 1, tmp_path / "private", "predictor_v0001_conversion.skops")
    (tmp_path / "private" / "predictor_v0001_conversion.skops").write_bytes(b"the child's model")
    with pytest.raises(PredictionError, match="saved by another retrain meanwhile"):
        adopt(store, cfg, tmp_path / "snap.duckdb", tmp_path / "private", 1)
    assert (Path(cfg.predictor_dir) / "predictor_v0001_conversion.skops").read_bytes() == b"model bytes"
    assert store.count("model_versions") == 1


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_real_retrain_in_a_child_process_on_the_sample_shop(sample_store, tmp_path, monkeypatch):
    monkeypatch.setenv("COPYLIFT_DATA_DIR", str(tmp_path / "data"))
    cfg = load_config()
    report = run_retrain(sample_store, cfg)
    assert report["old_version"] is None and report["new_version"] == 1
    from core.prediction.registry import load_latest

    assert load_latest(sample_store, cfg).version == 1  # adopted, hash-checked, loadable


def test_calibration_error_skips_bins_of_zero_weight_rows():
    """Per-send metrics weigh a cell's conversions and misses; an arm with no conversions yet gives a
    zero-weight row, which once made the retrain of live results fail ('Weights sum to zero')."""
    import numpy as np

    from core.prediction.metrics import binary_metrics, expected_calibration_error

    p = np.array([0.02, 0.03, 0.05, 0.02, 0.03, 0.05])
    y = np.r_[np.ones(3), np.zeros(3)]
    w = np.array([0.0, 4.0, 6.0, 100.0, 96.0, 94.0])  # the first arm converted nobody
    assert np.isfinite(expected_calibration_error(y, p, w, n_bins=20))
    assert np.isfinite(binary_metrics(y, p, w)["ece"])
    same = expected_calibration_error(y[1:], p[1:], w[1:], n_bins=20)
    assert expected_calibration_error(y, p, w, n_bins=20) >= 0 and np.isfinite(same)
