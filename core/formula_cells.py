"""Cells a spreadsheet would run as formulas, and how every CSV CopyLift writes defuses them.

Excel, LibreOffice and Google Sheets treat a cell that starts with ``= + - @`` (or a tab or
carriage return before one) as a formula; prefixing a single quote keeps it text.
"""

from __future__ import annotations

from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value: Any) -> Any:
    """Prefix text that a spreadsheet would treat as a formula with a single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralize_sql(column: str) -> str:
    """The same, as a DuckDB expression over ``column`` (one of our own column names)."""
    # list_contains, not IN: an IN list becomes a join over every row.
    prefixes = ", ".join(f"chr({ord(p)})" for p in FORMULA_PREFIXES)
    return f"CASE WHEN list_contains([{prefixes}], left({column}, 1)) THEN chr(39) || {column} ELSE {column} END"
