"""Number parsing in SQL: decimal commas, thousands separators, percentages, currency signs.

Whether ``1,250`` means one thousand two hundred and fifty or one and a quarter
is decided per column from the values themselves (and the file's separator),
not guessed per value.
"""

from __future__ import annotations

import duckdb

from core.store import single_row

# Values that can only be read one way; "1,250" or "1.250" alone prove nothing.
_COMMA_DECIMAL = (
    r"^[-+]?\d*,\d{1,2}%?$|^[-+]?\d{1,3}(\.\d{3})+,\d+%?$|^[-+]?\d{1,3}(\.\d{3}){2,}%?$|^[-+]?\d+,\d{4,}%?$"
)
_DOT_DECIMAL = (
    r"^[-+]?\d*\.\d{1,2}%?$|^[-+]?\d{1,3}(,\d{3})+\.\d+%?$|^[-+]?\d{1,3}(,\d{3}){2,}%?$|^[-+]?\d+\.\d{4,}%?$"
)


def install_macros(cur: duckdb.DuckDBPyConnection) -> None:
    """Create ``cl_num(v, decimal_comma)``: a DOUBLE, or NULL when ``v`` is not a number."""
    # Strip spaces (incl. no-break), currency signs, a leading apostrophe (Excel text marker).
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_numclean(v) AS "
        "regexp_replace(cl_null(v), '[\\s\u00a0$€£¥₹'']|^[A-Z]{3}\\s*|\\s*[A-Z]{3}$', '', 'g')"
    )
    cur.execute("CREATE OR REPLACE TEMP MACRO cl_finite(x) AS CASE WHEN isfinite(x) THEN x END")
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_num_s(s, dc) AS cl_finite("
        "TRY_CAST(CASE WHEN dc THEN replace(replace(rtrim(s, '%'), '.', ''), ',', '.') "
        "ELSE replace(rtrim(s, '%'), ',', '') END AS DOUBLE) "
        "/ CASE WHEN s LIKE '%\\%' ESCAPE '\\' THEN 100 ELSE 1 END)"
    )
    # Fast path: most values are plain numbers already; only the rest go through the cleaning.
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_num(v, dc) AS CASE WHEN NOT dc AND isfinite(TRY_CAST(v AS DOUBLE)) "
        "THEN TRY_CAST(v AS DOUBLE) ELSE cl_num_s(cl_numclean(v), dc) END"
    )
    cur.execute(
        "CREATE OR REPLACE TEMP MACRO cl_bool(v) AS CASE "
        "WHEN lower(cl_null(v)) IN ('1', 'true', 't', 'yes', 'y', 'x', '1.0') THEN TRUE "
        "WHEN lower(cl_null(v)) IN ('0', 'false', 'f', 'no', 'n', '0.0') THEN FALSE END"
    )


def quick_scan(cur: duckdb.DuckDBPyConnection, table: str, expr: str) -> tuple[int, int, int]:
    """One cheap pass: how many values hold a comma, a percent sign, a dot."""
    commas, percents, dots = single_row(
        cur,
        f"SELECT count(*) FILTER (WHERE contains({expr}, ',')), count(*) FILTER (WHERE contains({expr}, '%')), "
        f"count(*) FILTER (WHERE contains({expr}, '.')) FROM {table}"
    )
    return int(commas), int(percents), int(dots)


def decimal_comma(cur: duckdb.DuckDBPyConnection, table: str, expr: str, delimiter: str,
                  scan: tuple[int, int, int] | None = None) -> bool:
    """True when the column writes decimals with a comma (``3,50``; ``1.234,5``)."""
    commas, _, dots = scan or quick_scan(cur, table, expr)
    if not commas and (delimiter != ";" or not dots):
        return False  # no comma anywhere (and no dot that could group thousands): nothing to decide
    comma, dot, any_comma, dot_groups = single_row(
        cur,
        f"SELECT count(*) FILTER (WHERE regexp_matches(s, '{_COMMA_DECIMAL}')), "
        f"count(*) FILTER (WHERE regexp_matches(s, '{_DOT_DECIMAL}')), "
        f"count(*) FILTER (WHERE s LIKE '%,%'), "
        f"count(*) FILTER (WHERE regexp_matches(s, '^[-+]?\\d{{1,3}}(\\.\\d{{3}})+%?$')) "
        f"FROM (SELECT cl_numclean(v) AS s FROM (SELECT DISTINCT {expr} AS v FROM {table})) WHERE s IS NOT NULL"
    )
    if comma != dot:
        return comma > dot
    # Only values like "1,250" or "1.000": in ;-separated (European) files the comma is the
    # decimal mark and the dot groups thousands.
    return bool(any_comma or dot_groups) and delimiter == ";"
