"""Gzip-compressed uploads: recognised by their bytes, read like the plain file, bombs stopped."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from core.errors import ValidationError
from core.ingest import preview, run_import
from core.ingest.__main__ import main as cli_main

FIX = Path(__file__).parent / "fixtures" / "import"
UCI = "online_retail/uci_online_retail_random_sample_jerryaoverton.csv"
ALEXA = "reviews/amazon_alexa.tsv"


def _gz(src: Path, dest: Path) -> Path:
    dest.write_bytes(gzip.compress(src.read_bytes()))
    return dest


def test_gzipped_real_sample_imports_like_the_plain_file(store, realdata, tmp_path):
    path = _gz(realdata / UCI, tmp_path / "uci_sample.csv.gz")
    report = run_import(store, [path])
    assert report.format == "online_retail" and report.files[0]["compression"] == "gzip"
    assert "gzip-compressed" in report.files[0]["encoding_note"]
    # The same counts as the plain file (test_import_realdata): 2,709 rows, 668 guests rejected.
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2709, 2041, 668)
    assert report.tables == {"events": 2041, "products": 1395, "users": 1171}
    assert report.rejected.iloc[0]["line"] == 5  # lines of the unpacked text
    assert store.scalar("SELECT price FROM events WHERE event_id LIKE 'or:573442:21479#%'") == 4.25
    # Importing the same compressed file again adds nothing.
    assert run_import(store, [path]).status == "already_imported"


def test_gzip_is_detected_by_magic_bytes_not_the_name(store, realdata, tmp_path):
    # A tab-separated review export, gzipped, saved under a name without .gz (and BOM + CRLF inside).
    path = _gz(realdata / ALEXA, tmp_path / "alexa_reviews.tsv")
    report = preview(store, [path])
    assert report.format == "reviews" and report.files[0]["separator"] == "tab"
    assert report.files[0]["compression"] == "gzip" and report.files[0]["encoding"] == "utf-8-sig"
    assert report.rows_read == 3150
    # And a plain file named .csv.gz is just read as text.
    plain = tmp_path / "not_really.csv.gz"
    plain.write_bytes((FIX / "retail_latin1.csv").read_bytes())
    assert preview(store, [plain]).files[0]["compression"] is None


def test_legacy_encoding_inside_gzip_is_transcoded(store, tmp_path):
    report = run_import(store, [_gz(FIX / "retail_cp1252.csv", tmp_path / "retail.csv.gz")])
    assert report.files[0]["encoding"] == "cp1252" and report.status == "imported"


def test_gzip_bomb_stops_at_the_upload_limit(store, tmp_path):
    # ~3 MB of text compresses to a few KB: the compressed size passes the 1 MB limit, the text does not.
    rows = b"".join(f"p{i},Thing,1\n".encode() for i in range(250_000))
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"product_id,title,price\n" + rows))
    assert path.stat().st_size < 1024 * 1024
    with pytest.raises(ValidationError, match=r"bomb\.csv\.gz is gzip-compressed and unpacks to more than the "
                                              r"upload limit of 1 MB"):
        preview(store, [path], limit_mb=1)
    assert store.count("products") == 0


def test_damaged_gzip_says_so(store, tmp_path):
    data = gzip.compress((FIX / "retail_latin1.csv").read_bytes())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValidationError, match="cannot be unpacked"):
        preview(store, [path])


def test_cli_groups_gzipped_olist_tables(tmp_path, capsys, realdata):
    files = [_gz(realdata / "olist" / n, tmp_path / f"{n}.gz")
             for n in ("olist_orders_dataset.csv", "olist_customers_dataset.csv", "olist_order_items_dataset.csv")]
    code = cli_main([*map(str, files), "--db", str(tmp_path / "o.duckdb"), "--dry-run"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["format"] == "olist" and len(out["files"]) == 3
