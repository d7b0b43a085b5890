"""Each real export in shared/realdata imports with the right counts and hand-checked values."""

from __future__ import annotations

from datetime import datetime

import pytest

from core.errors import ValidationError
from core.ingest import ImportOptions, preview, run_import

UCI = "online_retail/uci_online_retail_random_sample_jerryaoverton.csv"
UCI2 = "online_retail/online_retail_II_header_head98_xq2005.csv"


def _event(store, event_id_like: str):
    return store.one(
        "SELECT user_id, product_id, event_type, ts, quantity, price, order_id, rating, review_text "
        "FROM events WHERE event_id LIKE ?", [event_id_like]
    )


def test_uci_online_retail_sample(store, realdata):
    report = run_import(store, [realdata / UCI])
    assert report.status == "imported" and report.format == "online_retail"
    # 2,709 rows; 668 have CustomerID NA (grep -c ',NA,' = 668): rejected, each with its line.
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (2709, 2041, 668)
    assert report.reject_reasons == {
        "customer id is missing (guest purchase): cannot attribute it to a person": 668}
    assert report.rejected.iloc[0]["line"] == 5  # "107865","545464",...,NA: 4th data row, line 5
    assert report.tables == {"events": 2041, "products": 1395, "users": 1171}
    # "428465","573442","21479","WHITE SKULL HOT WATER BOTTLE ",4,"10/31/2011 10:42",4.25,12488,"France"
    row = _event(store, "or:573442:21479#%")
    assert row[:7] == ("12488", "21479", "purchase", datetime(2011, 10, 31, 10, 42), 4, 4.25, "573442")
    # "228909","C556966","22827","RUSTIC  SEVENTEEN DRAWER SIDEBOARD",-1,"6/16/2011 9:55",165,13523: a return.
    ret = _event(store, "or:C556966:22827#%")
    assert ret[:6] == ("13523", "22827", "return", datetime(2011, 6, 16, 9, 55), 1, 165.0)
    n_returns = store.scalar("SELECT count(*) FROM events WHERE event_type = 'return'")
    # 57 lines are C invoices or negative quantities (checked with the csv module); 11 lack a customer id.
    assert n_returns == 46
    assert store.scalar("SELECT region FROM users WHERE user_id = '12488'") == "France"
    assert store.scalar("SELECT title FROM products WHERE product_id = '21479'") == "WHITE SKULL HOT WATER BOTTLE"
    log = store.one("SELECT format, rows_accepted, rows_rejected, status FROM import_log")
    assert log == ("online_retail", 2041, 668, "done")


def test_online_retail_ii_header_bom_no_final_newline(store, realdata):
    # Every date is 12/1/2010: day-first and month-first both fit, so the order must be chosen.
    assert preview(store, [realdata / UCI2]).needs_day_first
    with pytest.raises(ValidationError, match="fit both day-first and month-first"):
        run_import(store, [realdata / UCI2], dry_run=True)
    report = run_import(store, [realdata / UCI2], ImportOptions(day_first=False))
    assert report.files[0]["encoding"] == "utf-8-sig"
    assert (report.rows_read, report.rows_rejected) == (99, 0)  # 100 lines, the last without newline
    assert report.tables == {"events": 99, "products": 72, "users": 7}  # 72 stock codes, 7 customers
    first = _event(store, "or:536365:85123A#%")
    assert first[:6] == ("17850", "85123A", "purchase", datetime(2010, 12, 1, 8, 26), 6, 2.55)
    last = _event(store, "or:536378:21977#%")  # the line without a final newline
    assert last[0] == "14688" and last[4] == 24


def test_shopify_orders_export(store, realdata):
    report = run_import(store, [realdata / "shopify/shopify_orders_export_devstore_redacted.csv"])
    assert report.format == "shopify_orders"
    # 121 line items in 51 orders; order #1001 has no email on any line: rejected (line 122).
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (121, 120, 1)
    assert report.rejected.iloc[0]["line"] == 122
    assert report.tables["events"] == 120 and report.tables["users"] == 2  # two distinct emails
    assert store.scalar("SELECT count(DISTINCT order_id) FROM events") == 50
    # #1051, Created at 2025-12-06 10:37:33 -0500 (stored in UTC), 1 x Organic Ethiopian Coffee Beans @ 1299.00
    row = store.one("SELECT user_id, product_id, ts, quantity, price FROM events WHERE order_id = '#1051'")
    assert row == ("customer1@example.com", "CB-ETH-500", datetime(2025, 12, 6, 15, 37, 33), 1, 1299.0)
    # Order-level fields are on the first line only; the order's other lines still get the person.
    assert store.scalar("SELECT count(*) FROM events WHERE order_id = '#1050'") == 4
    assert store.scalar("SELECT count(DISTINCT user_id) FROM events WHERE order_id = '#1050'") == 1
    assert any("INR" in n for n in report.notes)


def test_shopify_customers_export(store, realdata):
    report = run_import(store, [realdata / "shopify/shopify_customers_export_devstore_redacted.csv"])
    assert report.format == "shopify_customers"
    assert (report.rows_read, report.rows_rejected, report.tables) == (8, 0, {"users": 8})
    assert store.one("SELECT first_name, accepts_marketing FROM users WHERE user_id = 'customer1@example.com'") \
        == ("test", True)
    # No email: keyed by the (spreadsheet-rounded) Shopify id, and the rounding is reported.
    assert store.scalar("SELECT count(*) FROM users WHERE user_id = 'shopify-customer:7.06971E+12'") == 1
    assert any("scientific notation" in i for i in report.issues)


def test_olist_tables_join_into_one_history(store, realdata):
    files = sorted((realdata / "olist").glob("*.csv"))
    assert len(files) == 9
    report = run_import(store, files)
    assert report.format == "olist" and report.rows_rejected == 0
    # 8,016 people (customer_unique_id) behind 8,135 orders; 5,460 products;
    # 8,365 order items + 8,225 reviews (8,191 distinct review ids) = 16,590 events.
    assert report.tables == {"users": 8016, "products": 5460, "events": 16590}
    counts = dict(store.rows("SELECT event_type, count(*) FROM events GROUP BY 1"))
    assert counts["review"] == 8225 and counts["purchase"] + counts["return"] == 8365
    # Review 373cbeec... on order 583174fb... (customer e545e697..., person cdbbafa8...), score 1.
    review = store.one("SELECT user_id, product_id, rating, ts, review_text FROM events "
                       "WHERE event_id = 'olist-review:373cbeecea8286a2b66c97b1b157ec46:583174fbe37d3d5f0d6661be3aad1786'")
    assert review[:4] == ("cdbbafa842e30d5e79dcef5bdc118831", "55a1e3d39ace9c0b217f6c30b04d43c0", 1.0,
                          datetime(2018, 8, 15))
    assert review[4].startswith("Não chegou meu produto")
    # That order was cancelled: its item is a return (kept, not a purchase), price 89.9.
    item = store.one("SELECT event_type, price, ts FROM events WHERE event_id = 'olist:583174fbe37d3d5f0d6661be3aad1786:1'")
    assert item == ("return", 89.9, datetime(2018, 8, 4, 19, 25, 7))
    assert store.scalar("SELECT count(*) FROM events WHERE review_text LIKE '%' || chr(10) || '%'") > 0


def test_amazon_alexa_reviews_tsv(store, realdata):
    report = run_import(store, [realdata / "reviews/amazon_alexa.tsv"])
    assert report.format == "reviews" and report.files[0]["separator"] == "tab"
    assert (report.rows_read, report.rows_rejected) == (3150, 0)
    assert report.tables == {"events": 3150, "products": 16}
    row = store.one("SELECT rating, ts, product_id FROM events WHERE review_text = 'Love my Echo!'")
    assert row == (5.0, datetime(2018, 7, 31), "amazon_alexa:charcoal-fabric")  # 31-Jul-18, never year 0018
    assert store.scalar("SELECT title FROM products WHERE product_id = 'amazon_alexa:charcoal-fabric'") \
        == "Charcoal Fabric"  # trailing space trimmed
    assert store.scalar("SELECT count(*) FROM events WHERE review_text IS NULL") == 79


def test_datafiniti_reviews(store, realdata):
    report = run_import(store, [realdata / "reviews/datafiniti_7817_1_subset.csv"])
    assert report.format == "datafiniti_reviews"
    # 100 reviews; 43 have no reviews.date (rejected with that reason); 61 have no rating (kept).
    assert (report.rows_read, report.rows_accepted, report.rows_rejected) == (100, 57, 43)
    assert report.tables["events"] == 57 and report.tables["products"] == 4
    row = store.one("SELECT rating, ts, product_id FROM events WHERE user_id = 'datafiniti:Cristina M' "
                    "AND rating IS NOT NULL")
    assert row == (5.0, datetime(2015, 8, 8), "AVpe7AsMilAPnD_xQ78G")
    assert store.scalar("SELECT title FROM products WHERE product_id = 'AVpe7AsMilAPnD_xQ78G'") == "Kindle Paperwhite"


@pytest.mark.parametrize("rel", [UCI, "shopify/shopify_orders_export_devstore_redacted.csv"])
def test_reimport_same_file_adds_nothing(store, realdata, rel):
    run_import(store, [realdata / rel])
    before = store.table_counts()
    again = run_import(store, [realdata / rel])
    assert again.status == "already_imported" and "already imported" in again.message.lower()
    assert store.table_counts() == before
