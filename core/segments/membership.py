"""Who is in a segment: counts, member frames and the CSV export of member ids."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import TYPE_CHECKING

import pandas as pd

from core.formula_cells import neutralize
from core.segments.features import FEATURE_COLUMNS, ensure_features, tidy_features
from core.segments.rules import segment_query
from core.store import Store

if TYPE_CHECKING:  # catalog imports this module; the type is only for hints
    from core.segments.catalog import Segment

AsOf = datetime | date | str | None


def count_segment(store: Store, rules, as_of: AsOf = None) -> int:
    """How many users the rules match as of ``as_of`` (default: last event). Empty rules = everyone."""
    when = ensure_features(store, as_of)
    sql, params = segment_query(rules, when)
    return int(store.scalar(sql, params))


def count_all_users(store: Store, as_of: AsOf = None) -> int:
    return count_segment(store, None, as_of)


def segment_members(store: Store, segment: Segment | None, as_of: AsOf = None) -> pd.DataFrame:
    """``user_id`` and every feature column for the members (all users when ``segment`` is None)."""
    when = ensure_features(store, as_of)
    sql, params = segment_query(None if segment is None else segment.rules, when, FEATURE_COLUMNS)
    return tidy_features(store.df(sql, params))


def members_csv(store: Store, segment: Segment | None, as_of: AsOf = None) -> bytes:
    """The member list (one ``user_id`` per line) as UTF-8 CSV, formula-safe."""
    when = ensure_features(store, as_of)
    sql, params = segment_query(None if segment is None else segment.rules, when, ("user_id",))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["user_id"])
    for (user_id,) in store.rows(sql, params):
        writer.writerow([neutralize("" if user_id is None else str(user_id))])
    return out.getvalue().encode("utf-8")
