"""The two ways a file is read (Arrow's CSV reader, DuckDB's as the fallback) give the same
records; a file that is UTF-8 only at its head is caught; products and users of an Online
Retail file come out as hand-checked."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from core.ingest import ImportOptions, run_import
from core.ingest.context import load_source, read_records
from core.ingest.sniff import SourceFile, sniff, sniff_head
from tests.conftest import REALDATA

FIX = Path(__file__).parent / "fixtures" / "import"
READABLE = sorted(
    [p for p in FIX.iterdir() if p.name not in {"collapsed_header.csv", "duplicate_columns.csv", "empty.csv",
                                               "header_only.csv"}]
    + [p for p in REALDATA.glob("*/*") if p.suffix in (".csv", ".tsv")]
)


def _records(store, path: Path, tmp_path: Path, arrow: bool) -> list[tuple]:
    sniffed = sniff(SourceFile(path.name, path), tmp_path)
    cur = store.cursor()
    src = load_source(cur, sniffed, 0, arrow=arrow)
    rows = cur.execute(f"SELECT * FROM {src.table} ORDER BY _row").fetchall()
    assert len(rows) == src.rows
    return rows


@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.name)
def test_arrow_and_duckdb_read_the_same_records(store, tmp_path, path):
    assert _records(store, path, tmp_path, arrow=True) == _records(store, path, tmp_path, arrow=False)


@pytest.mark.parametrize("text", [
    '"user\nid",event_type,ts\nU1,view,2024-01-01\n',  # a line break inside a quoted header name
    'user_id,event_type,ts\r\n"U1",,"2024-01-01"\r\n\r\nU2,"a ""quoted"" view",\r\n',  # quotes, blanks, CRLF
    'user_id;event_type;ts\nU1;view;2024-01-01',  # semicolons, no final newline
])
def test_arrow_and_duckdb_agree_on_hand_written_traps(store, tmp_path, text):
    path = tmp_path / "trap.csv"
    path.write_text(text, encoding="utf-8", newline="")
    assert read_records(sniff(SourceFile(path.name, path), tmp_path)) is not None  # Arrow takes it
    assert _records(store, path, tmp_path, arrow=True) == _records(store, path, tmp_path, arrow=False)


def test_a_broken_record_is_left_to_duckdb_which_names_its_line(store, tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("user_id,event_type,ts,product_id,quantity\nU1,view,2024-01-01,P1,1\nU2,view\n"
                    "U4,view,2024-01-03,P2,1\n", encoding="utf-8")
    assert read_records(sniff(SourceFile(path.name, path), tmp_path)) is None
    report = run_import(store, [path])
    assert report.tables["events"] == 2
    # Three fields missing on one line: one rejected row, counted once.
    assert report.rows_read == 3 and report.rows_rejected == 1
    assert list(report.rejected["line"]) == [3] and "missing columns" in report.rejected["reason"][0]
    assert store.rows("SELECT user_id FROM events ORDER BY 1") == [("U1",), ("U4",)]


def test_a_legacy_byte_after_the_head_is_caught_and_the_file_read_again(store, tmp_path):
    # The first 64 KiB are plain ASCII, so the read starts as UTF-8; the full look finds the
    # Windows-1252 byte on the last line and the file is read again, converted.
    filler = "".join(f"U{i},view,2024-01-01 10:00,P{i % 7}\n" for i in range(4000))
    path = tmp_path / "late_cp1252.csv"
    path.write_bytes(("user_id,event_type,ts,product_id\n" + filler).encode() + "Ucafé,view,2024-01-02 10:00,P1\n"
                     .encode("cp1252"))
    assert path.stat().st_size > 1 << 16
    assert sniff_head(SourceFile(path.name, path)) is not None  # the head alone looks like UTF-8
    report = run_import(store, [path])
    assert report.files[0]["encoding"] in ("cp1252", "latin-1")
    assert report.rows_rejected == 0 and report.tables["events"] == 4001
    assert store.scalar("SELECT count(*) FROM events WHERE user_id = 'Ucafé'") == 1


def test_reimporting_reads_but_writes_nothing(store, tmp_path):
    path = FIX / "retail_semicolon_decimal_comma.csv"
    first = run_import(store, [path])
    counts = {t: store.count(t) for t in ("events", "products", "users", "import_log")}
    again = run_import(store, [path])
    assert again.status == "already_imported" and again.import_id == first.import_id
    assert {t: store.count(t) for t in counts} == counts


RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "B2,X,,1,1/5/2011 10:00,3.0,17,France\n"  # later in time, earlier in the file; no description
    "A1,X,Mug,1,1/2/2011 10:00,2.5,17.0,UK\n"
    "A1,Y,Cup,2,1/2/2011 10:00,1.5,17,France\n"
    "C3,X,Mug (old),1,1/6/2011 10:00,0,,UK\n"  # guest line: rejected, its product still counts
    "A4,Z,Plate,1,1/3/2011 10:00,4.0,,UK\n"  # a product only guests bought
)


def test_online_retail_products_and_users_by_hand(store, tmp_path):
    path = tmp_path / "retail.csv"
    path.write_text(RETAIL, encoding="utf-8")
    report = run_import(store, [path], ImportOptions(day_first=False))
    assert report.rows_rejected == 2 and report.tables["events"] == 3
    # Title: the first description in the file; price: the latest positive price by date.
    assert store.rows("SELECT product_id, title, price FROM products ORDER BY 1") == [
        ("X", "Mug", 3.0), ("Y", "Cup", 1.5), ("Z", "Plate", 4.0)]
    # "17" and "17.0" are one customer; region is the most frequent country (France 2, UK 1).
    assert store.rows("SELECT user_id, region FROM users") == [("17", "France")]
    assert store.scalar("SELECT ts FROM events WHERE event_id = 'or:B2:X#1'") == datetime(2011, 1, 5, 10)


def test_rejected_records_are_read_back_from_the_original_file(store, tmp_path):
    import gzip

    from core.ingest import rejected_csv

    text = "user_id,event_type,ts\nU1,view,2024-01-01\nZoë,jump,2024-01-02\n=X(),view,never\n"
    path = tmp_path / "legacy.csv.gz"
    path.write_bytes(gzip.compress(text.encode("cp1252")))
    report = run_import(store, [path])
    assert report.files[0]["compression"] == "gzip" and report.rows_rejected == 2
    rows = list(csv.DictReader(io.StringIO(rejected_csv(report).decode())))
    assert [(r["file"], r["line"], r["record"]) for r in rows] == [
        ("legacy.csv.gz", "3", "Zoë,jump,2024-01-02"), ("legacy.csv.gz", "4", "'=X(),view,never")]  # neutralised
    # Once the file no longer holds what was imported, its lines are not passed off as the records.
    path.write_bytes(gzip.compress(text.replace("Zoë", "Zed").encode("cp1252")))
    rows = list(csv.DictReader(io.StringIO(rejected_csv(report).decode())))
    assert [(r["line"], r["record"]) for r in rows] == [("3", ""), ("4", "")] and rows[0]["reason"]


def test_the_rejected_rows_download_is_in_line_order(store, tmp_path):
    from core.ingest import rejected_csv

    path = tmp_path / "many.csv"
    body = "".join(f"U{i},{'view' if i % 3 else 'jump'},2024-01-01 10:00\n" for i in range(450_000))
    path.write_text("user_id,event_type,ts\n" + body, encoding="utf-8")
    report = run_import(store, [path])
    assert report.rows_rejected == 150_000
    rows = list(csv.DictReader(io.StringIO(rejected_csv(report).decode())))
    assert [int(r["line"]) for r in rows] == list(range(2, 450_002, 3))
    assert rows[-1]["record"] == "U449997,jump,2024-01-01 10:00"


def test_files_over_the_arrow_size_are_read_by_duckdb(store, monkeypatch):
    import core.ingest.context as context

    path = FIX / "retail_semicolon_decimal_comma.csv"
    seen = []
    monkeypatch.setattr(context, "read_records", lambda sniffed: seen.append(sniffed.name))
    monkeypatch.setattr(context, "ARROW_READ_MAX_BYTES", path.stat().st_size - 1)
    report = run_import(store, [path])
    assert seen == [] and report.tables["events"] == 3  # DuckDB read it; same rows as ever


def test_rejects_of_a_later_file_with_a_broken_record_come_in_line_order(store, tmp_path):
    import shutil

    for f in (REALDATA / "olist").glob("*.csv"):
        shutil.copy(f, tmp_path / f.name)
    reviews = tmp_path / "olist_order_reviews_dataset.csv"
    n = sum(1 for _ in reviews.open(encoding="utf-8"))  # header + records, one line each
    with reviews.open("a", encoding="utf-8") as fh:
        fh.write("broken,line\n")  # line n + 1: too few fields, skipped by the reader
        fh.write("r-new,583174fbe37d3d5f0d6661be3aad1786,9,,,2018-08-15 00:00:00,\n")  # line n + 2: score 9
    report = run_import(store, sorted(tmp_path.glob("*.csv")))
    assert list(zip(report.rejected["file"], report.rejected["line"])) == [
        (reviews.name, n + 1), (reviews.name, n + 2)]
