"""The one front door to CopyLift's DuckDB database.

A ``Store`` owns a DuckDB connection (a file, ``":memory:"`` or a connection the
caller already has), applies migrations on open, and hands out a fresh cursor
per call so that Streamlit sessions running in different threads can share one
process-wide store. Writes are serialized with a lock and every multi-statement
write runs in a transaction. Values always travel as bound parameters; table
and column names are checked against allow-lists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from core.errors import StoreError, ValidationError
from core.migrations import MIGRATIONS, TABLES

Params = Sequence[Any] | dict[str, Any] | None


def check_table(table: str) -> str:
    """Return ``table`` if it is one of ours, else raise ``ValidationError``."""
    if table not in TABLES:
        raise ValidationError(f"unknown table {table!r}")
    return table


def quote_ident(name: str) -> str:
    """Quote an identifier that was already checked against an allow-list."""
    return '"' + name.replace('"', '""') + '"'


def single_row(cur: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> tuple[Any, ...]:
    """The one row of a query that always returns exactly one (an aggregate, ``nextval``, a setting).

    For use on a cursor inside ``Store.transaction``; outside one, ``Store.single_row`` reads the same way.
    Such a query coming back empty means the database is not what CopyLift wrote, so it raises
    ``StoreError`` instead of failing later on ``None``.
    """
    row = cur.execute(sql, params).fetchone()
    if row is None:
        raise StoreError(f"the database returned no row where one was expected: {' '.join(sql.split())[:120]}")
    return row


def single_value(cur: duckdb.DuckDBPyConnection, sql: str, params: Params = None) -> Any:
    """The first column of ``single_row``: a count, a max, a sequence value."""
    return single_row(cur, sql, params)[0]


class Store:
    """DuckDB-backed storage shared by every page and command-line tool.

    Parameters
    ----------
    path:
        Database file path, or ``":memory:"``. Parent folders are created.
    connection:
        An existing DuckDB connection to use instead of opening ``path``.
    read_only:
        Open the file read-only (no migrations are applied).
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        connection: duckdb.DuckDBPyConnection | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = str(path)
        self._owns_connection = connection is None
        self._write_lock = threading.RLock()
        self._local = threading.local()
        if connection is not None:
            self._con = connection
        else:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            try:
                self._con = duckdb.connect(self.path, read_only=read_only)
            except duckdb.IOException as err:
                raise StoreError(
                    f"Cannot open the database {self.path}: {err}. "
                    "If another CopyLift process is using it, stop that process or set COPYLIFT_DB "
                    "to another file."
                ) from err
        self._closed = False
        if not read_only:
            self.migrate()

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection if this store opened it."""
        if self._closed:
            return
        self._closed = True
        if self._owns_connection:
            self._con.close()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- cursors and transactions -------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new cursor on the shared database; cheap, and safe to use in one thread."""
        if self._closed:
            raise StoreError("the database is closed")
        return self._con.cursor()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The underlying connection (for DuckDB features such as ``register``)."""
        return self._con

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Run a block of writes atomically; roll back everything on any error.

        Transactions nest: an inner ``transaction()`` in the same thread joins
        the outer one, so helpers can be composed into one atomic import.
        """
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield self._local.cursor
            finally:
                self._local.depth -= 1
            return
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            self._local.depth = 1
            self._local.cursor = cur
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
            finally:
                self._local.depth = 0
                self._local.cursor = None
                cur.close()

    def _reader(self) -> duckdb.DuckDBPyConnection:
        # Inside a transaction, reads must see the uncommitted writes.
        if getattr(self._local, "depth", 0):
            return self._local.cursor
        return self.cursor()

    # -- queries -------------------------------------------------------------
    def execute(self, sql: str, params: Params = None) -> None:
        """Run one write statement atomically."""
        with self.transaction() as cur:
            cur.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows, atomically."""
        if not rows:
            return
        with self.transaction() as cur:
            cur.executemany(sql, rows)

    def df(self, sql: str, params: Params = None) -> pd.DataFrame:
        """Run a query and return a pandas frame."""
        return self._reader().execute(sql, params).df()

    def rows(self, sql: str, params: Params = None) -> list[tuple]:
        return self._reader().execute(sql, params).fetchall()

    def one(self, sql: str, params: Params = None) -> tuple | None:
        """The first row, or None when the query returned none (a lookup by id)."""
        return self._reader().execute(sql, params).fetchone()

    def single_row(self, sql: str, params: Params = None) -> tuple[Any, ...]:
        """The row of a query that always returns one (an aggregate); ``StoreError`` if it returned none."""
        return single_row(self._reader(), sql, params)

    def scalar(self, sql: str, params: Params = None) -> Any:
        row = self.one(sql, params)
        return None if row is None else row[0]

    def insert_df(self, table: str, frame: pd.DataFrame) -> int:
        """Append a frame's rows to ``table``; columns must exist in the table."""
        check_table(table)
        if frame.empty:
            return 0
        allowed = set(self.columns(table))
        unknown = [c for c in frame.columns if c not in allowed]
        if unknown:
            raise ValidationError(f"unknown columns for {table}: {', '.join(map(str, unknown))}")
        cols = ", ".join(quote_ident(c) for c in frame.columns)
        with self.transaction() as cur:
            cur.register("_insert_frame", frame)
            try:
                cur.execute(f"INSERT INTO {quote_ident(table)} ({cols}) SELECT {cols} FROM _insert_frame")
            finally:
                cur.unregister("_insert_frame")
        return len(frame)

    def columns(self, table: str) -> list[str]:
        check_table(table)
        rows = self._reader().execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [r[0] for r in rows]

    def count(self, table: str) -> int:
        check_table(table)
        return int(self.scalar(f"SELECT count(*) FROM {quote_ident(table)}"))

    def table_counts(self) -> dict[str, int]:
        """Row count of every table, for the Data page and for before/after checks."""
        return {t: self.count(t) for t in TABLES}

    # -- settings ------------------------------------------------------------
    def get_setting(self, key: str, default: Any = None) -> Any:
        import json

        raw = self.scalar("SELECT value_json FROM settings WHERE key = ?", [key])
        return default if raw is None else json.loads(raw)

    def set_setting(self, key: str, value: Any) -> None:
        import json

        self.execute(
            "INSERT OR REPLACE INTO settings (key, value_json) VALUES (?, ?)", [key, json.dumps(value)]
        )

    # -- schema --------------------------------------------------------------
    def schema_version(self) -> int:
        exists = single_value(
            self._reader(), "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        )
        if not exists:
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_version"))

    def migrate(self) -> int:
        """Apply pending migrations; return the schema version reached."""
        with self._write_lock:
            cur = self.cursor()
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
            )
            current = self.schema_version()
            for number, statements in enumerate(MIGRATIONS, start=1):
                if number <= current:
                    continue
                try:
                    with self.transaction() as tx:
                        for sql in statements:
                            tx.execute(sql)
                        tx.execute("INSERT INTO schema_version (version) VALUES (?)", [number])
                except duckdb.Error as err:
                    raise StoreError(f"migration {number} failed: {err}") from err
            return self.schema_version()

    def is_empty(self) -> bool:
        """True when no behaviour data has been loaded yet."""
        return self.count("events") == 0 and self.count("users") == 0
