"""An import is all or nothing, never duplicates, is logged, and can be undone."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from core.errors import ImportFailed, NotFoundError, ValidationError
from core.ingest import ImportOptions, importer, preview, rejected_csv, run_import, undo_import
from core.migrations import TABLES
from core.store import quote_ident

FIX = Path(__file__).parent / "fixtures" / "import"
ORDERS = "shopify/shopify_orders_export_devstore_redacted.csv"


def snapshot(store) -> dict[str, tuple[int, str]]:
    """Row count and a content checksum of every table."""
    out = {}
    for table in TABLES:
        q = quote_ident(table)
        out[table] = store.one(
            f"SELECT count(*), coalesce(md5(string_agg(CAST(t AS VARCHAR), '|' ORDER BY CAST(t AS VARCHAR))), '') "
            f"FROM {q} t"
        )
    return out


@pytest.mark.parametrize("error", [duckdb.ConstraintException("simulated"), RuntimeError("power cut")])
def test_crash_mid_import_leaves_every_table_unchanged(store, monkeypatch, error):
    run_import(store, [FIX / "retail_semicolon_decimal_comma.csv"])
    before = snapshot(store)
    assert store.table_counts() == {t: n for t, (n, _) in before.items()}
    real_write = importer._write
    calls = []

    def crash_after_first_table(cur, table, fmt, import_id, unique):
        real_write(cur, table, fmt, import_id, unique)  # products are written...
        calls.append(table)
        raise error  # ...then the process fails before events are

    monkeypatch.setattr(importer, "_write", crash_after_first_table)
    expected = ImportFailed if isinstance(error, duckdb.Error) else RuntimeError
    with pytest.raises(expected):
        run_import(store, [FIX / "retail_latin1.csv"])  # products, users and events
    assert calls == ["products"]
    assert snapshot(store) == before
    monkeypatch.undo()
    report = run_import(store, [FIX / "retail_latin1.csv"])  # and the same file still imports afterwards
    assert report.status == "imported" and report.tables == {"events": 2, "products": 2, "users": 1}


def test_preview_and_dry_run_write_nothing(store, realdata):
    before = snapshot(store)
    report = preview(store, [realdata / ORDERS])
    assert report.status == "preview" and report.tables["events"] == 120
    assert run_import(store, [realdata / ORDERS], dry_run=True).status == "dry_run"
    assert snapshot(store) == before


def test_overlapping_files_dedupe_on_natural_keys(store, tmp_path):
    src = (FIX / "retail_semicolon_decimal_comma.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "jan.csv", tmp_path / "jan_feb.csv"
    first.write_text("".join(src[:3]), encoding="utf-8")  # header + two lines of A100
    second.write_text("".join(src), encoding="utf-8")  # the same two lines and more
    run_import(store, [first])
    report = run_import(store, [second])
    assert report.status == "imported"
    assert report.duplicates["events"] == 2 and report.tables["events"] == 1
    assert store.count("events") == 3


def test_import_log_and_undo(store, realdata):
    base = run_import(store, [FIX / "retail_cp1252.csv"])
    before = snapshot(store)
    report = run_import(store, [realdata / ORDERS], ImportOptions(imported_by="ana"))
    log = store.one("SELECT file_name, file_hash, format, encoding, rows_accepted, rows_rejected, tables_json, "
                    "report_json, imported_by, status FROM import_log WHERE import_id = ?", [report.import_id])
    assert log[0] == Path(ORDERS).name and log[1] == report.file_hash and len(log[1]) == 64
    assert log[2:6] == ("shopify_orders", "utf-8", 120, 1)
    assert json.loads(log[6]) == report.tables
    assert json.loads(log[7])["rejected"][0]["line"] == 122
    assert log[8:] == ("ana", "done")
    assert store.scalar("SELECT count(*) FROM events WHERE import_id = ?", [report.import_id]) == 120
    deleted = undo_import(store, report.import_id)
    assert deleted == {"users": 2, "products": 5, "events": 120}
    after = snapshot(store)
    assert {t: v for t, v in after.items() if t != "import_log"} == \
        {t: v for t, v in before.items() if t != "import_log"}
    assert store.scalar("SELECT status FROM import_log WHERE import_id = ?", [report.import_id]) == "undone"
    assert store.scalar("SELECT status FROM import_log WHERE import_id = ?", [base.import_id]) == "done"
    with pytest.raises(ValidationError, match="already undone"):
        undo_import(store, report.import_id)
    with pytest.raises(NotFoundError):
        undo_import(store, 999)
    # After an undo the same file can come back.
    assert run_import(store, [realdata / ORDERS]).tables["events"] == 120


def test_rejected_rows_csv_is_safe_for_spreadsheets(store, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,event_type,ts\n=HYPERLINK(1),view,2024-01-01\nU2,jump,2024-01-01\n", encoding="utf-8")
    report = run_import(store, [bad])
    assert report.rows_rejected == 1
    text = rejected_csv(report).decode()
    assert text.splitlines()[0] == "file,line,reason,record"
    assert "bad.csv,3,\"event type 'jump' is not one of" in text
    assert store.scalar("SELECT user_id FROM events") == "=HYPERLINK(1)"  # stored as data...
    formula = tmp_path / "formula.csv"
    formula.write_text("user_id,event_type,ts\n=cmd(),jump,2024-01-01\n", encoding="utf-8")
    text = rejected_csv(run_import(store, [formula])).decode()
    assert "'=cmd(),jump" in text  # ...but neutralised in the download


def test_undo_never_takes_rows_a_later_import_relied_on(store, tmp_path):
    src = (FIX / "retail_semicolon_decimal_comma.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    first, second = tmp_path / "jan.csv", tmp_path / "jan_feb.csv"
    first.write_text("".join(src[:3]), encoding="utf-8")  # header + two lines of A100
    second.write_text("".join(src), encoding="utf-8")  # the same two lines and one more
    a = run_import(store, [first])
    b = run_import(store, [second])
    assert b.duplicates_of == {a.import_id: b.duplicates["events"] + b.duplicates.get("products", 0)
                               + b.duplicates.get("users", 0)}
    events = store.rows("SELECT event_id FROM events ORDER BY 1")
    # Undoing the first import would delete the two lines the second file also holds: refused, by name.
    with pytest.raises(ValidationError, match=rf"import {a.import_id} cannot be undone.*import {b.import_id} "
                                              r"\(jan_feb\.csv, \d+ row"):
        undo_import(store, a.import_id)
    assert store.rows("SELECT event_id FROM events ORDER BY 1") == events
    assert store.scalar("SELECT status FROM import_log WHERE import_id = ?", [a.import_id]) == "done"
    # Undoing the later import removes only what it added; the earlier rows stay.
    assert undo_import(store, b.import_id)["events"] == 1
    assert store.count("events") == 2
    # Now the first one can go, and the second file comes back whole.
    undo_import(store, a.import_id)
    assert store.count("events") == 0
    again = run_import(store, [second])
    assert again.tables["events"] == 3 and store.count("events") == 3
    assert store.rows("SELECT event_id FROM events ORDER BY 1") == events


def test_undo_of_an_earlier_import_without_overlap_is_allowed(store, realdata):
    a = run_import(store, [FIX / "retail_semicolon_decimal_comma.csv"])
    b = run_import(store, [realdata / ORDERS])
    assert b.duplicates_of == {}
    assert undo_import(store, a.import_id)["events"] == 3
    assert store.count("events") == 120
