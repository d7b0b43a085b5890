"""Rejected rows of an import: kept at import as an Arrow file (file, line, reason), turned into a CSV with each record read back from the original file when the analyst asks for it."""

from __future__ import annotations

import gzip
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as pa_ipc

from core.formula_cells import neutralize_sql
from core.ingest.context import Source, StageContext
from core.ingest.sniff import file_hash as sha256_of_file
from core.ingest.sniff import record_start_lines
from core.store import single_value

MAX_REPORTED_REJECTS = 200
MAX_REJECTS_IN_MEMORY = 10_000
REJECTS_DIR = Path(tempfile.gettempdir()) / "copylift-rejects"


ORIGINALS_KEY = b"copylift.originals"
REJECT_SCHEMA = pa.schema([("file", pa.string()), ("line", pa.int64()), ("reason", pa.string()),
                           ("record", pa.string())])


def _rejects(ctx: StageContext) -> pa.Table:
    """Every rejected row, with its physical line in the original file and its original text,
    in file and line order (``file, line, reason, record``)."""
    cur = ctx.cur
    having = [name for name in ctx.staged if single_value(
        cur, f"SELECT count(*) FROM (SELECT 1 FROM {name} WHERE _reject IS NOT NULL LIMIT 1)")]
    parts = [f"SELECT _file, _row, _reject FROM {name} WHERE _reject IS NOT NULL" for name in having] or [
        "SELECT NULL::VARCHAR AS _file, NULL::BIGINT AS _row, NULL::VARCHAR AS _reject WHERE FALSE"]
    if len(having) == 1:  # rows are unique within a table: no grouping needed
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _rejects AS SELECT _file, _row, _reject AS reason "
                    f"FROM {having[0]} WHERE _reject IS NOT NULL")
    else:  # one line rejected for two tables is listed once, with one reason
        cur.execute(
            "CREATE OR REPLACE TEMP TABLE _rejects AS SELECT _file, _row, min(_reject) AS reason "
            f"FROM ({' UNION ALL '.join(parts)}) "
            "GROUP BY ALL"
        )
    counts = dict(cur.execute("SELECT _file, count(*) FROM _rejects GROUP BY 1").fetchall())
    found, in_order = [], True
    for src in ctx.sources:
        if not counts.get(src.name) and not src.structural:
            continue
        if not src.structural and _one_record_per_line(src):
            found.append(_rejects_by_record(cur, src))  # line = record + 1 (the header is line 1)
            continue
        in_order = False  # structural rows come after the others
        mine = cur.execute("SELECT _row, reason FROM _rejects WHERE _file = ? ORDER BY _row", [src.name]).fetchall()
        starts = _line_starts(src)
        bad_records = sorted(rec - 1 for rec, _ in src.structural)  # data-record index, 1-based
        records = _rows_to_records([r for r, _ in mine], bad_records)
        texts = _record_texts(cur, src, [r for r, _ in mine])
        lines = [starts(k) for k in records] + [starts(rec - 1) for rec, _ in src.structural]
        found.append(pa.table({
            "file": [src.name] * len(lines), "line": lines,
            "reason": [why for _, why in mine] + [why for _, why in src.structural],
            "record": texts + [""] * len(src.structural)}, schema=REJECT_SCHEMA))
    if not found:
        return REJECT_SCHEMA.empty_table()
    rows = pa.concat_tables(found)
    if in_order and len(found) == 1:
        return rows
    return rows.sort_by([("file", "ascending"), ("line", "ascending")])


def _rejects_by_record(cur: duckdb.DuckDBPyConnection, src: Source) -> pa.Table:
    """Rejected rows of a file whose records are one line each, in line order.

    The record's text is left out (NULL): it is line ``line`` of the original file, which
    ``rejected_csv`` reads when the analyst downloads the rows. Joining every rejected row back
    to the raw columns here took ~0.25 s of a million-row import for a file few people open.
    """
    return cur.sql(
        "SELECT _file AS file, _row + 1 AS line, reason, NULL::VARCHAR AS record FROM _rejects "
        "WHERE _file = ? ORDER BY _row", params=[src.name]
    ).to_arrow_table().cast(REJECT_SCHEMA)


def _keep_rejects(rows: pa.Table, file_hash: str, sources: list[Source]) -> Path:
    """Keep every rejected row for the download, as an Arrow file (written as it is in memory:
    ~0.04 s for a quarter of a million rows, where building the CSV, with each record read back
    from the original file, takes over a second that an import should not spend on a file most
    analysts never open)."""
    REJECTS_DIR.mkdir(parents=True, exist_ok=True)
    stale = time.time() - 24 * 3600  # downloads are offered for the session, not kept forever
    for old in REJECTS_DIR.glob("*.*"):  # (.csv: files of earlier versions)
        if old.stat().st_mtime < stale:
            old.unlink(missing_ok=True)
    path = REJECTS_DIR / f"{file_hash[:16]}-{uuid.uuid4().hex[:8]}.arrow"
    # Where each file's lines can be read back for the records left out (see _rejects_by_record).
    originals = {src.name: {"path": str(src.sniffed.original_path), "sha256": src.sniffed.sha256,
                            "encoding": src.sniffed.encoding, "compression": src.sniffed.compression}
                 for src in sources}
    rows = rows.replace_schema_metadata({ORIGINALS_KEY: json.dumps(originals)})
    with pa_ipc.new_file(path, rows.schema) as writer:
        writer.write_table(rows)
    return path


def _rejects_to_csv(rows: pa.Table) -> bytes:
    """The rejected rows as CSV bytes, safe to open in a spreadsheet."""
    with tempfile.TemporaryDirectory(prefix="copylift-rejects-") as tmp:
        out = Path(tmp) / "rejected_rows.csv"
        con = duckdb.connect()  # its own in-memory database: nothing of the store is involved
        try:
            con.register("_rejected_rows", rows)
            con.execute(
                f"COPY (SELECT {neutralize_sql('file')} AS file, line, {neutralize_sql('reason')} AS reason, "
                f"{neutralize_sql('record')} AS record FROM _rejected_rows ORDER BY file, line) "
                "TO ? (HEADER, DELIMITER ',')",
                [str(out)],
            )
        finally:
            con.close()
        return out.read_bytes()


def _one_record_per_line(src: Source) -> bool:
    sn = src.sniffed
    lines = sn.newlines + (0 if sn.final_newline else 1)  # counted while sniffing
    return lines == src.rows + len(src.structural) + 1


def _line_starts(src: Source):
    """Map a data-record index (1-based) to its physical line in the original file."""
    if _one_record_per_line(src):
        return lambda k: k + 1
    starts = record_start_lines(src.sniffed.path, src.sniffed.delimiter)
    return lambda k: starts[k] if k < len(starts) else k + 1


def _rows_to_records(rows: list[int], bad_records: list[int]) -> list[int]:
    # _row counts the rows DuckDB kept; structurally broken records were skipped before numbering.
    out = []
    for r in rows:
        k = r
        for bad in bad_records:
            if bad <= k:
                k += 1
        out.append(k)
    return out


def _record_texts(cur: duckdb.DuckDBPyConnection, src: Source, rows: list[int]) -> list[str]:
    if not rows:
        return []
    cols = ", ".join(f'coalesce("c{i}", \'\')' for i in range(len(src.sniffed.columns)))
    sep = src.sniffed.delimiter
    cur.register("_reject_rows", pd.DataFrame({"_row": rows}))
    try:
        got = dict(cur.execute(
            f"SELECT s._row, concat_ws(?, {cols}) FROM {src.table} s JOIN _reject_rows r USING (_row)", [sep]
        ).fetchall())
    finally:
        cur.unregister("_reject_rows")
    return [got.get(r, "") for r in rows]


def _with_records(rows: pa.Table) -> pa.Table:
    """Fill the records left out at import with the lines of the original files.

    A file that is gone, or no longer has the bytes that were imported (its SHA-256 differs),
    gives empty records rather than text from something else.
    """
    if rows["record"].null_count == 0:
        return rows
    originals = json.loads((rows.schema.metadata or {}).get(ORIGINALS_KEY, b"{}"))
    files, lines, records = (rows[c].to_pylist() for c in ("file", "line", "record"))
    for name, meta in originals.items():
        wanted = {line for f, line, rec in zip(files, lines, records) if f == name and rec is None}
        if not wanted:
            continue
        text = _original_lines(meta, wanted)
        records = [text.get(line, "") if f == name and rec is None else rec
                   for f, line, rec in zip(files, lines, records)]
    return rows.set_column(3, "record", pa.array([r if r is not None else "" for r in records], pa.string()))


def _original_lines(meta: dict[str, Any], wanted: set[int]) -> dict[int, str]:
    """Lines ``wanted`` (1-based, counted by line feeds) of an imported file, decoded."""
    path = Path(meta["path"])
    try:
        if not path.exists() or sha256_of_file(path) != meta["sha256"]:
            return {}
        out, last = {}, max(wanted)
        opener = gzip.open if meta.get("compression") == "gzip" else open
        with opener(path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if number in wanted:
                    out[number] = raw.decode(meta["encoding"], errors="replace").rstrip("\r\n")
                if number >= last:
                    break
        return out
    except (OSError, EOFError, LookupError):
        return {}
