"""Loading the committed sample shop (sample_data/) into a store: into an empty database, or as a confirmed reset."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from core.config import SAMPLE_DIR, load_config
from core.errors import NotFoundError, StoreError
from core.hashing import file_sha256
from core.migrations import DATA_TABLES
from core.store import Store, quote_ident, single_value

# Column order and types of each CSV file (table columns minus source/import_id).
CSV_COLUMNS: dict[str, dict[str, str]] = {
    "users": {
        "user_id": "VARCHAR", "signup_date": "DATE", "region": "VARCHAR", "device": "VARCHAR",
        "age_band": "VARCHAR", "loyalty_tier": "VARCHAR", "first_name": "VARCHAR", "email": "VARCHAR",
        "accepts_marketing": "BOOLEAN",
    },
    "products": {
        "product_id": "VARCHAR", "title": "VARCHAR", "category": "VARCHAR", "price": "DOUBLE",
        "description": "VARCHAR",
    },
    "events": {
        "event_id": "VARCHAR", "user_id": "VARCHAR", "product_id": "VARCHAR", "event_type": "VARCHAR",
        "ts": "TIMESTAMP", "quantity": "INTEGER", "price": "DOUBLE", "rating": "DOUBLE",
        "review_text": "VARCHAR", "order_id": "VARCHAR", "campaign_id": "VARCHAR",
    },
    "campaigns": {
        "campaign_id": "VARCHAR", "name": "VARCHAR", "channel": "VARCHAR", "sent_at": "TIMESTAMP",
        "product_id": "VARCHAR", "category": "VARCHAR", "offer_type": "VARCHAR", "offer_value": "DOUBLE",
        "promo_code": "VARCHAR",
    },
    "variants": {
        "variant_id": "VARCHAR", "campaign_id": "VARCHAR", "channel": "VARCHAR", "copy_text": "VARCHAR",
        "offer_type": "VARCHAR", "offer_value": "DOUBLE", "promo_code": "VARCHAR", "product_id": "VARCHAR",
        "category": "VARCHAR", "is_control": "BOOLEAN", "origin": "VARCHAR", "in_working_set": "BOOLEAN",
        "brief_json": "VARCHAR", "settings_json": "VARCHAR", "model_name": "VARCHAR", "seed": "BIGINT",
        "guardrails_json": "VARCHAR", "override_reason": "VARCHAR", "created_at": "TIMESTAMP",
    },
    "exposures": {
        "user_id": "VARCHAR", "variant_id": "VARCHAR", "campaign_id": "VARCHAR", "sent_at": "TIMESTAMP",
        "opened": "BOOLEAN", "clicked": "BOOLEAN", "converted": "BOOLEAN", "revenue": "DOUBLE",
        "strategy_id": "VARCHAR",
    },
}
# Load order: parents before children.
SAMPLE_TABLES: tuple[str, ...] = ("users", "products", "campaigns", "variants", "events", "exposures")
GZIPPED = {"events", "exposures"}


def csv_name(table: str, compress: bool = True) -> str:
    return f"{table}.csv.gz" if compress and table in GZIPPED else f"{table}.csv"


# -- loading -------------------------------------------------------------------
def _read_csv_sql(table: str) -> str:
    cols = CSV_COLUMNS[table]
    # Types are given explicitly: DuckDB's sniffer can misread dates.
    spec = "{" + ", ".join(f"'{name}': '{typ}'" for name, typ in cols.items()) + "}"
    names = ", ".join(quote_ident(c) for c in cols)
    return (
        f"INSERT INTO {quote_ident(table)} ({names}) SELECT {names} FROM read_csv(?, header = true, "
        f"columns = {spec}, delim = ',', quote = '\"', escape = '\"', nullstr = '', auto_detect = false)"
    )


def sample_files(directory: str | Path = SAMPLE_DIR) -> dict[str, Path]:
    """The CSV file of each sample table in ``directory``; raises if any is missing."""
    directory = Path(directory)
    files = {}
    for table in SAMPLE_TABLES:
        packed = directory / csv_name(table)
        files[table] = packed if packed.exists() else directory / csv_name(table, compress=False)
    missing = [str(p) for p in files.values() if not p.exists()]
    if missing:
        raise NotFoundError(
            f"sample data files are missing: {', '.join(missing)}; run `python -m core.sample` to generate them."
        )
    return files


def load_sample(store: Store, directory: str | Path = SAMPLE_DIR) -> dict[str, int]:
    """Load the sample CSV files into ``store`` in one transaction; return rows per table."""
    files = sample_files(directory)
    with _unordered_inserts(store):
        return _load_files(store, files)


@contextmanager
def _unordered_inserts(store: Store) -> Iterator[None]:
    """Let DuckDB write row groups in parallel during a bulk load, then restore the setting.

    With insertion order preserved, a large ``INSERT ... FROM read_csv`` into a
    database file is written to the WAL and rewritten by a slow checkpoint on
    close; measured on 1.9 million events this made the load ~1.5x slower.
    Row order in tables carries no meaning here (queries sort explicitly).
    """
    cur = store.cursor()
    try:
        previous = bool(single_value(cur, "SELECT current_setting('preserve_insertion_order')"))
        cur.execute("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            cur.execute(f"SET preserve_insertion_order = {'true' if previous else 'false'}")
    finally:
        cur.close()


def _load_files(store: Store, files: dict[str, Path]) -> dict[str, int]:
    counts = {}
    with store.transaction() as cur:
        for table in SAMPLE_TABLES:
            before = single_value(cur, f"SELECT count(*) FROM {quote_ident(table)}")
            try:
                cur.execute(_read_csv_sql(table), [str(files[table])])
            except duckdb.Error as err:
                # The transaction rolls back: nothing of the sample stays half-loaded.
                raise StoreError(
                    f"loading {files[table].name} into {table} failed: {err}. If the database already holds "
                    "data, use reset_to_sample (Data page: Reset to sample data); if the file is damaged, "
                    "regenerate it with `python -m core.sample`."
                ) from err
            counts[table] = single_value(cur, f"SELECT count(*) FROM {quote_ident(table)}") - before
    return counts


def reset_to_sample(store: Store, directory: str | Path = SAMPLE_DIR) -> dict[str, int]:
    """Replace every data table (and the import log) with the sample data, atomically."""
    sample_files(directory)  # fail before deleting anything
    with store.transaction() as cur:
        for table in (*DATA_TABLES, "import_log"):
            cur.execute(f"DELETE FROM {quote_ident(table)}")
        return load_sample(store, directory)


def file_hashes(directory: str | Path = SAMPLE_DIR) -> dict[str, str]:
    """SHA-256 of every generated file, for reproducibility checks."""
    files = sample_files(directory)
    paths = [*files.values(), Path(directory) / "user_traits.csv", Path(directory) / "ground_truth.json"]
    return {p.name: file_sha256(p) for p in paths}


def ensure_db(db_path: str | None = None, directory: str | Path = SAMPLE_DIR) -> dict[str, int] | None:
    """Load the sample into the app database if it is missing or empty; None when already filled."""
    path = db_path or load_config().db_path
    with Store(path) as store:
        if not store.is_empty():
            return None
        return load_sample(store, directory)
