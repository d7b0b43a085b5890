"""Preview, import and undo: the one code path behind the Data page and ``python -m core.ingest``.

``preview`` stages the files (see ``context``) and reports what would happen
without writing. ``run_import`` does the same staging inside one
``store.transaction()`` and then inserts the accepted, not-yet-present rows,
tagged with a new ``import_id`` and logged in ``import_log``; any fatal error
rolls every table back. ``undo_import`` deletes one import's rows atomically.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as pa_ipc

from core.config import load_config
from core.errors import ImportFailed, ValidationError
from core.formula_cells import neutralize
from core.ingest import formats
from core.ingest.context import ImportOptions, Source, StageContext, load_source
from core.ingest.dates import range_issues
from core.ingest.rejects import (
    MAX_REJECTS_IN_MEMORY,
    MAX_REPORTED_REJECTS,
    _keep_rejects,
    _rejects,
    _rejects_to_csv,
    _with_records,
)
from core.ingest.sniff import LOW_CONFIDENCE, SEPARATOR_NAMES, Sniffed, SourceFile, sniff, sniff_head
from core.ingest.writer import WRITE_ORDER, _duplicate_owners, _insert_select, _write
from core.store import Store, single_value

DAY_FIRST_SETTING = "import.day_first"
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
                        # A row needs one measured outcome; which ones a file has is the analyst's choice.
                        ("coalesce(opens, clicks, conversions) IS NULL", "no opens, clicks or conversions count"),
                        ("conversions > sends", "more conversions than sends"),
                        ("clicks > sends OR opens > sends", "more clicks or opens than sends")],
}
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
    detected = {s.name: formats.detect(s.headers()) for s in sources}
    unknown = [name for name, fmt in detected.items() if fmt is None]
    if unknown:
        src = next(s for s in sources if s.name == unknown[0])
        cols = ", ".join(src.sniffed.columns[:12])
        raise ValidationError(
            f"{unknown[0]}: CopyLift does not recognise this file's columns ({cols}). Map its columns to "
            "CopyLift fields with the generic mapping (Data page, or --mapping NAME on the command line)."
        )
    found = {name: fmt for name, fmt in detected.items() if fmt is not None}
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
        valid = int(single_value(cur, f"SELECT count(*) FROM {name} WHERE _reject IS NULL"))
        if count_new:
            sql, _ = _insert_select(cur, table, table in ctx.unique_keys)
            new = int(single_value(cur, f"SELECT count(*) FROM ({sql})"))
        else:
            new = valid
        tables[table] = new
        dupes[table] = valid - new
    files: list[dict[str, Any]] = []
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
            import_id = int(single_value(cur, "SELECT nextval('import_id_seq')"))
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
