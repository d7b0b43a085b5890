"""Saved predictors: versioned, hash-checked, and refused when tampered with or misplaced."""

from __future__ import annotations

from pathlib import Path

import pytest
from prediction_fixtures import fill_store

from core.config import AppConfig
from core.errors import IntegrityError
from core.prediction.registry import get_version, list_versions, load_latest, load_version
from core.prediction.training import FAST_SETTINGS, train_model


@pytest.fixture
def cfg(tmp_path) -> AppConfig:
    return AppConfig(data_dir=tmp_path / "data", db_path=":memory:", model=None)


@pytest.fixture
def trained(store, cfg):
    fill_store(store, n_users=150, n_campaigns=4)
    version = train_model(store, cfg, settings=FAST_SETTINGS)
    return store, cfg, version


def test_save_and_load_round_trip_with_hash(trained):
    store, cfg, mv = trained
    assert mv.version == 1 and mv.outcome == "conversion"
    assert len(mv.file_sha256) == 64 and len(mv.data_hash) == 64 and len(mv.settings_hash) == 64
    assert mv.metrics["auc"] is not None and mv.metrics["n_campaigns"] == 4
    predictor = load_latest(store, cfg)
    assert predictor.version == 1
    X = predictor.model.preprocessor_  # loaded object is the fitted pipeline, not a stub
    assert X is not None
    assert load_latest(store, cfg, outcome="revenue") is None


def test_a_second_training_makes_a_new_version(trained):
    store, cfg, _ = trained
    second = train_model(store, cfg, settings=FAST_SETTINGS)
    assert second.version == 2
    assert [v.version for v in list_versions(store)] == [2, 1]
    assert load_latest(store, cfg).version == 2


def test_tampered_file_is_refused(trained):
    store, cfg, mv = trained
    path = Path(cfg.predictor_dir) / mv.file_path
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="does not match the hash"):
        load_version(store, cfg, mv.version)


def test_file_outside_the_predictor_folder_is_refused(trained, tmp_path):
    store, cfg, mv = trained
    store.execute("UPDATE model_versions SET file_path = ? WHERE version = ?", ["../../elsewhere.skops", mv.version])
    with pytest.raises(IntegrityError, match="outside"):
        load_version(store, cfg, mv.version)


def test_missing_file_is_reported(trained):
    store, cfg, mv = trained
    (Path(cfg.predictor_dir) / get_version(store, mv.version).file_path).unlink()
    with pytest.raises(IntegrityError, match="missing"):
        load_version(store, cfg, mv.version)
