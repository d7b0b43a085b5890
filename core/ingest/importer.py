"""Preview, import and undo: the one code path behind the Data page and ``python -m core.ingest``.

``preview`` stages the files (see ``context``) and reports what would happen
without writing. ``run_import`` does the same staging inside one
``store.transaction()`` and then inserts the accepted, not-yet-present rows,
tagged with a new ``import_id`` and logged in ``import_log``; any fatal error
rolls every table back. ``undo_import`` deletes one import's rows atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as pa_ipc

from core.config import load_config
from core.errors import ImportFailed, NotFoundError, ValidationError
from core.formula_cells import neutralize, neutralize_sql
from core.ingest import formats
from core.ingest.context import ImportOptions, Source, StageContext, load_source
from core.ingest.sniff import (LOW_CONFIDENCE, SEPARATOR_NAMES, Sniffed, SourceFile, record_start_lines,
                               sniff, sniff_head)
from core.ingest.sniff import file_hash as sha256_of_file
from core.migrations import DATA_TABLES
from core.store import Store, quote_ident

DAY_FIRST_SETTING = "import.day_first"
# Natural keys: a row whose key is already in the table (or earlier in the file) is a duplicate.
KEYS = {
    "products": ("product_id",),
    "users": ("user_id",),
    "variants": ("variant_id",),
    "events": ("event_id",),
    "exposures": ("user_id", "variant_id", "campaign_id", "sent_at"),
    "variant_results": ("variant_id", "segment_name", "period_start", "period_end", "strategy_id"),
}
WRITE_ORDER = ("products", "users", "variants", "events", "exposures", "variant_results")
# Row-level rules that mirror the schema's NOT NULL and CHECK constraints, so one bad row is
# rejected with a reason instead of failing the whole import.
ROW_RULES = {
    "events": [("user_id IS NULL", "user id is missing"), ("ts IS NULL", "date is missing or unreadable"),
               ("event_type IS NULL", "event type is missing"),
               ("rating IS NOT NULL AND (rating < 1 OR rating > 5)", "rating is outside 1-5")],
    "users": [("user_id IS NULL", "user id is missing")],
    "products": [("product_id IS NULL", "product id is missing"), ("title IS NULL", "product title is missing"),
                 ("price < 0", "negative product price")],
    "variants": [("variant_id IS NULL", "variant id is missing"), ("copy_text IS NULL", "copy text is missing")],
    "exposures": [("user_id IS NULL", "user id is missing"), ("variant_id IS NULL", "variant is missing"),
                  ("sent_at IS NULL", "send date is missing or unreadable"),
                  ("converted IS NULL", "converted is not yes/no (or 1/0)"),
                  ("revenue < 0", "negative revenue")],
    "variant_results": [("variant_id IS NULL", "variant is missing"), ("sends IS NULL", "sends is missing"),
                        ("sends < 0 OR opens < 0 OR clicks < 0 OR conversions < 0", "negative count"),
                        ("conversions IS NULL", "conversions is missing"),
                        ("conversions > sends", "more conversions than sends")],
}
MAX_REPORTED_REJECTS = 200
MAX_REJECTS_IN_MEMORY = 10_000
REJECTS_DIR = Path(tempfile.gettempdir()) / "copylift-rejects"
# Hashes and checks a file while DuckDB reads it (see ``_load_all``).
_SNIFFER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="copylift-sniff")
PREVIEW_ORDER = ("events", "exposures", "variant_results", "users", "products", "variants")


@dataclass
class ImportReport:
    """What an import did (or, for a preview, would do)."""

    status: str  # preview | dry_run | imported | already_imported
    format: str
    format_label: str
    file_hash: str
    files: list[dict[str, Any]]
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    tables: dict[str, int]
    duplicates: dict[str, int]
    reject_reasons: dict[str, int]
    issues: list[str]
    notes: list[str]
    ambiguous_dates: list[dict[str, Any]]
    mapping: dict[str, dict[str, str]]
    rejected: pd.DataFrame = field(repr=False)
    preview_rows: pd.DataFrame = field(repr=False)
    import_id: int | None = None
    message: str = ""
    # Every rejected row (``rejected`` holds the first ones) as an Arrow file; ``rejected_csv``
    # turns it into the CSV the analyst downloads, when they ask for it.
    rejects_file: Path | None = None
    # Rows skipped because an earlier import already holds them: {earlier import_id: rows}. Undoing
    # that earlier import would take these rows away from this one, so undo checks it.
    duplicates_of: dict[int, int] = field(default_factory=dict)

    @property
    def needs_day_first(self) -> bool:
        return any(a["asked"] for a in self.ambiguous_dates)

    def to_json(self, max_rejects: int = MAX_REPORTED_REJECTS) -> dict[str, Any]:
        """A JSON-ready dict (rejected rows capped) for the CLI and ``import_log.report_json``."""
        rejects = self.rejected.head(max_rejects)[["file", "line", "reason"]].to_dict("records")
        return {
            "status": self.status, "message": self.message, "import_id": self.import_id,
            "format": self.format, "format_label": self.format_label, "file_hash": self.file_hash,
            "files": self.files, "rows_read": self.rows_read, "rows_accepted": self.rows_accepted,
            "rows_rejected": self.rows_rejected, "tables": self.tables, "duplicates_skipped": self.duplicates,
            "reject_reasons": self.reject_reasons, "rejected": rejects, "issues": self.issues,
            "notes": self.notes, "ambiguous_dates": self.ambiguous_dates, "column_mapping": self.mapping,
            "duplicates_of": {str(k): v for k, v in sorted(self.duplicates_of.items())},
        }


def as_sources(files: list[Any]) -> list[SourceFile]:
    """Accept paths, ``SourceFile`` values or ``(name, path)`` pairs."""
    out = []
    for f in files:
        if isinstance(f, SourceFile):
            out.append(f)
        elif isinstance(f, tuple):
            out.append(SourceFile(str(f[0]), Path(f[1])))
        else:
            out.append(SourceFile(Path(f).name, Path(f)))
    if not out:
        raise ValidationError("no files given: choose one or more CSV files to import")
    return out


def combined_hash(hashes: list[str]) -> str:
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()


def _choose_format(sources: list[Source], options: ImportOptions) -> formats.Format:
    if options.mapping is not None:
        return formats.by_name("generic")
    if options.format:
        return formats.by_name(options.format)
    found = {s.name: formats.detect(s.headers()) for s in sources}
    unknown = [name for name, fmt in found.items() if fmt is None]
    if unknown:
        src = next(s for s in sources if s.name == unknown[0])
        cols = ", ".join(src.sniffed.columns[:12])
        raise ValidationError(
            f"{unknown[0]}: CopyLift does not recognise this file's columns ({cols}). Map its columns to "
            "CopyLift fields with the generic mapping (Data page, or --mapping NAME on the command line)."
        )
    names = {fmt.name for fmt in found.values()}
    if len(names) > 1:
        raise ValidationError(
            "These files have different formats (" + ", ".join(f"{n}: {f.name}" for n, f in found.items())
            + "). Import one format at a time."
        )
    fmt = next(iter(found.values()))
    if len(sources) > 1 and not fmt.multi_file:
        raise ValidationError(f"{fmt.label} is one file per import; import the files one at a time.")
    return fmt


def _load_all(cur: duckdb.DuckDBPyConnection, files: list[SourceFile], options: ImportOptions, work: Path,
              limit_mb: int) -> list[Source]:
    """Sniff each file and read it into ``src_<i>``.

    A plain UTF-8 file is read (by Arrow or DuckDB, on their own threads, without the GIL) while
    ``sniff`` hashes it, checks all of it is UTF-8 and counts its lines on ``_SNIFFER``: the two
    passes over the file overlap instead of following each other. Should the full look disagree
    with the head (another encoding further down), the file is read again as the full look says.
    """
    sources = []
    for i, f in enumerate(files):
        guess = sniff_head(f, encoding=options.encoding, limit_mb=limit_mb)
        if guess is None:
            sources.append(load_source(cur, sniff(f, work, encoding=options.encoding, limit_mb=limit_mb), i))
            continue
        pending = _SNIFFER.submit(sniff, f, work, encoding=options.encoding, limit_mb=limit_mb)
        try:
            src = load_source(cur, guess, i)
        finally:
            sniffed = pending.result()  # its ValidationError (if any) is the one to show
        if (sniffed.path, sniffed.delimiter, sniffed.columns) != (guess.path, guess.delimiter, guess.columns):
            src = load_source(cur, sniffed, i)
        src.sniffed = sniffed
        sources.append(src)
    return sources


def _stage(cur: duckdb.DuckDBPyConnection, sources: list[Source], options: ImportOptions,
           default_day_first: bool) -> tuple[StageContext, formats.Format]:
    for src in sources:
        if src.rows == 0 and not src.structural:
            raise ValidationError(f"{src.name} has a header but no data rows. Export the file again with its data.")
    fmt = _choose_format(sources, options)
    ctx = StageContext(cur, sources, options, default_day_first)
    fmt.stage(ctx)
    if not ctx.staged:
        raise ValidationError("nothing in these files maps to CopyLift tables")
    for name in ctx.staged:
        table = name.removeprefix("stg_")
        for condition, reason in ROW_RULES.get(table, []):
            cur.execute(f"UPDATE {name} SET _reject = ? WHERE _reject IS NULL AND ({condition})", [reason])
    return ctx, fmt


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


ORIGINALS_KEY = b"copylift.originals"
REJECT_SCHEMA = pa.schema([("file", pa.string()), ("line", pa.int64()), ("reason", pa.string()),
                           ("record", pa.string())])


def _rejects(ctx: StageContext) -> pa.Table:
    """Every rejected row, with its physical line in the original file and its original text,
    in file and line order (``file, line, reason, record``)."""
    cur = ctx.cur
    having = [name for name in ctx.staged if cur.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {name} WHERE _reject IS NOT NULL LIMIT 1)").fetchone()[0]]
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


def _build_report(ctx: StageContext, fmt: formats.Format, status: str, file_hash: str,
                  count_new: bool = True) -> ImportReport:
    """Report on the staged rows; ``count_new`` counts what an import would insert (run_import
    counts while inserting instead, so the work is done once)."""
    cur = ctx.cur
    rows = _rejects(ctx)
    for src in ctx.sources:  # the raw rows are no longer needed: free their memory now
        cur.execute(f"DROP VIEW IF EXISTS {src.table}")
        cur.execute(f"DROP TABLE IF EXISTS {src.table}_data")
        src.records = None
    n_rejected = rows.num_rows
    per_file = rows.group_by("file").aggregate([("line", "count")]).to_pydict()
    per_file = dict(zip(per_file["file"], per_file["line_count"]))
    rejects_file = _keep_rejects(rows, file_hash, ctx.sources) if n_rejected else None
    rejected = rows.slice(0, MAX_REJECTS_IN_MEMORY).to_pandas()
    cur.register("_rejected_rows", rows)
    # Group reasons without their quoted values: "date '31/02' is not a date" -> "date '…' is not a date".
    reasons = dict(cur.execute(
        "SELECT regexp_replace(reason, chr(39) || '[^' || chr(39) || ']*' || chr(39), chr(39) || '…' || chr(39), 'g')"
        " AS r, sum(n)::BIGINT FROM (SELECT reason, count(*) AS n FROM _rejected_rows GROUP BY 1) GROUP BY 1 "
        "ORDER BY 2 DESC, 1").fetchall())
    tables, dupes = {}, {}
    for name in ctx.staged:
        table = name.removeprefix("stg_")
        valid = int(cur.execute(f"SELECT count(*) FROM {name} WHERE _reject IS NULL").fetchone()[0])
        if count_new:
            sql, _ = _insert_select(cur, table, table in ctx.unique_keys)
            new = int(cur.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0])
        else:
            new = valid
        tables[table] = new
        dupes[table] = valid - new
    files = []
    for src in ctx.sources:
        n_rej = int(per_file.get(src.name, 0))
        sn = src.sniffed
        files.append({
            "name": src.name, "encoding": sn.encoding, "encoding_confidence": round(sn.encoding_confidence, 2),
            "encoding_note": sn.encoding_note, "separator": SEPARATOR_NAMES[sn.delimiter],
            "columns": len(sn.columns), "rows_read": src.rows + len(src.structural),
            "rows_rejected": n_rej, "size_bytes": sn.size_bytes, "sha256": sn.sha256,
            "compression": sn.compression,
        })
    issues = list(ctx.issues)
    for src in ctx.sources:
        if src.sniffed.encoding_confidence < LOW_CONFIDENCE:
            issues.append(f"{src.name}: {src.sniffed.encoding_note}")
    for a in ctx.ambiguous:
        if a["asked"]:
            issues.append(
                f"{a['file']} column {a['column']!r}: every date fits both day-first and month-first "
                f"(e.g. {a['example']!r}); choose the order (shown as {a['chosen']})."
            )
    for name in ctx.staged if ctx.dates_out_of_range() else []:
        if "ts" in [r[0] for r in cur.execute(f"DESCRIBE {name}").fetchall()]:
            from core.ingest.dates import range_issues

            issues += range_issues(cur, name, "ts", name.removeprefix("stg_") + " dates")
    rows_read = sum(f["rows_read"] for f in files)
    primary = next(f"stg_{t}" for t in PREVIEW_ORDER if f"stg_{t}" in ctx.staged)
    preview_rows = cur.execute(
        f"SELECT * EXCLUDE (_file, _row, _reject), _row AS row, _reject AS problem FROM {primary} "
        "ORDER BY _file, _row LIMIT 20"
    ).df()
    return ImportReport(
        status=status, format=fmt.name, format_label=fmt.label, file_hash=file_hash, files=files,
        rows_read=rows_read, rows_accepted=rows_read - n_rejected, rows_rejected=n_rejected,
        tables=tables, duplicates=dupes, reject_reasons=reasons, issues=issues,
        notes=ctx.notes, ambiguous_dates=ctx.ambiguous, mapping=ctx.mapping, rejected=rejected,
        preview_rows=preview_rows, rejects_file=rejects_file,
    )


def _already(store: Store, file_hash: str) -> tuple | None:
    return store.one(
        "SELECT import_id, file_name, imported_at FROM import_log WHERE file_hash = ? AND status = 'done'",
        [file_hash],
    )


def _hashes(sniffed: list[Sniffed]) -> str:
    return combined_hash([s.sha256 for s in sniffed])


def _already_report(file_hash: str, row: tuple) -> ImportReport:
    empty = pd.DataFrame(columns=["file", "line", "reason", "record"])
    return ImportReport(
        status="already_imported", format="", format_label="", file_hash=file_hash, files=[], rows_read=0,
        rows_accepted=0, rows_rejected=0, tables={}, duplicates={}, reject_reasons={}, issues=[], notes=[],
        ambiguous_dates=[], mapping={}, rejected=empty, preview_rows=pd.DataFrame(), import_id=int(row[0]),
        message=f"Already imported as import {row[0]} ({row[1]}, {row[2]:%Y-%m-%d %H:%M}); nothing was added.",
    )


def _defaults(store: Store, limit_mb: int | None) -> tuple[bool, int]:
    day_first = bool(store.get_setting(DAY_FIRST_SETTING, False))
    return day_first, limit_mb if limit_mb is not None else load_config().upload_limit_mb


def preview(store: Store, files: list[Any], options: ImportOptions | None = None,
            limit_mb: int | None = None) -> ImportReport:
    """Stage the files and report what an import would do; writes nothing."""
    options = options or ImportOptions()
    sources = as_sources(files)
    day_first, limit = _defaults(store, limit_mb)
    work = Path(tempfile.mkdtemp(prefix="copylift-import-"))
    cur = store.cursor()
    try:
        loaded = _load_all(cur, sources, options, work, limit)
        file_hash = _hashes([src.sniffed for src in loaded])
        ctx, fmt = _stage(cur, loaded, options, day_first)
        report = _build_report(ctx, fmt, "preview", file_hash)
    finally:
        cur.close()
        shutil.rmtree(work, ignore_errors=True)
    done = _already(store, file_hash)
    if done:
        report.message = f"This file was already imported as import {done[0]}; importing it again adds nothing."
    return report


def run_import(store: Store, files: list[Any], options: ImportOptions | None = None, *, dry_run: bool = False,
               limit_mb: int | None = None) -> ImportReport:
    """Import files in one transaction and log it; on a fatal error every table is left as it was.

    Raises ``ValidationError`` when the files cannot be read or a choice is needed (date order,
    uncertain encoding), ``ImportFailed`` when writing fails (the database is unchanged).
    """
    options = options or ImportOptions()
    if dry_run:
        report = preview(store, files, options, limit_mb)
        report.status = "dry_run"
        _check_choices(report, options)
        return report
    sources = as_sources(files)
    day_first, limit = _defaults(store, limit_mb)
    work = Path(tempfile.mkdtemp(prefix="copylift-import-"))
    try:
        with store.transaction() as cur:
            loaded = _load_all(cur, sources, options, work, limit)
            file_hash = _hashes([src.sniffed for src in loaded])
            done = _already(store, file_hash)
            if done:  # nothing was written: the transaction only holds the read of the file
                raise _AlreadyImported(_already_report(file_hash, done))
            ctx, fmt = _stage(cur, loaded, options, day_first)
            report = _build_report(ctx, fmt, "imported", file_hash, count_new=False)
            _check_choices(report, options)
            import_id = int(cur.execute("SELECT nextval('import_id_seq')").fetchone()[0])
            for table in WRITE_ORDER:
                if f"stg_{table}" in ctx.staged:
                    valid = report.tables[table]
                    for owner, n in _duplicate_owners(cur, table).items():
                        report.duplicates_of[owner] = report.duplicates_of.get(owner, 0) + n
                    report.tables[table] = _write(cur, table, fmt.name, import_id, table in ctx.unique_keys)
                    report.duplicates[table] = valid - report.tables[table]
            report.import_id = import_id
            report.message = (
                f"Imported {report.rows_accepted:,} of {report.rows_read:,} rows as import {import_id}"
                + (f"; {report.rows_rejected:,} rejected" if report.rows_rejected else "") + "."
            )
            cur.execute(
                "INSERT INTO import_log (import_id, file_name, file_hash, format, encoding, rows_accepted, "
                "rows_rejected, tables_json, report_json, imported_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [import_id, ", ".join(f.name for f in sources), file_hash, fmt.name,
                 ", ".join(sorted({f["encoding"] for f in report.files})), report.rows_accepted,
                 report.rows_rejected, json.dumps(report.tables), json.dumps(report.to_json(), default=str),
                 options.imported_by],
            )
    except _AlreadyImported as already:
        return already.report
    except duckdb.Error as err:
        raise ImportFailed(f"The import failed and nothing was written: {err}") from err
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


class _AlreadyImported(Exception):
    """Raised inside the import's transaction (rolling it back) when the file is already in."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(report.message)
        self.report = report


def _check_choices(report: ImportReport, options: ImportOptions) -> None:
    """Refuse to write when the analyst still has to choose the date order or the encoding."""
    asked = [a for a in report.ambiguous_dates if a["asked"]]
    if asked:
        cols = ", ".join(f"{a['file']}:{a['column']} (e.g. {a['example']!r})" for a in asked)
        raise ValidationError(
            f"Dates in {cols} fit both day-first and month-first. Choose the order (Data page, or "
            "--day-first / --month-first on the command line) and import again."
        )
    unsure = [f for f in report.files if f["encoding_confidence"] < LOW_CONFIDENCE]
    if unsure and not options.encoding:
        raise ValidationError(f"{unsure[0]['name']}: {unsure[0]['encoding_note']} Choose the encoding and import again.")


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
            n = cur.execute(f"SELECT count(*) FROM {quote_ident(table)} WHERE import_id = ?", [import_id]).fetchone()[0]
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


def rejected_csv(report: ImportReport) -> bytes:
    """All rejected rows as CSV bytes (file, line, reason, original record), safe to open in Excel."""
    if report.rejects_file is not None and Path(report.rejects_file).exists():
        with pa.memory_map(str(report.rejects_file)) as source:
            rows = pa_ipc.open_file(source).read_all()
        return _rejects_to_csv(_with_records(rows))
    frame = report.rejected.copy()
    for col in frame.columns:
        frame[col] = frame[col].fillna("").astype(str).map(neutralize)
    return frame.to_csv(index=False).encode("utf-8")


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
