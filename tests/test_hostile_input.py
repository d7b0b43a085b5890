"""Hostile and broken input: each case gets a clear CopyLiftError and the database keeps every row.

Files go through the importer's core API (what the Data page calls); the row
counts of every table before and after (``store.table_counts()``) prove that
nothing was lost or half-written.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import CopyLiftError, StoreError
from core.store import Store

ROOT = Path(__file__).resolve().parent.parent


# -- HTML / JavaScript in user text renders as text ------------------------------------
def _ui_sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]


def test_no_page_lets_html_through():
    """Briefs, brand rules and model text are shown with Streamlit's escaping, never as raw HTML."""
    offenders = []
    for path in _ui_sources():
        text = path.read_text()
        for pattern in (r"unsafe_allow_html\s*=\s*True", r"\bst\.html\(", r"components\.v1\.html\("):
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not offenders, "raw HTML rendering in the UI: " + "; ".join(offenders)


# -- the database file locked by another process -----------------------------------------
def test_locked_database_gives_a_clear_store_error(tmp_path):
    db = tmp_path / "locked.duckdb"
    with Store(db) as s:
        s.execute("INSERT INTO products (product_id, title, price) VALUES (?, ?, ?)", ["p1", "Mug", 9.5])
        before = s.table_counts()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, duckdb
                con = duckdb.connect({str(db)!r})
                print("locked", flush=True)
                sys.stdin.read()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError) as info:
            Store(db)
        message = str(info.value)
        assert str(db) in message
        assert "another CopyLift process" in message
        assert isinstance(info.value, CopyLiftError)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    with Store(db) as s:
        assert s.table_counts() == before
