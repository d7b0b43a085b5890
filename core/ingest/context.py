"""The staging area one import (or preview) works in.

Each source file is read by DuckDB with every column as VARCHAR into a
temporary table ``src_N`` (``_row`` = record number after the header), and the
format adapter turns those into ``stg_<table>`` temporary tables with the target
columns plus ``_file``, ``_row`` and ``_reject`` (the reason a row cannot be
imported, or NULL). Preview and import both run this; only import then writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, overload

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from core.errors import ValidationError
from core.ingest import dates, numbers
from core.ingest.sniff import Sniffed
from core.store import quote_ident, single_value

NULL_TEXT = "NULL::VARCHAR"  # what ``StageContext.text`` returns for a field with no column and no constant
# Arrow holds the parsed records in memory (about 1.3x the file's size); DuckDB's own reader
# materializes them in a temporary table it can spill to disk. Files above this size (the
# default upload limit is 200 MB, but it can be raised) are left to DuckDB.
ARROW_READ_MAX_BYTES = 256 * 1024 * 1024


@dataclass
class Source:
    """One file loaded into a temporary table."""

    sniffed: Sniffed
    table: str
    rows: int
    colmap: dict[str, str]  # lower-cased header name (or mapped field) -> quoted column
    structural: list[tuple[int, str]] = field(default_factory=list)  # (record number, reason)
    forced: dict[str, str] | None = None  # generic mapping: field -> source column
    records: pa.Table | None = field(default=None, repr=False)  # the rows, when Arrow read them

    @property
    def name(self) -> str:
        return self.sniffed.name

    def headers(self) -> set[str]:
        return set(self.colmap)


@dataclass(frozen=True)
class ImportOptions:
    """What the analyst told us (or the CLI passed) about a file."""

    format: str | None = None
    encoding: str | None = None
    day_first: bool | None = None
    mapping: dict[str, Any] | None = None  # {"target": "events", "columns": {field: source column}}
    imported_by: str | None = None
    default_channel: str = "email_subject"


def load_source(cur: duckdb.DuckDBPyConnection, sniffed: Sniffed, index: int, *, arrow: bool = True) -> Source:
    """Make ``src_<index>``: the (UTF-8) file's records as VARCHAR columns ``c0..cN`` plus ``_row``.

    A well-formed file (up to ``ARROW_READ_MAX_BYTES``) is parsed by Arrow's multi-threaded CSV
    reader and handed to DuckDB as it is (DuckDB scans Arrow columns in place, so nothing is
    copied into a table: ~0.6 s less on a million rows). A file with a broken record (wrong
    number of fields, text that is not UTF-8), or a larger one, is read by DuckDB instead, which
    skips broken records and says which line held them and why (``arrow=False`` always does).
    """
    table = f"src_{index}"
    cur.execute(f"DROP VIEW IF EXISTS {table}")
    cur.execute(f"DROP TABLE IF EXISTS {table}_data")
    small = sniffed.path.stat().st_size <= ARROW_READ_MAX_BYTES
    records = read_records(sniffed) if arrow and small else None
    if records is not None:
        cur.register(table, records)
        return Source(sniffed=sniffed, table=table, rows=records.num_rows, colmap=_colmap(sniffed), structural=[],
                      records=records)
    columns = {f"c{i}": "VARCHAR" for i in range(len(sniffed.columns))}
    rejects, scan = f"rj_{index}", f"rs_{index}"
    # One reader thread keeps the file's order, so row_number() numbers the records.
    # (rowid does not: inside a transaction it starts at a large internal offset.)
    cur.execute(
        f"""CREATE TEMP TABLE {table}_data AS
        SELECT row_number() OVER () AS _row, *
        FROM read_csv(?, header = true, delim = ?, quote = '"', escape = '"', columns = ?,
                      auto_detect = false, ignore_errors = true, store_rejects = true,
                      rejects_table = '{rejects}', rejects_scan = '{scan}', parallel = false,
                      strict_mode = false, new_line = ?)""",
        [str(sniffed.path), sniffed.delimiter, columns, _newline(sniffed)],
    )
    cur.execute(f"CREATE TEMP VIEW {table} AS SELECT * FROM {table}_data")
    rows = int(single_value(cur, f"SELECT count(*) FROM {table}_data"))
    # One entry per broken record: DuckDB lists a record with several missing fields once per field.
    structural = [
        (int(line), f"{etype.lower()}: {msg}")
        for line, etype, msg in cur.execute(
            f"SELECT line, arg_min(error_type, column_idx), arg_min(error_message, column_idx) FROM {rejects} "
            "GROUP BY line ORDER BY line"
        ).fetchall()
    ]
    cur.execute(f"DROP TABLE IF EXISTS {rejects}")
    cur.execute(f"DROP TABLE IF EXISTS {scan}")
    return Source(sniffed=sniffed, table=table, rows=rows, colmap=_colmap(sniffed), structural=structural)


def read_records(sniffed: Sniffed) -> pa.Table | None:
    """The file's records as an Arrow table (``_row``, ``c0..cN``, all strings), or None when a
    record is broken and DuckDB's reader has to say where.

    Empty fields are missing (NULL), as DuckDB reads them; every other value stays as written
    (``NA`` and friends are recognised later, in SQL, so that the report can count them).
    """
    names = [f"c{i}" for i in range(len(sniffed.columns))]
    try:
        records = pa_csv.read_csv(
            sniffed.path,
            # The header is read as the first record (and dropped below), not skipped as a line:
            # a quoted header name can hold a line break.
            read_options=pa_csv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pa_csv.ParseOptions(delimiter=sniffed.delimiter, quote_char='"', double_quote=True,
                                              newlines_in_values=True, ignore_empty_lines=True),
            convert_options=pa_csv.ConvertOptions(
                column_types={n: pa.string() for n in names}, null_values=[""], strings_can_be_null=True,
                quoted_strings_can_be_null=True, check_utf8=True),
        )
    except (pa.ArrowException, OSError):  # ArrowInvalid: a record with the wrong number of fields, bad UTF-8
        return None
    records = records.slice(1)
    rows = pa.array(np.arange(1, records.num_rows + 1, dtype=np.int64))
    return records.add_column(0, "_row", rows)


def _colmap(sniffed: Sniffed) -> dict[str, str]:
    return {name.lower(): quote_ident(f"c{i}") for i, name in enumerate(sniffed.columns)}


def occurrence_ctes(rows: str, key: tuple[str, ...]) -> str:
    """CTEs ending in ``_occ(_row, occ)``: the occurrence number (1, 2, ...) of each row whose ``key``
    repeats in ``rows``, in row order; rows with a unique key are absent (their occurrence is 1).

    Ids such as ``invoice:code#occurrence`` must be the same in every file that holds the line, so
    overlapping files deduplicate. A window partitioned by the key sorts every row by strings, and
    grouping by the key builds a hash table of a million entries; sorting a 64-bit hash of the key
    and comparing neighbours costs a third of either. A hash collision only adds rows to the
    numbered set, and the window partitions by the real key (NULL-safe, like ``hash``), so the
    numbers stay exact. ``rows`` and ``key`` are our own CTE and column names, never input.
    """
    cols = ", ".join(key)
    return f"""_dup_keys AS (SELECT DISTINCT _h FROM (SELECT _h, lag(_h) OVER (ORDER BY _h) AS _prev
                               FROM (SELECT hash({cols}) AS _h FROM {rows})) WHERE _h = _prev),
            _occ AS (SELECT _row, row_number() OVER (PARTITION BY {cols} ORDER BY _row) AS occ
                     FROM {rows} WHERE hash({cols}) IN (SELECT _h FROM _dup_keys))"""


def _newline(sniffed: Sniffed) -> str:
    with open(sniffed.path, "rb") as fh:
        head = fh.read(1 << 16)
    return "\\r\\n" if b"\r\n" in head else "\\n"


class StageContext:
    """Shared state and helpers for format adapters."""

    def __init__(self, cur: duckdb.DuckDBPyConnection, sources: list[Source], options: ImportOptions,
                 default_day_first: bool = False) -> None:
        self.cur = cur
        self.sources = sources
        self.options = options
        self.default_day_first = default_day_first
        self.issues: list[str] = []
        self.notes: list[str] = []
        self.ambiguous: list[dict[str, Any]] = []
        self.mapping: dict[str, dict[str, str]] = {s.name: {} for s in sources}
        self.staged: list[str] = []
        self.unique_keys: set[str] = set()  # staged tables whose keys are unique by construction
        self._lookups = 0
        self._consts = 0
        dates.install_macros(cur)
        numbers.install_macros(cur)

    # -- columns ------------------------------------------------------------
    @overload
    def col(self, src: Source, *names: str, field: str | None = None, required: Literal[True]) -> str: ...

    @overload
    def col(self, src: Source, *names: str, field: str | None = None, required: bool = False) -> str | None: ...

    def col(self, src: Source, *names: str, field: str | None = None, required: bool = False) -> str | None:
        """The quoted column for the first header name that exists (case-insensitive).

        None when there is none, unless ``required``: then it raises, so required columns type as ``str``.
        """
        for name in names:
            quoted = src.colmap.get(name.lower())
            if quoted:
                original = self._original(src, quoted)
                self.mapping[src.name][original] = field or names[0]
                return quoted
        if required:
            raise ValidationError(
                f"{src.name}: no column named {' or '.join(repr(n) for n in names)}. "
                "Rename the column in the file, or use the generic mapping on the Data page."
            )
        return None

    def _original(self, src: Source, quoted: str) -> str:
        index = int(quoted.strip('"')[1:])
        return src.sniffed.columns[index]

    def label(self, src: Source, quoted: str) -> str:
        return f"{src.name} column {self._original(src, quoted)!r}"

    def field(self, src: Source, target: str, fld: str) -> str | None:
        """The quoted column for a CopyLift field: the analyst's mapping, else a header synonym."""
        from core.ingest.mapping import TARGET_FIELDS, find_column

        if src.forced is not None:
            name = src.forced.get(fld)
        else:
            name = find_column(list(src.sniffed.columns), TARGET_FIELDS[target][fld])
        return self.col(src, name.lower(), field=fld) if name else None

    def default(self, fld: str) -> str | None:
        """A constant the analyst gave for a field with no column (generic mapping ``defaults``)."""
        mapping = self.options.mapping or {}
        value = (mapping.get("defaults") or {}).get(fld)
        return None if value in (None, "") else str(value)

    def text(self, src: Source, target: str, fld: str) -> str:
        """SQL for a text field: its mapped column, else the analyst's constant, else NULL."""
        col = self.field(src, target, fld)
        if col:
            return f"cl_null({col})"
        const = self.default(fld)
        return NULL_TEXT if const is None else self.const(const)

    def const(self, value: str) -> str:
        """SQL that reads ``value`` from a bound parameter, never pasting it into the query text.

        The staging queries are assembled from many fragments, so positional ``?`` placeholders
        would have to be threaded through every one in order. Instead the value is bound with
        ``SET VARIABLE name = ?`` and the fragment reads it back with ``getvariable('name')``;
        the name is ours (a counter), the value only ever travels as a parameter. Variables
        belong to this cursor, so concurrent imports on other cursors cannot see them.
        """
        self._consts += 1
        name = f"cl_const_{self._consts}"
        self.cur.execute(f"SET VARIABLE {name} = CAST(? AS VARCHAR)", [str(value)])
        return f"getvariable('{name}')"

    # -- typed expressions ---------------------------------------------------
    def ts(self, src: Source, quoted: str) -> str:
        """SQL for a timestamp column, after checking its date order."""
        label = self.label(src, quoted)
        # Exports repeat timestamps (one per order, not per line): profile and parse each
        # distinct value once, then look rows up by value (DuckDB makes the correlated
        # subquery below a hash join).
        self._lookups += 1
        lookup = f"ts_lookup_{self._lookups}"
        self.cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {lookup} AS SELECT _ts_raw, cl_dparts(cl_null(_ts_raw)) AS _ts_parts, "
            f"NULL::TIMESTAMP AS _ts_val FROM (SELECT DISTINCT {quoted} AS _ts_raw FROM {src.table} "
            f"WHERE {quoted} IS NOT NULL)"
        )
        profile = dates.profile_dates(self.cur, lookup, "_ts_raw", label)
        day_first = self.options.day_first
        if profile.ambiguous:
            chosen = self.default_day_first if day_first is None else day_first
            self.ambiguous.append(
                {"file": src.name, "column": self._original(src, quoted), "example": profile.example,
                 "chosen": "day-first" if chosen else "month-first", "asked": day_first is None}
            )
            day_first = chosen
        if profile.two_digit_years:
            self.notes.append(
                f"{label}: {profile.two_digit_years} distinct dates with two-digit years, read as 19xx/20xx "
                f"(e.g. {profile.example!r})."
            )
        df = profile.order(day_first)
        # The parts are a column, so the macro's many references to them do not re-run the regex.
        self.cur.execute(f"UPDATE {lookup} SET _ts_val = cl_ts_p(_ts_parts, {'TRUE' if df else 'FALSE'})")
        # A plain column equality, so that DuckDB can turn this into a hash join.
        return f"(SELECT _ts_val FROM {lookup} WHERE _ts_raw = {quoted})"

    def dates_out_of_range(self) -> bool:
        """Whether any parsed date is before 1970 or after now.

        Every staged timestamp comes from a ``ts`` lookup of distinct values, so checking those
        (thousands of values) tells whether the row-level range check (millions) can find anything.
        """
        return any(
            single_value(
                self.cur,
                f"SELECT count(*) FROM ts_lookup_{i} WHERE _ts_val < DATE '{dates.MIN_YEAR}-01-01' "
                "OR _ts_val > current_timestamp"
            )
            for i in range(1, self._lookups + 1)
        )

    def num(self, src: Source, quoted: str) -> str:
        """SQL for a numeric column, with the column's decimal mark."""
        scan = numbers.quick_scan(self.cur, src.table, quoted)
        dc = numbers.decimal_comma(self.cur, src.table, quoted, src.sniffed.delimiter, scan)
        label = self.label(src, quoted)
        if dc:
            self.notes.append(f"{label}: decimal commas read as decimal points.")
        pct = scan[1]
        if pct:
            self.notes.append(f"{label}: {pct} percentage value(s) read as fractions (12.5% = 0.125).")
        return f"cl_num({quoted}, {'TRUE' if dc else 'FALSE'})"

    # -- staging -------------------------------------------------------------
    def stage(self, table: str, select_sql: str, params: list | None = None) -> None:
        """Create (or extend) ``stg_<table>`` from a SELECT with the target columns + _file, _row, _reject."""
        name = f"stg_{table}"
        if name in self.staged:
            self.cur.execute(f"INSERT INTO {name} BY NAME {select_sql}", params)
        else:
            self.cur.execute(f"DROP TABLE IF EXISTS {name}")
            self.cur.execute(f"CREATE TEMP TABLE {name} AS {select_sql}", params)
            self.staged.append(name)

    def temp(self, name: str, select_sql: str, params: list | None = None) -> None:
        self.cur.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}", params)
