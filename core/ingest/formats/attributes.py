"""Customer columns CopyLift has no field for, kept as typed, named user attributes.

An experiment file (Hillstrom's e-mail test, say) describes each customer with columns
such as ``recency``, ``history`` or ``zip_code``. Rather than drop them or squeeze them
into a field meant for something else, every column of a user-level results file that
no CopyLift field took becomes a ``user_attributes`` row per customer: numeric when
every value reads as a number, else categorical (its text). The import report lists
each column and what became of it.
"""

from __future__ import annotations

from core.ingest.context import Source, StageContext
from core.store import quote_ident, single_row

MAX_CATEGORIES = 200  # a categorical attribute with more distinct values is an id, not a group


def leftover_columns(ctx: StageContext, src: Source) -> list[tuple[str, str]]:
    """(original header, quoted column) of the source's columns no field has taken."""
    used = {name.lower() for name in ctx.mapping[src.name]}
    out = []
    for i, name in enumerate(src.sniffed.columns):
        if name.lower() not in used and name.strip():
            out.append((name, quote_ident(f"c{i}")))
    return out


def stage_attributes(ctx: StageContext, src: Source, user_sql: str) -> None:
    """Stage ``user_attributes`` (and bare ``users`` rows) from the leftover columns of ``src``."""
    selects, params = [], []
    for name, col in leftover_columns(ctx, src):
        nonnull, numeric, distinct = single_row(
            ctx.cur, f"SELECT count(cl_null({col})), count({ctx.num(src, col)}), count(DISTINCT cl_null({col})) "
            f"FROM {src.table}")
        if nonnull == 0:
            ctx.notes.append(f"{src.name}: column {name!r} is empty in every row; nothing to keep.")
            continue
        attr = name.strip()
        if numeric == nonnull:
            kind, value = "numeric", f"{ctx.num(src, col)} AS num_value, NULL::VARCHAR AS text_value"
        elif distinct <= MAX_CATEGORIES:
            kind, value = "categorical", f"NULL::DOUBLE AS num_value, cl_null({col}) AS text_value"
        else:
            ctx.notes.append(f"{src.name}: column {name!r} has {distinct:,} distinct texts (over {MAX_CATEGORIES}); "
                             "it looks like an id or free text and is not kept as a customer attribute.")
            continue
        ctx.notes.append(f"{src.name}: column {name!r} kept as a {kind} customer attribute {attr!r}.")
        selects.append(f"""SELECT {user_sql} AS user_id, ? AS name, '{kind}' AS kind, {value}, _row
            FROM {src.table} WHERE {user_sql} IS NOT NULL AND cl_null({col}) IS NOT NULL""")
        params.append(attr)
    if not selects:
        return
    union = " UNION ALL ".join(selects)
    # One value per customer and attribute: the first row's (a customer repeated over several
    # sends describes the same person).
    ctx.stage("user_attributes", f"""SELECT user_id, name, arg_min(kind, _row) AS kind,
        arg_min(num_value, _row) AS num_value, arg_min(text_value, _row) AS text_value, ? AS _file,
        min(_row) AS _row, NULL::VARCHAR AS _reject FROM ({union}) GROUP BY user_id, name""",
              [src.name, *params])
    # Customers known only from this file become users (no other fields), so segments see them.
    ctx.stage("users", f"""SELECT {user_sql} AS user_id, ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject
        FROM {src.table} WHERE {user_sql} IS NOT NULL GROUP BY 1""", [src.name])
