"""Date and time parsing in SQL, without trusting DuckDB's sniffer.

One regular expression splits a value into day/month/year/time/offset parts;
SQL macros then build the timestamp. Two-digit years pivot on the current year
(``10`` is 2010, ``85`` is 1985: never the year 0010), offsets such as
``-0500`` are converted to UTC, and a column whose values fit both day-first
and month-first is reported as ambiguous so the analyst chooses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from core.store import single_row

# a, b, c: the three date parts; h/mi/s time; ap: AM/PM; tz: Z or +hh:mm.
DATE_RE = (
    r"^\s*(\d{1,4})[-/.](\d{1,2}|[A-Za-z]{3,9})[-/.](\d{1,4})"
    r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp][Mm])?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
MONTHS = "['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']"
MIN_YEAR = 1970


def install_macros(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the temporary SQL macros ``cl_null``, ``cl_ts`` on this cursor."""
    pivot = date.today().year % 100
    # NULL for missing-value spellings, else the value trimmed. Exact spellings are checked
    # first and only values with outer spaces are trimmed: trimming every value of every
    # column is the costliest step of a large import. list_contains, not IN: DuckDB turns an
    # IN list into a join over every row of every column, while the length test (no spelling
    # is longer than 4) keeps most values away from the list altogether.
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_null(v) AS CASE "
        "WHEN length(v) <= 4 AND list_contains(['', 'NA', 'N/A', 'NULL', 'NaN', 'na', 'n/a', 'Na', 'N/a', '#N/A', "
        "'null', 'Null', 'nan', 'NAN'], v) "
        "THEN NULL WHEN starts_with(v, ' ') OR ends_with(v, ' ') OR starts_with(v, chr(9)) OR ends_with(v, chr(9)) "
        "THEN CASE WHEN list_contains(['', 'NA', 'N/A', 'NULL', 'NAN', '#N/A'], upper(trim(v))) THEN NULL "
        "ELSE trim(v) END "
        "ELSE v END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_dparts(v) AS "
        f"regexp_extract(v, '{DATE_RE}', ['a', 'b', 'c', 'h', 'mi', 's', 'ap', 'tz'])"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_year(p) AS CASE "
        "WHEN length(p.a) = 4 THEN TRY_CAST(p.a AS INTEGER) "
        "WHEN length(p.c) = 4 THEN TRY_CAST(p.c AS INTEGER) "
        f"WHEN length(p.c) = 2 THEN TRY_CAST(p.c AS INTEGER) + CASE WHEN TRY_CAST(p.c AS INTEGER) <= {pivot} "
        "THEN 2000 ELSE 1900 END END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_month(p, df) AS CASE "
        "WHEN length(p.a) = 4 THEN TRY_CAST(p.b AS INTEGER) "
        f"WHEN regexp_full_match(p.b, '[A-Za-z]+') THEN list_position({MONTHS}, lower(p.b[1:3])) "
        "WHEN df THEN TRY_CAST(p.b AS INTEGER) ELSE TRY_CAST(p.a AS INTEGER) END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_day(p, df) AS CASE "
        "WHEN length(p.a) = 4 THEN TRY_CAST(p.c AS INTEGER) "
        "WHEN regexp_full_match(p.b, '[A-Za-z]+') THEN TRY_CAST(p.a AS INTEGER) "
        "WHEN df THEN TRY_CAST(p.a AS INTEGER) ELSE TRY_CAST(p.b AS INTEGER) END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_hour(p) AS coalesce(TRY_CAST(nullif(p.h, '') AS INTEGER), 0) + CASE "
        "WHEN upper(p.ap) = 'PM' AND TRY_CAST(p.h AS INTEGER) < 12 THEN 12 "
        "WHEN upper(p.ap) = 'AM' AND TRY_CAST(p.h AS INTEGER) = 12 THEN -12 ELSE 0 END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_tzmin(p) AS CASE WHEN p.tz IN ('', 'Z') THEN 0 ELSE "
        "(CASE WHEN p.tz[1] = '-' THEN -1 ELSE 1 END) * (TRY_CAST(p.tz[2:3] AS INTEGER) * 60 "
        "+ TRY_CAST(right(p.tz, 2) AS INTEGER)) END"
    )
    # make_timestamp rolls 24:00 or 31 February over into the next day, so out-of-range parts
    # are refused first (what strptime of the printed parts did, ten times slower).
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_mkts(y, m, d, h, mi, s) AS CASE WHEN y BETWEEN 0 AND 9999 "
        "AND m BETWEEN 1 AND 12 AND d BETWEEN 1 AND 31 AND h BETWEEN 0 AND 23 AND mi BETWEEN 0 AND 59 "
        "AND s BETWEEN 0 AND 59 THEN TRY(make_timestamp(y, m, d, h, mi, s)) END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_ts_p(p, df) AS CASE WHEN p.a = '' THEN NULL ELSE "
        "cl_mkts(cl_year(p), cl_month(p, df), cl_day(p, df), "
        "cl_hour(p), coalesce(TRY_CAST(nullif(p.mi, '') AS INTEGER), 0), "
        "coalesce(TRY_CAST(nullif(p.s, '') AS INTEGER), 0)) "
        "- to_minutes(cl_tzmin(p)) END"
    )
    # A timestamp in UTC, or NULL when the value is not a date we can read.
    cur.execute("CREATE OR REPLACE TEMP MACRO cl_ts(v, df) AS cl_ts_p(cl_dparts(cl_null(v)), df)")


@dataclass(frozen=True)
class DateProfile:
    """How the values of one date column look."""

    column: str
    values: int
    unreadable: int
    day_first_fits: bool
    month_first_fits: bool
    needs_order: bool  # some values are D/M/Y or M/D/Y (not ISO, not 31-Jul-18)
    two_digit_years: int  # distinct values with a two-digit year
    example: str | None

    @property
    def ambiguous(self) -> bool:
        return self.needs_order and self.day_first_fits and self.month_first_fits

    def order(self, day_first: bool | None) -> bool:
        """Day-first or not: the only order that fits, else the analyst's choice (default month-first)."""
        if self.needs_order and self.day_first_fits and not self.month_first_fits:
            return True
        if self.needs_order and self.month_first_fits and not self.day_first_fits:
            return False
        return bool(day_first)


def profile_dates(cur: duckdb.DuckDBPyConnection, table: str, expr: str, label: str) -> DateProfile:
    """Profile the date column ``expr`` (a SQL expression over ``table``)."""
    row = single_row(
        cur,
        f"""
        WITH v AS (SELECT DISTINCT cl_null({expr}) AS v FROM {table}),
        p AS (SELECT v, cl_dparts(v) AS p FROM v WHERE v IS NOT NULL),
        o AS (SELECT *, length(p.a) < 4 AND NOT regexp_full_match(p.b, '[A-Za-z]+') AND p.a <> '' AS ord
              FROM p)
        SELECT count(*), count(*) FILTER (WHERE p.a = ''),
               coalesce(bool_and(TRY_CAST(p.a AS INT) <= 31 AND TRY_CAST(p.b AS INT) <= 12) FILTER (WHERE ord), TRUE),
               coalesce(bool_and(TRY_CAST(p.a AS INT) <= 12 AND TRY_CAST(p.b AS INT) <= 31) FILTER (WHERE ord), TRUE),
               count(*) FILTER (WHERE ord) > 0,
               count(*) FILTER (WHERE length(p.c) = 2 AND length(p.a) < 4),
               any_value(v)
        FROM o
        """
    )
    return DateProfile(label, int(row[0]), int(row[1]), bool(row[2]), bool(row[3]), bool(row[4]), int(row[5]), row[6])


def range_issues(cur: duckdb.DuckDBPyConnection, table: str, ts_col: str, label: str) -> list[str]:
    """Warnings for parsed dates before 1970 or after today (kept, but the analyst is told)."""
    early, late, first_early, first_late = single_row(
        cur,
        f"SELECT count(*) FILTER (WHERE {ts_col} < DATE '{MIN_YEAR}-01-01'), "
        f"count(*) FILTER (WHERE {ts_col} > current_timestamp), "
        f"min({ts_col}), max({ts_col}) FROM {table} WHERE _reject IS NULL"
    )
    issues = []
    if early:
        issues.append(f"{label}: {early} date(s) before {MIN_YEAR} (earliest {first_early}); check the column.")
    if late:
        issues.append(f"{label}: {late} date(s) after today (latest {first_late}); check the column.")
    return issues
