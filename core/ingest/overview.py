"""What is in the database: counts, date ranges and activity over time."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.migrations import DATA_TABLES
from core.store import Store


@dataclass(frozen=True)
class DataOverview:
    counts: dict[str, int]
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None


def data_overview(store: Store) -> DataOverview:
    counts = {t: store.count(t) for t in DATA_TABLES}
    first, last = store.one("SELECT min(ts), max(ts) FROM events") or (None, None)
    return DataOverview(counts=counts, first_event=first, last_event=last)


def events_per_day(store: Store) -> pd.DataFrame:
    """Tidy frame ``day, event_type, events`` for the activity chart."""
    return store.df(
        "SELECT CAST(ts AS DATE) AS day, event_type, count(*) AS events "
        "FROM events GROUP BY ALL ORDER BY day, event_type"
    )


def recent_imports(store: Store, limit: int = 20) -> pd.DataFrame:
    return store.df(
        "SELECT import_id, file_name, format, encoding, rows_accepted, rows_rejected, "
        "imported_by, imported_at, status FROM import_log ORDER BY import_id DESC LIMIT ?",
        [limit],
    )
