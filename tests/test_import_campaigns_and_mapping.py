"""Campaign results (user-level and aggregate), the generic mapping, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from core.errors import NotFoundError, ValidationError
from core.ingest import ImportOptions, preview, run_import
from core.ingest.__main__ import main as cli_main
from core.ingest.mapping import list_mappings, load_mapping, save_mapping, suggest_mapping
from core.store import Store

FIX = Path(__file__).parent / "fixtures" / "import"
ROOT = Path(__file__).resolve().parent.parent


def test_user_level_results_become_exposures_and_variants(store):
    store.execute("INSERT INTO variants (variant_id, channel, copy_text) VALUES ('V-C', 'push', 'Known copy')")
    report = run_import(store, [FIX / "campaign_user_level.csv"])
    assert report.format == "campaign_results"
    assert (report.rows_read, report.rows_rejected) == (4, 1)
    assert report.rejected[["line", "reason"]].values.tolist() == [[5, "sent date 'not a date' is not a date"]]
    assert report.tables == {"variants": 1, "exposures": 3}
    # V-A came with its copy text: a new variant, channel "email" read as email_subject.
    assert store.one("SELECT channel, copy_text, origin FROM variants WHERE variant_id = 'V-A'") == (
        "email_subject", "Save 20% today", "imported")
    # V-B has no copy text and is unknown: imported, and reported.
    assert any("V-B" in i and "match no known variant" in i for i in report.issues)
    row = store.one("SELECT sent_at, opened, clicked, converted, revenue, strategy_id FROM exposures "
                    "WHERE user_id = 'U1'")
    assert row == (datetime(2024, 3, 1, 9, 0), True, True, True, 1200.5, "S1")


def test_aggregate_results_keep_copy_text_and_outcomes(store):
    report = run_import(store, [FIX / "campaign_aggregate.csv"])
    assert report.format == "campaign_aggregate"
    assert report.rejected[["line", "reason"]].values.tolist() == [[4, "more conversions than sends"]]
    got = store.df("SELECT v.copy_text, r.segment_name, r.sends, r.opens, r.clicks, r.conversions, r.revenue, "
                   "r.period_start FROM variant_results r JOIN variants v USING (variant_id) ORDER BY r.sends DESC")
    assert got.iloc[0].tolist()[:7] == ["Free shipping this weekend", "Lapsed buyers", 1000, 400, 120, 30, 450.75]
    assert got.iloc[0]["period_start"] == datetime(2024, 4, 1)
    assert len(got) == 2
    # Copy text without an id gets a stable id: importing a second file with the same copy reuses it.
    vid = store.scalar("SELECT variant_id FROM variants WHERE copy_text = 'Your cart misses you'")
    assert vid.startswith("imp-") and len(vid) == 16


def test_aggregate_with_missing_counts_rejects_the_row(store):
    report = run_import(store, [FIX / "percent_and_na.csv"])
    assert report.reject_reasons == {"no opens, clicks or conversions count": 1}
    assert store.one("SELECT sends, conversions, revenue FROM variant_results") == (100, 10, 0.0)  # N/A revenue


def test_suggest_mapping_from_names_and_values():
    cols = ["Kunde", "Wann", "Artikel", "Menge", "Betrag", "Mail"]
    samples = {"Wann": ["2024-05-01 10:00", "2024-05-02 11:30"], "Mail": ["a@b.de", "c@d.com"],
               "Kunde": ["k-1"], "Artikel": ["A-1"], "Menge": ["2"], "Betrag": ["9,99"]}
    assert suggest_mapping("events", cols, samples) == {"ts": "Wann", "user_id": "Mail"}
    assert suggest_mapping("events", ["Customer ID", "Order Date", "SKU", "Qty"]) == {
        "user_id": "Customer ID", "ts": "Order Date", "product_id": "SKU", "quantity": "Qty"}
    with pytest.raises(ValidationError):
        suggest_mapping("nope", cols)


def test_generic_mapping_saved_by_name_and_used(store):
    mapping = {"target": "events", "columns": {"user_id": "Kunde", "ts": "Wann", "product_id": "Artikel",
                                               "quantity": "Menge", "price": "Betrag"},
               "defaults": {"event_type": "purchase"}}
    save_mapping(store, "Kasse export", mapping)
    assert list_mappings(store) == ["Kasse export"] and load_mapping(store, "Kasse export") == mapping
    report = run_import(store, [FIX / "generic_sales.csv"], ImportOptions(mapping=load_mapping(store, "Kasse export")))
    assert report.format == "generic" and report.rows_rejected == 0
    assert report.mapping["generic_sales.csv"]["Kunde"] == "user_id"
    assert store.one("SELECT user_id, event_type, ts, quantity, price FROM events WHERE product_id = 'A-2'") == (
        "k-2", "purchase", datetime(2024, 5, 2, 11, 30), 1, 19.5)  # decimal comma in a ;-file
    with pytest.raises(NotFoundError, match="no saved mapping"):
        load_mapping(store, "missing")


def test_generic_mapping_errors_name_the_problem(store):
    with pytest.raises(ValidationError, match="required for events"):
        preview(store, [FIX / "generic_sales.csv"], ImportOptions(mapping={"target": "events", "columns": {"ts": "Wann"}}))
    with pytest.raises(ValidationError, match="no column 'Nope'"):
        preview(store, [FIX / "generic_sales.csv"],
                ImportOptions(mapping={"target": "users", "columns": {"user_id": "Nope"}}))


def test_cli_imports_prints_json_and_fails_cleanly(tmp_path, capsys, realdata):
    db = tmp_path / "cli.duckdb"
    olist = sorted(str(p) for p in (realdata / "olist").glob("olist_order*.csv")) + [
        str(realdata / "olist" / "olist_customers_dataset.csv")]
    code = cli_main([*olist, str(FIX / "retail_cp1252.csv"), "--db", str(db), "--user", "nightly"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and [r["format"] for r in out] == ["olist", "online_retail"]
    assert out[0]["tables"]["events"] == 16590 and out[1]["files"][0]["encoding"] == "cp1252"
    code = cli_main([str(FIX / "ambiguous_dates.csv"), "--db", str(db), "--dry-run"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "error" and "day-first" in out["error"]
    code = cli_main([str(FIX / "ambiguous_dates.csv"), "--db", str(db), "--day-first"])
    assert code == 0 and json.loads(capsys.readouterr().out)["status"] == "imported"
    with Store(db) as store:
        assert store.scalar("SELECT imported_by FROM import_log ORDER BY import_id LIMIT 1") == "nightly"
        assert store.count("import_log") == 3


def test_cli_as_a_process_exits_non_zero_on_fatal_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "core.ingest", str(FIX / "collapsed_header.csv"), "--db", str(tmp_path / "x.duckdb")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 1
    assert "header row is one quoted field" in json.loads(proc.stdout)["error"]


def test_cli_uses_a_saved_mapping(tmp_path, capsys):
    db = tmp_path / "m.duckdb"
    with Store(db) as store:
        save_mapping(store, "kasse", {"target": "events", "defaults": {"event_type": "purchase"},
                                      "columns": {"user_id": "Kunde", "ts": "Wann", "price": "Betrag"}})
    assert cli_main([str(FIX / "generic_sales.csv"), "--db", str(db), "--mapping", "kasse"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["format"] == "generic" and out["tables"] == {"events": 2}
    assert cli_main([str(FIX / "generic_sales.csv"), "--db", str(db), "--mapping", "nope"]) == 1
    assert "no saved mapping named 'nope'" in json.loads(capsys.readouterr().out)["error"]
