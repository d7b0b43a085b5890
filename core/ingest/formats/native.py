"""CopyLift's own CSV format: files whose columns are the table columns (events, users, products).

The same adapters serve the generic mapping: there the analyst's mapping says
which column fills which field, and ``defaults`` can fill a field with a
constant (e.g. every row is a ``purchase``).
"""

from __future__ import annotations

from core.ingest.context import Source, StageContext, occurrence_ctes
from core.ingest.formats import Format
from core.migrations import EVENT_TYPES


def _num(ctx: StageContext, src: Source, target: str, fld: str) -> str:
    col = ctx.field(src, target, fld)
    return ctx.num(src, col) if col else "NULL::DOUBLE"


def _ts(ctx: StageContext, src: Source, target: str, fld: str) -> tuple[str, str]:
    col = ctx.field(src, target, fld)
    return (ctx.ts(src, col), f"cl_null({col})") if col else ("NULL::TIMESTAMP", "NULL")


def detect_events(headers: set[str]) -> bool:
    return {"user_id", "event_type", "ts"} <= headers


def detect_users(headers: set[str]) -> bool:
    return "user_id" in headers and bool(headers & {"signup_date", "loyalty_tier", "age_band", "device"}) \
        and "event_type" not in headers


def detect_products(headers: set[str]) -> bool:
    return {"product_id", "title"} <= headers


def stage_events(ctx: StageContext) -> None:
    types = ", ".join(f"'{e}'" for e in EVENT_TYPES)
    for src in ctx.sources:
        ts, raw_ts = _ts(ctx, src, "events", "ts")
        etype = ctx.text(src, "events", "event_type")
        qty = _num(ctx, src, "events", "quantity")
        t = f"ev_{src.table}"
        ctx.temp(t, f"""SELECT _row, {ctx.text(src, 'events', 'event_id')} AS given_id,
            {ctx.text(src, 'events', 'user_id')} AS user_id, {ctx.text(src, 'events', 'product_id')} AS product_id,
            lower({etype}) AS event_type, {ts} AS ts, {raw_ts} AS raw_ts, {qty} AS qty,
            {_num(ctx, src, 'events', 'price')} AS price, {_num(ctx, src, 'events', 'rating')} AS rating,
            {ctx.text(src, 'events', 'review_text')} AS review_text, {ctx.text(src, 'events', 'order_id')} AS order_id,
            {ctx.text(src, 'events', 'campaign_id')} AS campaign_id FROM {src.table}""")
        # Without an event id, the row's own content is its key (re-imports and overlaps dedupe).
        key = ("user_id", "product_id", "event_type", "ts", "qty", "price", "order_id", "review_text")
        ctx.stage("events", f"""WITH {occurrence_ctes(t, key)}
            SELECT coalesce(given_id, 'ev:' || md5(concat_ws('|', {', '.join(key)})) || '#'
                || coalesce(_occ.occ, 1)) AS event_id,
            user_id, product_id,
            CASE WHEN qty < 0 AND event_type = 'purchase' THEN 'return' ELSE event_type END AS event_type, ts,
            CAST(abs(qty) AS INTEGER) AS quantity, price, rating, review_text, order_id, campaign_id,
            ? AS _file, _row,
            CASE WHEN event_type NOT IN ({types}) THEN 'event type ''' || event_type || ''' is not one of {", ".join(EVENT_TYPES)}'
                 WHEN raw_ts IS NOT NULL AND ts IS NULL THEN 'date ''' || raw_ts || ''' is not a date'
                 WHEN qty IS NOT NULL AND qty <> round(qty) THEN 'quantity is not a whole number' END AS _reject
            FROM {t} LEFT JOIN _occ USING (_row)""", [src.name])


def stage_users(ctx: StageContext) -> None:
    for src in ctx.sources:
        signup, raw = _ts(ctx, src, "users", "signup_date")
        ctx.stage("users", f"""SELECT {ctx.text(src, 'users', 'user_id')} AS user_id,
            CAST({signup} AS DATE) AS signup_date, {ctx.text(src, 'users', 'region')} AS region,
            {ctx.text(src, 'users', 'device')} AS device, {ctx.text(src, 'users', 'age_band')} AS age_band,
            {ctx.text(src, 'users', 'loyalty_tier')} AS loyalty_tier,
            {ctx.text(src, 'users', 'first_name')} AS first_name, {ctx.text(src, 'users', 'email')} AS email,
            cl_bool({ctx.text(src, 'users', 'accepts_marketing')}) AS accepts_marketing, ? AS _file, _row,
            CASE WHEN {raw} IS NOT NULL AND {signup} IS NULL THEN 'signup date ''' || {raw} || ''' is not a date' END
                AS _reject FROM {src.table}""", [src.name])


def stage_products(ctx: StageContext) -> None:
    for src in ctx.sources:
        ctx.stage("products", f"""SELECT {ctx.text(src, 'products', 'product_id')} AS product_id,
            {ctx.text(src, 'products', 'title')} AS title, {ctx.text(src, 'products', 'category')} AS category,
            {_num(ctx, src, 'products', 'price')} AS price,
            {ctx.text(src, 'products', 'description')} AS description, ? AS _file, _row,
            NULL::VARCHAR AS _reject FROM {src.table}""", [src.name])


EVENTS = Format("copylift_events", "CopyLift events CSV", detect_events, stage_events)
USERS = Format("copylift_users", "CopyLift users CSV", detect_users, stage_users)
PRODUCTS = Format("copylift_products", "CopyLift products CSV", detect_products, stage_products)
