"""Real experiment files import completely: clicks-only aggregates, user-level results with customer attributes.

Each test here failed on the code before issue 17 (see the comment on each).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from core.ingest import ImportOptions, run_import
from core.ingest.formats import detect
from core.prediction.__main__ import main as prediction_cli
from core.store import Store

FIX = Path(__file__).parent / "fixtures" / "experiments"
UPWORTHY = FIX / "upworthy_packages_sample.csv"
HILLSTROM = FIX / "hillstrom_sample.csv"
UPWORTHY_MAP = {"target": "variant_results", "columns": {"campaign_id": "clickability_test_id",
                                                         "copy_text": "headline", "sends": "impressions",
                                                         "clicks": "clicks"}, "defaults": {"channel": "banner"}}
HILLSTROM_MAP = {"target": "exposures", "columns": {"user_id": "user_id", "variant_id": "segment",
                                                    "copy_text": "segment", "converted": "conversion",
                                                    "clicked": "visit", "revenue": "spend"}}


def test_clicks_only_aggregate_file_is_recognised():
    # Before: detection required a conversions column, so a headline test file was refused.
    headers = {c.lower() for c in pd.read_csv(UPWORTHY, nrows=0).columns}
    assert detect(headers).name == "campaign_aggregate"


def test_clicks_only_results_import_every_row_with_clicks_as_the_outcome(store):
    # Before: "Imported 0 of N rows" (every row rejected: conversions missing) while variants were written.
    raw = pd.read_csv(UPWORTHY)
    report = run_import(store, [UPWORTHY], ImportOptions(mapping=UPWORTHY_MAP))
    assert report.rows_read == len(raw) and report.rows_accepted == len(raw) and report.rows_rejected == 0
    assert report.message.startswith(f"Imported {len(raw):,} of {len(raw):,} rows")
    totals = store.one("SELECT sum(sends), sum(clicks), count(conversions) FROM variant_results")
    assert totals == (raw["impressions"].sum(), raw["clicks"].sum(), 0)  # conversions unknown, not zero
    # The same headline shown with two images in one test: one variant, counts added (not dropped).
    distinct = raw.groupby(["clickability_test_id", "headline"]).ngroups
    assert store.count("variant_results") == distinct == store.count("variants")
    assert any("counts were added" in n for n in report.notes)
    assert any("no opens or conversions column" in n for n in report.notes)


def test_same_headline_in_two_tests_is_two_variants(store, tmp_path):
    # Before: the variant id was the text's hash alone, so both tests shared one variant (and campaign).
    f = tmp_path / "two_tests.csv"
    f.write_text("test,headline,impressions,clicks\nT1,Same words,100,5\nT1,Other words,100,9\n"
                 "T2,Same words,200,7\nT2,Third words,200,3\n")
    mapping = {"target": "variant_results", "columns": {"campaign_id": "test", "copy_text": "headline",
                                                        "sends": "impressions", "clicks": "clicks"}}
    run_import(store, [f], ImportOptions(mapping=mapping))
    rows = store.rows("SELECT campaign_id, count(*) FROM variants WHERE copy_text = 'Same words' GROUP BY 1 ORDER BY 1")
    assert rows == [("T1", 1), ("T2", 1)]


def test_user_level_experiment_keeps_customer_attributes_typed(store):
    # Before: a sent-date column was required, and recency/history/mens/womens/newbie had nowhere to go.
    raw = pd.read_csv(HILLSTROM)
    report = run_import(store, [HILLSTROM], ImportOptions(mapping=HILLSTROM_MAP))
    assert report.rows_accepted == len(raw) and store.count("exposures") == len(raw)
    kinds = dict(store.rows("SELECT name, any_value(kind) FROM user_attributes GROUP BY name"))
    assert kinds == {"recency": "numeric", "history": "numeric", "mens": "numeric", "womens": "numeric",
                     "newbie": "numeric", "zip_code": "categorical", "channel": "categorical",
                     "history_segment": "categorical"}
    first = raw.iloc[0]
    assert store.scalar("SELECT num_value FROM user_attributes WHERE user_id = ? AND name = 'history'",
                        [first["user_id"]]) == pytest.approx(first["history"])
    assert store.scalar("SELECT text_value FROM user_attributes WHERE user_id = ? AND name = 'history_segment'",
                        [first["user_id"]]) == first["history_segment"]  # quoted commas kept
    # Every column is accounted for in the report; the date used is stated.
    for col in ("recency", "history", "mens", "womens", "newbie", "zip_code", "channel", "history_segment"):
        assert any(f"column {col!r} kept as" in n for n in report.notes)
    assert any("every send is dated 2000-01-01" in n for n in report.notes)
    assert store.count("users") == raw["user_id"].nunique()
    assert store.scalar("SELECT sum(CAST(clicked AS INT)) FROM exposures") == raw["visit"].sum()


def test_reimporting_results_with_one_extra_column_adds_no_sends(store, tmp_path):
    # Before: the sends were keyed on a sent date the file does not have; a changed file doubled them.
    run_import(store, [HILLSTROM], ImportOptions(mapping=HILLSTROM_MAP))
    wider = pd.read_csv(HILLSTROM, dtype=str, keep_default_na=False).assign(note="x")
    f = tmp_path / "hillstrom_wider.csv"
    wider.to_csv(f, index=False)
    before = store.count("exposures")
    report = run_import(store, [f], ImportOptions(mapping=HILLSTROM_MAP))
    assert store.count("exposures") == before
    assert report.duplicates.get("exposures") == before


def test_train_on_imported_experiment_does_not_load_the_sample(tmp_path, monkeypatch):
    # Before: `train` loaded the 306k-event sample shop into the analyst's database and trained on it.
    monkeypatch.setenv("COPYLIFT_DATA_DIR", str(tmp_path / "data"))
    db = tmp_path / "experiment.duckdb"
    with Store(str(db)) as s:
        run_import(s, [UPWORTHY], ImportOptions(mapping=UPWORTHY_MAP))
    assert prediction_cli(["train", "--db", str(db), "--outcome", "click", "--fast"]) == 0
    with Store(str(db)) as s:
        assert s.count("events") == 0 and s.count("exposures") == 0
        metrics = s.df("SELECT outcome, metrics_json FROM model_versions")
    assert metrics["outcome"].tolist() == ["click"]
    assert '"sources": ["aggregate"]' in metrics["metrics_json"].iloc[0]
