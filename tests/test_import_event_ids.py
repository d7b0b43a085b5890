"""Event ids number repeated lines in file order, so overlapping files deduplicate line by line."""

from __future__ import annotations

from core.ingest import ImportOptions, run_import

RETAIL = ("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
          "A1,X,Mug,1,1/2/2011 10:00,2.5,17,UK\n"
          "A1,Y,Cup,1,1/2/2011 10:00,1.5,17,UK\n"
          "A1,X,Mug,3,1/2/2011 10:00,2.5,17,UK\n"  # the same invoice + code again: a second line
          "A2,X,Mug,1,1/3/2011 10:00,2.5,18,UK\n")


def test_repeated_invoice_lines_get_occurrence_numbers(store, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(RETAIL, encoding="utf-8")
    run_import(store, [path], ImportOptions(day_first=False))
    assert store.rows("SELECT event_id, quantity FROM events ORDER BY event_id") == [
        ("or:A1:X#1", 1), ("or:A1:X#2", 3), ("or:A1:Y#1", 1), ("or:A2:X#1", 1)]


def test_identical_native_rows_with_missing_values_are_kept_apart_and_dedupe(store, tmp_path):
    rows = "user_id,event_type,ts,product_id\nU1,view,2024-01-01 10:00,\nU1,view,2024-01-01 10:00,\n"
    first = tmp_path / "a.csv"
    first.write_text(rows, encoding="utf-8")
    assert run_import(store, [first]).tables == {"events": 2}  # two views of nothing in particular
    ids = [r[0] for r in store.rows("SELECT event_id FROM events ORDER BY event_id")]
    assert [i[-2:] for i in ids] == ["#1", "#2"] and ids[0][:-2] == ids[1][:-2]
    more = tmp_path / "b.csv"
    more.write_text(rows + "U1,view,2024-01-01 10:00,\nU2,add_to_cart,2024-01-02 09:00,P1\n", encoding="utf-8")
    report = run_import(store, [more])
    assert report.duplicates["events"] == 2 and report.tables["events"] == 2
    assert store.count("events") == 4
