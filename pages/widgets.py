"""Widget groups that pages share or repeat: a plan's figures, one rule-editor row.

Not a page (pages are registered explicitly in app.py). Each function draws widgets and returns what
the user entered; the logic behind them lives in ``core``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import streamlit as st

from core.generation.view import escape_markdown
from core.number_format import money_column_format
from core.segments import view as editor
from core.segments.rules import BOOLEAN, CATEGORY, FEATURES
from core.store import Store
from core.strategy.charts import allocation_chart, expected_conversions_chart, lift_chart
from core.strategy.frames import outcome_frame, segment_frame
from core.strategy.plan import Plan
from core.strategy.view import PERCENT_COLUMNS, POINT_COLUMNS, arms_table, headlines, plan_notes

PLAN_TABLE_FORMAT = ({c: st.column_config.NumberColumn(format="%.2f%%") for c in PERCENT_COLUMNS}
                     | {c: st.column_config.NumberColumn(format="%+.2f pts") for c in POINT_COLUMNS}
                     | {"revenue": st.column_config.NumberColumn(format=money_column_format())})


def show_plan(plan: Plan, key: str) -> None:
    """Headline tiles, the planner's notes, the conversion/allocation/lift charts and the arms table."""
    for col, tile in zip(st.columns(4), headlines(plan)):
        col.metric(tile.label, tile.value, help=tile.help)
    for note in plan_notes(plan):  # segment names are user text: shown literally
        if note.level == "caption":
            st.caption(escape_markdown(note.text))
        else:
            getattr(st, note.level)(escape_markdown(note.text), icon=note.icon)
    arms = outcome_frame(plan)
    left, right = st.columns(2)
    left.plotly_chart(expected_conversions_chart(segment_frame(plan)), key=f"{key}.conv")
    right.plotly_chart(allocation_chart(arms), key=f"{key}.alloc")
    if arms["lift_pts"].notna().any():
        st.plotly_chart(lift_chart(arms), key=f"{key}.lift")
    st.dataframe(arms_table(plan), hide_index=True, column_config=PLAN_TABLE_FORMAT)


def rule_row(store: Store, row: dict[str, Any], as_of: datetime) -> bool:
    """One condition of the segment rule editor: feature, operator, value (updates ``row``).

    Returns True when the user asked to remove the row.
    """
    uid = row["uid"]
    cols = st.columns([3, 2, 3, 1], vertical_alignment="bottom")
    if "group" in row:  # a nested group from a saved segment: shown, not edited
        cols[0].info("Group: " + editor.describe(row["group"]))
        return bool(cols[3].button("Remove", key=f"seg.remove.{uid}"))
    names = list(FEATURES)
    feature = cols[0].selectbox("Feature", names, index=names.index(row["feature"]), key=f"seg.feature.{uid}",
                                format_func=lambda f: FEATURES[f].label)
    ops = editor.operators_for(feature)
    op = cols[1].selectbox("Operator", ops, index=ops.index(row["operator"]) if row["operator"] in ops else 0,
                           key=f"seg.op.{uid}.{feature}")
    kind, key = FEATURES[feature].kind, f"seg.value.{uid}.{feature}.{op}"
    choices = editor.feature_choices(store, feature, as_of)
    value = row["value"] if (row["feature"], row["operator"]) == (feature, op) else editor.default_value(feature, op, choices)
    if op in ("is empty", "is not empty"):
        value = None
    elif kind == BOOLEAN:
        value = cols[2].selectbox("Value", [True, False], index=0 if value else 1, key=key)
    elif kind == CATEGORY and op in ("in", "not in"):
        value = cols[2].multiselect("Values", choices, default=[v for v in value if v in choices], key=key)
    elif kind == CATEGORY:
        value = cols[2].selectbox("Value", choices, index=choices.index(value) if value in choices else 0, key=key)
    elif op == "between":
        low = cols[2].number_input("From", value=float(value[0]), key=key + ".lo")
        value = [low, cols[2].number_input("To", value=float(value[1]), key=key + ".hi")]
    else:
        value = cols[2].number_input(f"Value ({FEATURES[feature].unit})", value=float(value), key=key)
    row.update(feature=feature, operator=op, value=value)
    return bool(cols[3].button("Remove", key=f"seg.remove.{uid}"))
