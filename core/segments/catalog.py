"""Saved segment definitions: versioned rows in the ``segments`` table, plus the built-ins.

A saved segment keeps every version (``segment_id``, ``version``); lists and
lookups return the latest. Names are unique (case-insensitive) across saved
segments and built-ins. Saving validates everything first and writes one row in
one transaction, so nothing is ever half-saved.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from core.errors import NotFoundError, ValidationError
from core.segments.builtins import CATEGORY_PREFIX, STATIC_BUILTINS, BuiltinSpec, builtin_specs
from core.segments.membership import AsOf, count_segment, segment_members
from core.segments.rules import RuleGroup, parse_rules, rules_to_dict
from core.store import Store, single_row

MAX_NAME = 80
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class Segment:
    """One version of a segment definition."""

    segment_id: str
    version: int
    name: str
    description: str
    rules: RuleGroup
    is_builtin: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def ref(self) -> SegmentRef:
        """The handle that travels between pages, prompts, scoring and plans."""
        return SegmentRef(self.segment_id, self.version, self.name)


@dataclass(frozen=True)
class SegmentRef:
    """Which segment, at which version of its rules: the one handle every step passes along.

    ``segment_id`` None means everyone (``EVERYONE``). The version pins the rules, so a plan
    or a prediction made for version 2 keeps meaning version 2 after the segment is edited.
    """

    segment_id: str | None
    version: int | None
    name: str

    @property
    def is_everyone(self) -> bool:
        return self.segment_id is None

    def resolve(self, store: Store) -> Segment | None:
        """The segment definition at this version (None for everyone)."""
        return None if self.segment_id is None else get_segment(store, self.segment_id, self.version)

    def members(self, store: Store, as_of: AsOf = None) -> pd.DataFrame:
        """``user_id`` and every feature column of the members (everyone for ``EVERYONE``)."""
        return segment_members(store, self.resolve(store), as_of)


EVERYONE = SegmentRef(None, None, "All customers")


def _from_spec(spec: BuiltinSpec) -> Segment:
    return Segment(spec.segment_id, 1, spec.name, spec.description, parse_rules(spec.rules), True)


def _from_row(row: tuple) -> Segment:
    segment_id, version, name, description, rules_json, created_at, updated_at = row
    return Segment(
        segment_id, int(version), name, description or "", parse_rules(json.loads(rules_json)), False,
        created_at, updated_at,
    )


_LATEST = (
    "SELECT segment_id, version, name, description, rules_json, created_at, updated_at FROM segments s "
    "WHERE NOT is_builtin AND version = (SELECT max(version) FROM segments t WHERE t.segment_id = s.segment_id)"
)


def get_segment(store: Store, segment_id: str, version: int | None = None) -> Segment:
    """A built-in (e.g. ``"rfm_champions"``) or the latest (or given) version of a saved segment."""
    if segment_id in STATIC_BUILTINS:
        return _from_spec(STATIC_BUILTINS[segment_id])
    if segment_id.startswith(CATEGORY_PREFIX):
        for spec in builtin_specs(store):
            if spec.segment_id == segment_id:
                return _from_spec(spec)
    if version is None:
        row = store.one(_LATEST + " AND segment_id = ?", [segment_id])
    else:
        row = store.one(
            "SELECT segment_id, version, name, description, rules_json, created_at, updated_at "
            "FROM segments WHERE segment_id = ? AND version = ?",
            [segment_id, version],
        )
    if row is None:
        what = f"segment {segment_id!r}" + (f" version {version}" if version is not None else "")
        raise NotFoundError(f"{what} does not exist; pick one from the list on the Segments page.")
    return _from_row(row)


def list_segments(store: Store) -> list[Segment]:
    """Built-ins first, then the latest version of every saved segment by name."""
    saved = [_from_row(r) for r in store.rows(_LATEST + " ORDER BY lower(name)")]
    return [_from_spec(s) for s in builtin_specs(store)] + saved


def segment_versions(store: Store, segment_id: str) -> list[Segment]:
    rows = store.rows(
        "SELECT segment_id, version, name, description, rules_json, created_at, updated_at "
        "FROM segments WHERE segment_id = ? ORDER BY version",
        [segment_id],
    )
    return [_from_row(r) for r in rows]


def save_segment(
    store: Store,
    name: str,
    description: str,
    rules,
    segment_id: str | None = None,
) -> Segment:
    """Save a new segment, or a new version of ``segment_id``; return what was saved.

    Raises ``ValidationError`` for a blank or taken name, rules with no
    condition, invalid rules, or rules that match nobody today; and
    ``NotFoundError`` when ``segment_id`` is not a saved segment.
    """
    name = (name or "").strip()
    description = (description or "").strip()
    if not name:
        raise ValidationError("the segment needs a name.")
    if len(name) > MAX_NAME or len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"keep the name under {MAX_NAME} and the description under {MAX_DESCRIPTION} characters.")
    group = parse_rules(rules)
    if not group.conditions():
        raise ValidationError("the segment has no conditions; add at least one rule before saving.")
    if segment_id is not None and (segment_id in STATIC_BUILTINS or segment_id.startswith(CATEGORY_PREFIX)):
        raise ValidationError(f"{segment_id!r} is built in and cannot be changed; save it under a new name as a copy.")
    members = count_segment(store, group)
    if members == 0:
        raise ValidationError("the segment matches no customers in the current data; loosen a rule before saving.")
    taken = {s.name.lower() for s in builtin_specs(store)}
    rules_json = json.dumps(rules_to_dict(group))
    with store.transaction() as cur:
        # Checked inside the write transaction so two saves cannot both take a name.
        others = cur.execute(
            "SELECT DISTINCT segment_id FROM segments s WHERE lower(name) = lower(?) AND version = "
            "(SELECT max(version) FROM segments t WHERE t.segment_id = s.segment_id) "
            "AND segment_id IS DISTINCT FROM ?",
            [name, segment_id],
        ).fetchall()
        if others or name.lower() in taken:
            raise ValidationError(f"a segment named {name!r} already exists; choose another name.")
        if segment_id is None:
            segment_id, version, created = "seg_" + uuid.uuid4().hex[:12], 1, None
        else:
            row = single_row(
                cur,
                "SELECT max(version), min(created_at) FROM segments WHERE segment_id = ?", [segment_id]
            )
            if row[0] is None:
                raise NotFoundError(f"segment {segment_id!r} does not exist; save it as a new segment instead.")
            version, created = int(row[0]) + 1, row[1]
        now = datetime.now().replace(microsecond=0)
        cur.execute(
            "INSERT INTO segments (segment_id, version, name, description, rules_json, is_builtin, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, FALSE, ?, ?)",
            [segment_id, version, name, description, rules_json, created or now, now],
        )
    return Segment(segment_id, version, name, description, group, False, created or now, now)
