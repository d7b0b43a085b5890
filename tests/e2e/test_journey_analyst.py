"""Journey 2: an analyst imports a real Shopify orders export and a malformed CSV through the browser.

They see the preview, the import result and the rejected-rows report (downloaded
and read back), and a file CopyLift cannot read gets a message, not a traceback.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harness import (
    assert_clean,
    check,
    click,
    download,
    key,
    limit,
    main_text,
    metric,
    number,
    rerun,
    screenshot,
    upload,
    wait_text,
)

from tests.conftest import REALDATA

SHOPIFY = REALDATA / "shopify" / "shopify_orders_export_devstore_redacted.csv"

MALFORMED = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART,6,12/25/2010 08:26,2.55,17850,United Kingdom\n"
    "536366,71053,WHITE METAL LANTERN,2,not a date,3.39,13047,France\n"
    "536368,22752,SET 7 BABUSHKA,abc,12/27/2010 10:00,7.65,13048,France\n"
    "536369,21730,GLASS STAR LANTERN,6,12/28/2010 10:00,4.25,,France\n"
    "536370,22633,HAND WARMER,6,12/29/2010 10:00,1.85,13049,Spain\n"
)


def _rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


def _clear_uploads(page) -> None:
    """Remove every uploaded file with its chip's delete button, as a person would."""
    chips = page.locator(f'{key("data.upload")} [data-testid="stFileChipDeleteBtn"]')
    for _ in range(chips.count()):
        target = chips.first
        target = target if target.evaluate("e => e.tagName") == "BUTTON" else target.locator("button").first
        rerun(page, target.click)
    assert chips.count() == 0


def test_analyst_imports_shopify_and_a_malformed_file(page, tmp_path):
    events_before = number(metric(page, "Events"))

    # 1. The real Shopify export: preview first.
    upload(page, "data.upload", SHOPIFY)
    wait_text(page, "121 rows read")
    text = main_text(page)
    assert "Shopify" in text
    assert "120 accepted" in text and "1 rejected" in text
    assert_clean(page)
    screenshot(page, "analyst-1-shopify-preview")

    rejects = download(page, "data.rejects_download", tmp_path)
    rows = _rows(rejects)
    assert len(rows) == 1
    assert set(rows[0]) >= {"file", "line", "reason", "record"}
    assert rows[0]["file"] == SHOPIFY.name

    # The import button waits for the analyst to accept leaving the rejected row out.
    check(page, "data.accept_rejects")
    click(page, "data.import", timeout_ms=limit(60_000))
    wait_text(page, "Imported 120 of 121 rows as import")
    assert number(metric(page, "Events")) == events_before + 120
    assert_clean(page)
    screenshot(page, "analyst-2-shopify-imported")

    # 2. A malformed Online Retail file: three bad rows, each with its line and reason.
    _clear_uploads(page)
    bad = tmp_path / "retail_malformed.csv"
    bad.write_text(MALFORMED, encoding="utf-8")
    upload(page, "data.upload", bad)
    wait_text(page, "5 rows read")
    assert "2 accepted" in main_text(page) and "3 rejected" in main_text(page)
    rows = _rows(download(page, "data.rejects_download", tmp_path))
    assert sorted(int(r["line"]) for r in rows) == [3, 4, 5]
    reasons = " | ".join(r["reason"] for r in rows)
    assert "not a date" in reasons and "not a number" in reasons and "customer id is missing" in reasons
    screenshot(page, "analyst-3-malformed-preview")
    check(page, "data.accept_rejects")
    click(page, "data.import", timeout_ms=limit(60_000))
    wait_text(page, "Imported 2 of 5 rows")
    assert number(metric(page, "Events")) == events_before + 122

    # 3. Something that is not a CSV export at all: a clear message, nothing imported.
    _clear_uploads(page)
    junk = tmp_path / "photo.csv"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    upload(page, "data.upload", junk)
    alert = page.locator('[data-testid="stAlertContentError"]').first
    alert.wait_for()
    assert "photo.csv" in alert.inner_text()
    assert_clean(page)
    assert number(metric(page, "Events")) == events_before + 122
