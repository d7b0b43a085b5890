"""Writing staged rows into the data tables (dedupe by key, import tags) and undoing an import."""

from __future__ import annotations

import json

import duckdb

from core.errors import NotFoundError, ValidationError
from core.migrations import DATA_TABLES
from core.store import Store, quote_ident, single_value

# Natural keys: a row whose key is already in the table (or earlier in the file) is a duplicate.
KEYS = {
    "products": ("product_id",),
    "users": ("user_id",),
    "variants": ("variant_id",),
    "events": ("event_id",),
    "exposures": ("user_id", "variant_id", "campaign_id", "sent_at"),
    "variant_results": ("variant_id", "segment_name", "period_start", "period_end", "strategy_id"),
    "user_attributes": ("user_id", "name"),
}
WRITE_ORDER = ("products", "users", "variants", "events", "exposures", "variant_results", "user_attributes")


def _insert_select(cur: duckdb.DuckDBPyConnection, table: str, unique: bool = False) -> tuple[str, list[str]]:
    """SELECT of the staged rows to insert: accepted, not in the table yet, first of their key."""
    stg = f"stg_{table}"
    staged_cols = [r[0] for r in cur.execute(f"DESCRIBE {stg}").fetchall() if not r[0].startswith("_")]
    keys = KEYS[table]
    match = " AND ".join(f"t.{quote_ident(k)} IS NOT DISTINCT FROM s.{quote_ident(k)}" for k in keys)
    part = ", ".join(f"s.{quote_ident(k)}" for k in keys)
    cols = ", ".join(f"s.{quote_ident(c)}" for c in staged_cols)
    sql = (
        f"SELECT {cols} FROM {stg} s WHERE s._reject IS NULL "
        f"AND NOT EXISTS (SELECT 1 FROM {quote_ident(table)} t WHERE {match})"
    )
    if not unique:
        sql += f" QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY s._file, s._row) = 1"
    return sql, staged_cols


def _duplicate_owners(cur: duckdb.DuckDBPyConnection, table: str) -> dict[int, int]:
    """Accepted staged rows whose key an earlier import already wrote: {that import_id: rows}."""
    match = " AND ".join(f"t.{quote_ident(k)} IS NOT DISTINCT FROM s.{quote_ident(k)}" for k in KEYS[table])
    return {int(owner): int(n) for owner, n in cur.execute(
        f"SELECT t.import_id, count(*) FROM stg_{table} s JOIN {quote_ident(table)} t ON {match} "
        "WHERE s._reject IS NULL AND t.import_id IS NOT NULL GROUP BY 1"
    ).fetchall()}


def _write(cur: duckdb.DuckDBPyConnection, table: str, fmt_name: str, import_id: int, unique: bool) -> int:
    """Insert the new rows of one staged table; return how many."""
    sql, cols = _insert_select(cur, table, unique)
    quoted = ", ".join(quote_ident(c) for c in cols)
    origin = "origin" if table == "variants" else "source"
    source = "imported" if table == "variants" else fmt_name
    row = cur.execute(
        f"INSERT INTO {quote_ident(table)} ({quoted}, {origin}, import_id) SELECT *, ?, ? FROM ({sql})",
        [source, import_id],
    ).fetchone()
    return int(row[0]) if row else 0


def undo_import(store: Store, import_id: int) -> dict[str, int]:
    """Delete every row an import added, in one transaction, and mark it undone.

    Refused while a later import that is still in place skipped some of these rows as
    duplicates: deleting them would silently take that import's data away too. The message
    names the later import(s); undo those first (and import their files again afterwards).
    """
    row = store.one("SELECT status FROM import_log WHERE import_id = ?", [import_id])
    if row is None:
        raise NotFoundError(f"import {import_id} does not exist")
    if row[0] == "undone":
        raise ValidationError(f"import {import_id} was already undone")
    deleted = {}
    with store.transaction() as cur:
        dependants = _dependants(cur, import_id)
        if dependants:
            names = "; ".join(f"import {i} ({name}, {n:,} row(s))" for i, name, n in dependants)
            raise ValidationError(
                f"import {import_id} cannot be undone on its own: later imports still in place rely on its "
                f"rows, which they skipped as duplicates: {names}. Undoing it would delete their data too. "
                f"Undo {'those imports' if len(dependants) > 1 else f'import {dependants[0][0]}'} first, then "
                f"import {import_id}, then import the later file(s) again."
            )
        for table in DATA_TABLES:
            n = single_value(cur, f"SELECT count(*) FROM {quote_ident(table)} WHERE import_id = ?", [import_id])
            if n:
                cur.execute(f"DELETE FROM {quote_ident(table)} WHERE import_id = ?", [import_id])
                deleted[table] = int(n)
        cur.execute("UPDATE import_log SET status = 'undone' WHERE import_id = ?", [import_id])
    return deleted


def _dependants(cur: duckdb.DuckDBPyConnection, import_id: int) -> list[tuple[int, str, int]]:
    """Imports still in place that skipped rows of ``import_id`` as duplicates: (id, file, rows)."""
    out = []
    for later, name, report in cur.execute(
        "SELECT import_id, file_name, report_json FROM import_log WHERE status = 'done' AND import_id > ? "
        "ORDER BY import_id", [import_id]
    ).fetchall():
        owners = (json.loads(report or "{}").get("duplicates_of") or {}) if report else {}
        n = int(owners.get(str(import_id), 0))
        if n:
            out.append((int(later), name, n))
    return out
