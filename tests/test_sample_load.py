"""Loading the sample: counts, types, funnel sanity, reset and ensure-db."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from core.config import SAMPLE_DIR
from core.errors import NotFoundError, StoreError
from core.ingest.sample import ensure_db, load_sample, reset_to_sample
from core.sample.__main__ import main
from core.store import Store


def _truth_counts() -> dict[str, int]:
    return json.loads((SAMPLE_DIR / "ground_truth.json").read_text())["counts"]


def test_load_into_memory_matches_ground_truth_counts(store):
    counts = load_sample(store)
    assert counts == _truth_counts()
    assert store.count("events") == counts["events"]
    assert store.scalar("SELECT count(DISTINCT source) FROM events") == 1
    assert store.scalar("SELECT min(source) FROM users") == "sample"
    # The bulk-load setting is put back afterwards.
    assert store.scalar("SELECT current_setting('preserve_insertion_order')") is True


def test_types_and_ranges(sample_store):
    lo, hi = sample_store.one("SELECT min(signup_date), max(signup_date) FROM users")
    assert lo.year >= 2023 and hi.year == 2026  # the sniffer's year-0012 trap did not bite
    lo, hi = sample_store.one("SELECT min(ts), max(ts) FROM events")
    assert str(lo) >= "2026-01-01" and str(hi) < "2026-06-30"
    assert sample_store.scalar("SELECT count(*) FROM events WHERE event_type = 'review' AND rating IS NULL") == 0
    ratings = sample_store.rows("SELECT DISTINCT rating FROM events WHERE rating IS NOT NULL ORDER BY 1")
    assert [r[0] for r in ratings] == [1, 2, 3, 4, 5]
    assert sample_store.scalar("SELECT bool_and(accepts_marketing IS NOT NULL) FROM users")


def test_funnel_is_monotone_per_user_and_product(sample_store):
    bad = sample_store.df(
        """SELECT user_id, product_id,
                  count(*) FILTER (WHERE event_type = 'view') AS views,
                  count(*) FILTER (WHERE event_type = 'click') AS clicks,
                  count(*) FILTER (WHERE event_type = 'add_to_cart') AS carts,
                  count(*) FILTER (WHERE event_type = 'purchase') AS purchases
           FROM events GROUP BY ALL
           HAVING NOT (purchases <= carts AND carts <= clicks AND clicks <= views)"""
    )
    assert bad.empty, bad.head()
    repeat = sample_store.scalar(
        "SELECT count(*) FROM (SELECT user_id FROM events WHERE event_type = 'purchase' "
        "GROUP BY 1 HAVING count(DISTINCT order_id) >= 3)"
    )
    assert repeat >= 200  # repeat buyers exist


def test_exposure_outcomes_are_consistent(sample_store):
    row = sample_store.one(
        """SELECT count(*) FILTER (WHERE converted AND NOT clicked),
                  count(*) FILTER (WHERE clicked AND NOT opened),
                  count(*) FILTER (WHERE converted AND revenue <= 0),
                  count(*) FILTER (WHERE NOT converted AND revenue > 0),
                  avg(converted::INT)
           FROM exposures"""
    )
    assert row[:4] == (0, 0, 0, 0)
    assert 0.01 < row[4] < 0.06
    # Every conversion left a purchase event tagged with its campaign.
    conversions = sample_store.scalar("SELECT count(*) FROM exposures WHERE converted")
    tagged = sample_store.scalar("SELECT count(*) FROM events WHERE event_type = 'purchase' AND campaign_id IS NOT NULL")
    assert conversions == tagged


def test_each_user_gets_at_most_one_variant_per_campaign(sample_store):
    dupes = sample_store.scalar(
        "SELECT count(*) FROM (SELECT user_id, campaign_id FROM exposures GROUP BY ALL HAVING count(*) > 1)"
    )
    assert dupes == 0


def test_reset_restores_the_sample_and_clears_imports(sample_store):
    sample_store.execute("DELETE FROM events WHERE event_type = 'view'")
    sample_store.execute("INSERT INTO users (user_id, source) VALUES ('X1', 'import')")
    sample_store.execute(
        "INSERT INTO import_log (import_id, file_name, file_hash, format) VALUES (1, 'a.csv', 'h', 'csv')"
    )
    counts = reset_to_sample(sample_store)
    assert counts == _truth_counts()
    assert sample_store.count("events") == counts["events"]
    assert sample_store.count("import_log") == 0
    assert sample_store.scalar("SELECT count(*) FROM users WHERE user_id = 'X1'") == 0


def test_reset_with_missing_files_changes_nothing(sample_store, tmp_path):
    before = sample_store.count("events")
    with pytest.raises(NotFoundError, match="python -m core.sample"):
        reset_to_sample(sample_store, tmp_path)
    assert sample_store.count("events") == before


def test_failed_load_rolls_back(store, tmp_path):
    for name in ("users.csv", "products.csv", "campaigns.csv", "variants.csv", "exposures.csv.gz"):
        shutil.copyfile(SAMPLE_DIR / name, tmp_path / name)
    (tmp_path / "events.csv.gz").write_bytes(b"not gzip")
    with pytest.raises(StoreError, match="events.csv.gz"):
        load_sample(store, tmp_path)
    assert store.count("users") == 0


def test_loading_twice_is_refused_cleanly(sample_store):
    with pytest.raises(StoreError, match="reset_to_sample"):
        load_sample(sample_store)
    assert sample_store.count("users") == 5000


def test_ensure_db_loads_once(tmp_path, capsys):
    path = str(tmp_path / "app.duckdb")
    first = ensure_db(path)
    assert first["users"] == 5000
    assert ensure_db(path) is None
    assert main(["--ensure-db", "--db", path]) == 0  # what `make db` runs
    assert "already has data" in capsys.readouterr().out
    with Store(path) as s:
        assert s.count("users") == 5000
    frame = pd.read_csv(SAMPLE_DIR / "users.csv")
    assert frame["email"].str.endswith("@example.com").all()
