"""Traps from the wild, each on a small hand-written file in tests/fixtures/import/."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from core.errors import ValidationError
from core.ingest import ImportOptions, dates, numbers, preview, run_import
from core.ingest.sniff import SourceFile

FIX = Path(__file__).parent / "fixtures" / "import"


def test_semicolon_decimal_comma_day_first_and_na(store):
    report = run_import(store, [FIX / "retail_semicolon_decimal_comma.csv"])
    assert report.files[0]["separator"] == "semicolon"
    # 13/01/2011 only fits day-first, so no question is asked.
    assert not report.ambiguous_dates
    assert store.one("SELECT ts, price FROM events WHERE event_id LIKE 'or:A100:P2#%'") == (
        datetime(2011, 1, 13, 9, 15), 1234.5)  # "1.234,50" in quotes
    assert store.scalar("SELECT price FROM events WHERE event_id LIKE 'or:A100:P1#%'") == 3.5
    assert store.one("SELECT event_type, quantity FROM events WHERE order_id = 'CA102'") == ("return", 1)
    lines = dict(zip(report.rejected["line"], report.rejected["reason"]))
    assert lines == {4: "customer id is missing (guest purchase): cannot attribute it to a person",
                     6: "Quantity is not a number"}  # N/A customer, NA quantity


@pytest.mark.parametrize("name, encoding, text", [
    ("retail_cp1252.csv", "cp1252", "“Smart” café mug"),
    ("retail_latin1.csv", "latin-1", "Müsli Schüssel"),
    ("retail_macroman.csv", "mac_roman", "Noël décoration été"),
])
def test_legacy_encodings_are_detected_and_converted(store, name, encoding, text):
    report = run_import(store, [FIX / name])
    assert report.files[0]["encoding"] == encoding
    assert report.files[0]["encoding_confidence"] >= 0.75
    assert store.scalar("SELECT count(*) FROM products WHERE title = ?", [text]) == 1


def test_thousands_separator_inside_quotes(store):
    run_import(store, [FIX / "retail_cp1252.csv"])
    assert store.scalar("SELECT price FROM events WHERE product_id = 'X1'") == 1250.0  # "1,250.00"


def test_forced_encoding_overrides_detection(store):
    report = preview(store, [FIX / "retail_macroman.csv"], ImportOptions(encoding="cp1252"))
    assert report.files[0]["encoding"] == "cp1252" and "chosen" in report.files[0]["encoding_note"]


def test_multiline_quoted_field_crlf_no_final_newline(store):
    report = run_import(store, [FIX / "reviews_multiline.tsv"])
    assert report.files[0]["separator"] == "tab"
    assert report.rows_read == 3
    # The bad rating is on physical line 4 (the first review spans lines 2-3).
    assert report.rejected[["line", "reason"]].values.tolist() == [[4, "rating is missing or not a number"]]
    assert store.scalar("SELECT review_text FROM events WHERE rating = 5") == \
        "Great speaker.\r\nSecond line of the review."
    # Last line has no newline and an empty review text: kept, with its rating.
    assert store.one("SELECT rating, review_text, ts FROM events WHERE rating = 3") == (3.0, None, datetime(2018, 8, 1))


@pytest.mark.parametrize("name, words", [
    ("collapsed_header.csv", "header row is one quoted field"),
    ("duplicate_columns.csv", "duplicate column names ('ts')"),
    ("header_only.csv", "no data rows"),
    ("empty.csv", "is empty"),
])
def test_unreadable_files_say_what_is_wrong(store, name, words):
    with pytest.raises(ValidationError, match=None) as err:
        preview(store, [FIX / name])
    assert words in str(err.value) and name in str(err.value)
    assert store.count("import_log") == 0


def test_upload_limit(store, tmp_path):
    big = tmp_path / "big.csv"
    big.write_text("user_id,event_type,ts\n" + "U1,view,2024-01-01\n" * 60_000)
    with pytest.raises(ValidationError, match=r"over the upload limit of 1 MB"):
        run_import(store, [big], limit_mb=1)


def test_unknown_columns_point_to_the_generic_mapping(store):
    with pytest.raises(ValidationError, match="generic mapping"):
        preview(store, [FIX / "generic_sales.csv"])


def test_ambiguous_dates_are_asked_not_guessed(store):
    report = preview(store, [FIX / "ambiguous_dates.csv"])
    assert report.needs_day_first
    assert report.ambiguous_dates[0]["column"] == "ts"
    with pytest.raises(ValidationError, match="fit both day-first and month-first"):
        run_import(store, [FIX / "ambiguous_dates.csv"])
    assert store.count("events") == 0
    run_import(store, [FIX / "ambiguous_dates.csv"], ImportOptions(day_first=True))
    assert store.scalar("SELECT ts FROM events WHERE user_id = 'U2'") == datetime(2024, 4, 3, 10, 0)


def test_ambiguous_preview_uses_the_stored_default(store):
    from core.ingest import DAY_FIRST_SETTING

    store.set_setting(DAY_FIRST_SETTING, True)
    report = preview(store, [FIX / "ambiguous_dates.csv"])
    assert report.ambiguous_dates[0]["chosen"] == "day-first"
    assert str(report.preview_rows.loc[0, "ts"]).startswith("2024-02-01")


def test_two_digit_years_and_out_of_range_dates_warn(store):
    report = run_import(store, [FIX / "two_digit_years.csv"])
    got = dict(store.rows("SELECT user_id, ts FROM events"))
    assert got["U1"] == datetime(2010, 12, 13, 8, 26)  # 12/13/10, never year 0010
    assert got["U2"] == datetime(1999, 1, 31, 10, 0)
    assert any("before 1970" in i for i in report.issues)
    assert any("after today" in i for i in report.issues)


def test_number_parsing_rules():
    cur = duckdb.connect()
    dates.install_macros(cur)
    numbers.install_macros(cur)
    got = lambda v, dc: cur.execute("SELECT cl_num(?, ?)", [v, dc]).fetchone()[0]  # noqa: E731
    assert got("60,531", False) == 60531.0
    assert got("3,50", True) == 3.5
    assert got("1.234,5", True) == 1234.5
    assert got("12.5%", False) == pytest.approx(0.125)
    assert got("45 %", False) == pytest.approx(0.45)
    assert got("$1,299.00", False) == 1299.0
    for missing in ("NA", "N/A", "", "  ", "null"):
        assert got(missing, False) is None
    cur.execute("CREATE TABLE t (v VARCHAR)")
    cur.execute("INSERT INTO t VALUES ('1,250'), ('3,5'), (NULL)")
    assert numbers.decimal_comma(cur, "t", "v", ",") is True  # "3,5" decides the column
    cur.execute("DELETE FROM t WHERE v = '3,5'")
    assert numbers.decimal_comma(cur, "t", "v", ",") is False  # "1,250" alone: thousands
    assert numbers.decimal_comma(cur, "t", "v", ";") is True  # ...unless the file is ;-separated


def test_date_parsing_rules():
    cur = duckdb.connect()
    dates.install_macros(cur)
    ts = lambda v, df=False: cur.execute("SELECT cl_ts(?, ?)", [v, df]).fetchone()[0]  # noqa: E731
    assert ts("12/1/10 8:26") == datetime(2010, 12, 1, 8, 26)
    assert ts("1/12/2010", True) == datetime(2010, 12, 1)
    assert ts("31-Jul-18") == datetime(2018, 7, 31)
    assert ts("2025-12-06 10:37:33 -0500") == datetime(2025, 12, 6, 15, 37, 33)  # UTC
    assert ts("2016-03-08T20:21:53Z") == datetime(2016, 3, 8, 20, 21, 53)
    assert ts("2015-08-08T00:00:00.000Z") == datetime(2015, 8, 8)
    assert ts("5/3/2011 1:05 PM") == datetime(2011, 5, 3, 13, 5)
    assert ts("2/31/2011") is None and ts("soon") is None and ts("NA") is None
    # Parts out of range are refused, never rolled over into the next day or hour.
    assert ts("2/29/2024") == datetime(2024, 2, 29) and ts("2/29/2023") is None and ts("2/29/1900") is None
    assert ts("31/04/2024", True) is None and ts("13/01/2024") is None
    assert ts("1/1/2024 24:00") is None and ts("1/1/2024 23:60") is None and ts("2024-01-01 10:00:60") is None
    assert ts("12/31/2024 23:59:59") == datetime(2024, 12, 31, 23, 59, 59)


def test_source_file_names_are_kept(store):
    report = preview(store, [SourceFile("orders from Ana.csv", FIX / "retail_cp1252.csv")])
    assert report.files[0]["name"] == "orders from Ana.csv"


def test_uncertain_encoding_is_reported_and_the_analyst_chooses(store):
    path = FIX / "uncertain_encoding.csv"  # one byte 0x9f: "ü" in Mac Roman, "Ÿ" in Windows-1252
    report = preview(store, [path])
    assert report.files[0]["encoding_confidence"] < 0.75
    assert any("low confidence" in i for i in report.issues)
    with pytest.raises(ValidationError, match="Choose the encoding"):
        run_import(store, [path])
    assert store.count("users") == 0
    run_import(store, [path], ImportOptions(encoding="mac_roman"))
    assert store.scalar("SELECT region FROM users WHERE user_id = 'U1'") == "Zürich"


def test_timestamps_match_printing_and_reparsing_the_parts_on_a_grid():
    # cl_mkts refuses out-of-range parts before make_timestamp; it must agree with the slower
    # strptime of the printed parts (what it replaced) on every combination, valid or not.
    cur = duckdb.connect()
    dates.install_macros(cur)
    grid = """SELECT y, m, d, h, mi, s FROM
        (VALUES (0), (1), (4), (1900), (1969), (2000), (2024), (9999), (10000), (NULL), (-1)) Y(y),
        (VALUES (0), (1), (2), (12), (13), (NULL), (-1)) M(m),
        (VALUES (0), (1), (28), (29), (30), (31), (32), (-3), (NULL)) D(d),
        (VALUES (0), (23), (24), (-1), (NULL)) H(h), (VALUES (0), (59), (60), (-1)) MI(mi),
        (VALUES (0), (59), (60), (61), (-5)) S(s)"""
    total, readable, differ = cur.execute(
        f"""SELECT count(*), count(a), count(*) FILTER (WHERE a IS DISTINCT FROM b) FROM (
            SELECT try_strptime(printf('%04d-%02d-%02d %02d:%02d:%02d', y, m, d, h, mi, s), '%Y-%m-%d %H:%M:%S') AS a,
                   cl_mkts(y, m, d, h, mi, s) AS b FROM ({grid}))"""
    ).fetchone()
    assert (total, differ) == (69_300, 0) and readable == 800
