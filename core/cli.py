"""What every ``python -m core.<step>`` entry point shares: opening the store, printing errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from core.config import load_config
from core.errors import CopyLiftError
from core.ingest.sample import load_sample
from core.migrations import DATA_TABLES
from core.store import Store


def holds_no_data(store: Store) -> bool:
    """True when every data table is empty (nothing imported, no sample loaded)."""
    return all(store.count(table) == 0 for table in DATA_TABLES)


@contextmanager
def open_store(db: str | None, *, sample_if_empty: bool = False) -> Iterator[Store]:
    """The given database file (or the app's). With ``sample_if_empty`` the sample shop is loaded
    into it, but only when it holds no data at all: an analyst's database is never written to unasked."""
    cfg = load_config()
    with Store(db or cfg.db_path) as store:
        if sample_if_empty and holds_no_data(store):
            load_sample(store)
        yield store


def report_error(err: CopyLiftError) -> int:
    """Print a project error the way every command does and return the exit status for it."""
    print(f"error: {err}", file=sys.stderr)
    return 2
