"""The analyst's mapping constants and file names reach the database as data, never as SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ValidationError
from core.ingest import ImportOptions, preview, run_import
from core.ingest.formats import campaigns

FIX = Path(__file__).parent / "fixtures" / "import"
HOSTILE = "'); DROP TABLE events; -- \"quoted\"; it's"


def test_hostile_mapping_constant_is_imported_verbatim(store):
    mapping = {"target": "events", "columns": {"user_id": "Kunde", "ts": "Wann", "product_id": "Artikel"},
               "defaults": {"event_type": "purchase", "campaign_id": HOSTILE, "review_text": "a;b;'c'"}}
    report = run_import(store, [FIX / "generic_sales.csv"], ImportOptions(mapping=mapping))
    assert report.status == "imported" and report.tables == {"events": 2}
    assert store.rows("SELECT DISTINCT campaign_id, review_text FROM events") == [(HOSTILE, "a;b;'c'")]
    assert store.count("events") == 2  # the table is still there, with the rows


def test_hostile_constant_as_a_reject_reason_value_stays_data(store):
    # An event type constant that is not a CopyLift event type: rejected, quoted back verbatim.
    mapping = {"target": "events", "columns": {"user_id": "Kunde", "ts": "Wann"},
               "defaults": {"event_type": HOSTILE}}
    report = run_import(store, [FIX / "generic_sales.csv"], ImportOptions(mapping=mapping))
    assert report.rows_rejected == 2 and store.count("events") == 0
    assert report.rejected["reason"].iloc[0].startswith("event type '" + HOSTILE.lower())


def test_constants_never_appear_in_the_staging_sql(store, monkeypatch):
    seen: list[str] = []
    for method in ("stage", "temp"):
        real = getattr(campaigns.StageContext, method)

        def spy(self, name, select_sql, params=None, _real=real):
            seen.append(select_sql)
            return _real(self, name, select_sql, params)

        monkeypatch.setattr(campaigns.StageContext, method, spy)
    mapping = {"target": "events", "columns": {"user_id": "Kunde", "ts": "Wann"},
               "defaults": {"event_type": "purchase", "campaign_id": "spring-sale-2024"}}
    report = preview(store, [FIX / "generic_sales.csv"], ImportOptions(mapping=mapping))
    assert report.preview_rows["campaign_id"].tolist() == ["spring-sale-2024"] * 2
    assert len(seen) >= 2 and not any("spring-sale-2024" in sql for sql in seen)


def test_default_channel_comes_from_the_allow_list(store):
    with pytest.raises(ValidationError, match="unknown default channel"):
        preview(store, [FIX / "campaign_user_level.csv"], ImportOptions(default_channel="sms'); --"))
    report = preview(store, [FIX / "campaign_user_level.csv"], ImportOptions(default_channel="push"))
    assert report.status == "preview"


def test_review_file_name_with_quotes_is_data(store, tmp_path):
    path = tmp_path / "it's; drop.tsv"
    path.write_text("rating\tdate\tvariation\tverified_reviews\n5\t31-Jul-18\tBlack Dot\tLove it\n",
                    encoding="utf-8")
    run_import(store, [path])
    assert store.scalar("SELECT product_id FROM events") == "it-s--drop:black-dot"
