"""The Data page's upload -> preview -> import -> undo flow, driven with AppTest."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.ingest import run_import
from core.store import Store

FIX = Path(__file__).parent / "fixtures" / "import"


@pytest.fixture
def data_page(app_env, open_page):
    """The Data page on a non-empty database, so the app does not load the sample shop on first start."""
    with Store(app_env / "data" / "copylift.duckdb") as store:
        run_import(store, [FIX / "retail_cp1252.csv"])
    return open_page("pages/data.py", timeout=60)


def test_upload_preview_import_and_undo(data_page, realdata):
    at = data_page
    data = (realdata / "shopify/shopify_orders_export_devstore_redacted.csv").read_bytes()
    at.file_uploader(key="data.upload").upload("orders.csv", data, "text/csv").run()
    assert not at.exception
    summary = " ".join(m.value for m in at.markdown)
    assert "Shopify orders export" in summary and "121 rows read" in summary and "1 rejected" in summary
    assert at.button(key="data.import").disabled  # rejected rows: the analyst must agree first
    at.checkbox(key="data.accept_rejects").check().run()
    at.button(key="data.import").click().run()
    assert not at.exception
    assert any("Imported 120 of 121 rows" in s.value for s in at.success)
    at.run()  # the file is still in the uploader: the preview now says it was imported
    assert "already imported" in " ".join(m.value for m in at.markdown)
    assert at.selectbox(key="data.undo_pick").value.startswith("#2 orders.csv")  # newest first
    at.button(key="data.undo").click().run()
    assert not at.exception
    assert any("Import 2 undone: removed 2 users, 5 products, 120 events." == s.value for s in at.success)


def test_ambiguous_dates_ask_and_remember_the_order(data_page):
    at = data_page
    at.file_uploader(key="data.upload").upload("dates.csv", (FIX / "ambiguous_dates.csv").read_bytes(),
                                                "text/csv").run()
    assert not at.exception
    assert any("fits both day-first and month-first" in w.value for w in at.warning)
    at.radio(key="data.date_order").set_value("day first (D/M/Y)").run()
    at.button(key="data.import").click().run()
    assert not at.exception, at.exception
    assert any("Imported 3 of 3 rows" in s.value for s in at.success)
    from pages.common import get_store  # the app's own cached store

    store = get_store()
    assert store.scalar("SELECT ts FROM events WHERE user_id = 'U2'") == datetime(2024, 4, 3, 10, 0)
    assert store.get_setting("import.day_first") is True  # the next ambiguous file defaults to day-first


def test_unrecognised_file_offers_the_mapping(data_page):
    at = data_page
    at.file_uploader(key="data.upload").upload("kasse.csv", (FIX / "generic_sales.csv").read_bytes(),
                                                "text/csv").run()
    assert any("generic mapping" in e.value for e in at.error)
    at.selectbox(key="data.format").set_value("generic").run()
    assert at.selectbox(key="data.map.events.ts").value == "Wann"  # suggested from the values
    for fld, col in {"user_id": "Kunde", "product_id": "Artikel", "quantity": "Menge", "price": "Betrag"}.items():
        at.selectbox(key=f"data.map.events.{fld}").set_value(col)
    at.selectbox(key="data.map_event_type").set_value("purchase").run()
    at.text_input(key="data.map_name").input("Kasse").run()
    at.button(key="data.map_save").click().run()
    assert not at.exception
    at.button(key="data.import").click().run()
    assert not at.exception
    assert any("Imported 2 of 2 rows" in s.value for s in at.success)


def test_gzipped_upload_and_refused_undo_on_the_page(data_page, realdata, tmp_path):
    import gzip

    at = data_page  # import 1: retail_cp1252.csv
    data = gzip.compress((realdata / "online_retail/uci_online_retail_random_sample_jerryaoverton.csv").read_bytes())
    at.file_uploader(key="data.upload").upload("uci.csv.gz", data, "application/gzip").run()
    assert not at.exception
    summary = " ".join(m.value for m in at.markdown)
    assert "UCI Online Retail" in summary and "2,709 rows read" in summary
    files = next(d.value for d in at.dataframe if "compression" in d.value.columns)
    assert files.loc[0, "compression"] == "gzip" and files.loc[0, "rows_read"] == 2709
    # An overlapping file imported after the first one: undoing the first is refused, by name.
    from pages.common import get_store

    store = get_store()
    overlap = tmp_path / "overlap.csv"
    overlap.write_bytes((FIX / "retail_cp1252.csv").read_bytes() + b"B9,X9,Mug,1,2011-03-02 10:00,4.10,K2,Spain\r\n")
    later = run_import(store, [overlap])
    assert later.duplicates_of == {1: sum(later.duplicates.values())}
    at.run()
    at.selectbox(key="data.undo_pick").set_value(next(o for o in at.selectbox(key="data.undo_pick").options
                                                      if o.startswith("#1 "))).run()
    at.button(key="data.undo").click().run()
    assert not at.exception
    assert any(f"import {later.import_id}" in e.value and "cannot be undone" in e.value for e in at.error)
