"""The store: migrations, transactions, parameters and allow-lists."""

from __future__ import annotations

import threading

import pytest

from core.errors import StoreError, ValidationError
from core.migrations import MIGRATIONS, TABLES
from core.store import Store, single_row, single_value


def test_migrations_create_every_table(store):
    assert store.schema_version() == len(MIGRATIONS)
    for table in TABLES:
        assert store.count(table) == 0


def test_migrate_is_idempotent_on_a_file(tmp_path):
    path = tmp_path / "db" / "x.duckdb"
    with Store(path) as s:
        s.execute("INSERT INTO products (product_id, title, price) VALUES (?, ?, ?)", ["p1", "Mug", 9.5])
    with Store(path) as s:
        assert s.schema_version() == len(MIGRATIONS)
        assert s.count("products") == 1


def test_transaction_rolls_back_everything(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO products (product_id, title) VALUES (?, ?)", ["p1", "Mug"])
            raise RuntimeError("boom")
    assert store.count("products") == 0


def test_nested_transactions_join_the_outer_one(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.execute("INSERT INTO products (product_id, title) VALUES (?, ?)", ["p1", "Mug"])
            assert store.count("products") == 1  # visible inside
            raise RuntimeError("boom")
    assert store.count("products") == 0


def test_single_row_gives_the_aggregate_row_and_sees_the_open_transaction(store):
    assert store.single_row("SELECT count(*), max(price) FROM products") == (0, None)
    with store.transaction() as cur:
        cur.execute("INSERT INTO products (product_id, title, price) VALUES (?, ?, ?)", ["p1", "Mug", 9.5])
        assert single_row(cur, "SELECT count(*), max(price) FROM products") == (1, 9.5)
        assert single_value(cur, "SELECT count(*) FROM products WHERE product_id = ?", ["p1"]) == 1
        assert store.single_row("SELECT count(*) FROM products") == (1,)


def test_single_row_raises_store_error_when_the_query_returns_no_row(store):
    with pytest.raises(StoreError, match="no row where one was expected"):
        store.single_row("SELECT price FROM products WHERE product_id = ?", ["nope"])
    with store.transaction() as cur, pytest.raises(StoreError):
        single_value(cur, "SELECT 1 WHERE FALSE")
    assert store.one("SELECT price FROM products WHERE product_id = ?", ["nope"]) is None  # lookups keep None


def test_values_are_parameters_not_sql(store):
    evil = "x'); DROP TABLE products; --"
    store.execute("INSERT INTO products (product_id, title) VALUES (?, ?)", [evil, evil])
    assert store.scalar("SELECT title FROM products WHERE product_id = ?", [evil]) == evil


def test_unknown_table_is_refused(store):
    with pytest.raises(ValidationError):
        store.count("products; DROP TABLE users")


def test_insert_df_refuses_unknown_columns(store):
    import pandas as pd

    with pytest.raises(ValidationError):
        store.insert_df("products", pd.DataFrame({"product_id": ["a"], "title": ["t"], "evil": [1]}))
    assert store.insert_df("products", pd.DataFrame({"product_id": ["a"], "title": ["t"]})) == 1


def test_check_constraints_hold(store):
    with pytest.raises(Exception):
        store.execute(
            "INSERT INTO events (event_id, user_id, event_type, ts) VALUES ('e', 'u', 'teleport', now())"
        )
    with pytest.raises(Exception):
        store.execute(
            "INSERT INTO variant_results (variant_id, sends, conversions) VALUES ('v', 10, 11)"
        )


def test_concurrent_writes_from_threads(tmp_path):
    with Store(tmp_path / "t.duckdb") as s:
        def work(i: int) -> None:
            for j in range(20):
                s.execute("INSERT INTO settings (key, value_json) VALUES (?, ?)", [f"k{i}-{j}", "1"])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.count("settings") == 80


def test_locked_file_gives_a_clear_error(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "locked.duckdb"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(StoreError, match="another CopyLift process"):
            Store(path)
    finally:
        holder.kill()


def test_settings_roundtrip(store):
    store.set_setting("auto_retrain", True)
    assert store.get_setting("auto_retrain") is True
    assert store.get_setting("missing", 3) == 3
