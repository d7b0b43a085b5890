"""User segments: behaviour features, structured rules, built-ins, saved definitions and profiles.

Public API (other packages code against these names):
``compute_user_features``, ``Segment``, ``SegmentRef`` (with ``EVERYONE``), ``get_segment``, ``list_segments``,
``segment_members``, ``save_segment``, ``count_segment``.
"""

from core.segments.catalog import (
    EVERYONE,
    Segment,
    SegmentRef,
    get_segment,
    list_segments,
    save_segment,
    segment_versions,
)
from core.segments.features import FEATURE_COLUMNS, compute_user_features, invalidate_features
from core.segments.membership import count_all_users, count_segment, members_csv, segment_members
from core.segments.rules import FEATURES, OPERATORS, Condition, RuleGroup, compile_where, parse_rules, rules_to_dict

__all__ = [
    "EVERYONE",
    "SegmentRef",
    "FEATURES",
    "FEATURE_COLUMNS",
    "OPERATORS",
    "Condition",
    "RuleGroup",
    "Segment",
    "compile_where",
    "compute_user_features",
    "count_all_users",
    "count_segment",
    "get_segment",
    "invalidate_features",
    "list_segments",
    "members_csv",
    "parse_rules",
    "rules_to_dict",
    "save_segment",
    "segment_members",
    "segment_versions",
]
