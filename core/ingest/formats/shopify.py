"""Shopify admin exports: "Export orders" (one row per line item) and "Export customers".

Order-level fields (Email, Financial Status, Total...) are filled only on an
order's first line; they are carried to its other lines. The person is the
lower-cased email (so orders and customers exports meet), else the Shopify
customer id. Cancelled, refunded or voided orders, and negative quantities,
become returns. Timestamps with offsets are stored in UTC.
"""

from __future__ import annotations

from core.ingest.context import StageContext
from core.ingest.formats import Format
from core.store import single_value


def detect_orders(headers: set[str]) -> bool:
    return {"name", "lineitem quantity", "lineitem name", "created at"} <= headers


def detect_customers(headers: set[str]) -> bool:
    return "customer id" in headers and ("accepts email marketing" in headers or "total spent" in headers
                                         or "accepts marketing" in headers)


def _opt(ctx: StageContext, src, *names: str, field: str) -> str:
    col = ctx.col(src, *names, field=field)
    return f"cl_null({col})" if col else "NULL"


def stage_orders(ctx: StageContext) -> None:
    for src in ctx.sources:
        name = ctx.col(src, "name", field="order_id", required=True)
        created = ctx.ts(src, ctx.col(src, "created at", field="ts", required=True))
        raw_created = src.colmap["created at"]
        qty = ctx.num(src, ctx.col(src, "lineitem quantity", field="quantity", required=True))
        lname = ctx.col(src, "lineitem name", field="products.title", required=True)
        price_col = ctx.col(src, "lineitem price", field="price")
        price = ctx.num(src, price_col) if price_col else "NULL"
        sku = _opt(ctx, src, "lineitem sku", field="product_id")
        email = _opt(ctx, src, "email", field="user_id")
        status = _opt(ctx, src, "financial status", field="return flag")
        cancelled = _opt(ctx, src, "cancelled at", field="return flag")
        marketing = _opt(ctx, src, "accepts marketing", field="users.accepts_marketing")
        billing = _opt(ctx, src, "billing name", field="users.first_name")
        region = _opt(ctx, src, "billing province", "shipping province", field="users.region")
        currency = _opt(ctx, src, "currency", field="currency (noted)")
        t = f"lines_{src.table}"
        # Order-level fields sit on the first line only: spread them over the order.
        ctx.temp(
            t,
            f"""SELECT _row, cl_null({name}) AS order_name,
                   max({email}) OVER w AS email, max({status}) OVER w AS status,
                   max({cancelled}) OVER w AS cancelled, max({marketing}) OVER w AS marketing,
                   max({billing}) OVER w AS billing, max({region}) OVER w AS region,
                   max({currency}) OVER w AS currency,
                   {created} AS ts, cl_null({raw_created}) AS raw_ts, {qty} AS qty, {price} AS price,
                   cl_null({lname}) AS lname, {sku} AS sku
            FROM {src.table} WINDOW w AS (PARTITION BY cl_null({name}))""",
        )
        currencies = [r[0] for r in ctx.cur.execute(f"SELECT DISTINCT currency FROM {t} WHERE currency IS NOT NULL")
                      .fetchall()]
        if currencies:
            ctx.notes.append(f"{src.name}: amounts are in {', '.join(currencies)} (stored as written, not converted).")
        ctx.temp(
            f"{t}_k",
            f"""SELECT *, lower(email) AS user_id, coalesce(sku, 'shopify:' || lname) AS product_id,
                   (cancelled IS NOT NULL OR lower(status) IN ('refunded', 'voided') OR qty < 0) AS is_return
            FROM {t}""",
        )
        ctx.stage(
            "events",
            f"""SELECT 'shopify:' || order_name || ':' || product_id || '#'
                       || row_number() OVER (PARTITION BY order_name, product_id ORDER BY _row) AS event_id,
                   user_id, product_id, CASE WHEN is_return THEN 'return' ELSE 'purchase' END AS event_type,
                   ts, CAST(abs(qty) AS INTEGER) AS quantity, price, NULL::DOUBLE AS rating,
                   NULL::VARCHAR AS review_text, order_name AS order_id, NULL::VARCHAR AS campaign_id,
                   ? AS _file, _row,
                   CASE WHEN order_name IS NULL THEN 'order Name is missing'
                        WHEN user_id IS NULL THEN 'order has no Email: cannot attribute it to a person'
                        WHEN ts IS NULL THEN 'Created at ''' || coalesce(raw_ts, '(empty)') || ''' is not a date'
                        WHEN qty IS NULL OR qty = 0 THEN 'Lineitem quantity is missing or 0'
                        WHEN lname IS NULL THEN 'Lineitem name is missing' END AS _reject
            FROM {t}_k""",
            [src.name],
        )
        ctx.unique_keys.add("events")  # order + product + occurrence
        ctx.stage(
            "products",
            f"""SELECT product_id, arg_min(lname, _row) AS title, NULL::VARCHAR AS category,
                   arg_max(price, ts) AS price, NULL::VARCHAR AS description,
                   ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject
            FROM {t}_k WHERE lname IS NOT NULL GROUP BY product_id""",
            [src.name],
        )
        ctx.stage(
            "users",
            f"""SELECT user_id, NULL::DATE AS signup_date, arg_min(region, _row) AS region,
                   split_part(arg_min(billing, _row), ' ', 1) AS first_name, arg_min(email, _row) AS email,
                   arg_min(cl_bool(marketing), _row) AS accepts_marketing,
                   ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject
            FROM {t}_k WHERE user_id IS NOT NULL GROUP BY user_id""",
            [src.name],
        )


def stage_customers(ctx: StageContext) -> None:
    for src in ctx.sources:
        cid = ctx.col(src, "customer id", field="user_id (when no email)", required=True)
        email = _opt(ctx, src, "email", field="user_id")
        first = _opt(ctx, src, "first name", field="first_name")
        marketing = _opt(ctx, src, "accepts email marketing", "accepts marketing", field="accepts_marketing")
        region = _opt(ctx, src, "province code", "province", "country", field="region")
        sci = single_value(
            ctx.cur,
            f"SELECT count(*) FROM {src.table} WHERE regexp_matches(cl_null({cid}), '^[0-9.]+E\\+[0-9]+$')"
        )
        if sci:
            ctx.issues.append(
                f"{src.name}: {sci} Customer ID values are in scientific notation (e.g. 7.02255E+12): the file "
                "was saved by a spreadsheet that rounded them. Customers are keyed by email where there is one; "
                "re-export from Shopify without opening the file in a spreadsheet to keep exact ids."
            )
        for column in ("total spent", "total orders"):
            if column in src.colmap:
                ctx.notes.append(f"{src.name}: {column!r} is not stored; CopyLift computes it from orders.")
        ctx.stage(
            "users",
            f"""SELECT coalesce(lower({email}), 'shopify-customer:' || cl_null({cid})) AS user_id,
                   NULL::DATE AS signup_date, {region} AS region, {first} AS first_name, lower({email}) AS email,
                   cl_bool({marketing}) AS accepts_marketing, ? AS _file, _row,
                   CASE WHEN {email} IS NULL AND cl_null({cid}) IS NULL THEN 'no Email and no Customer ID' END
                       AS _reject
            FROM {src.table}""",
            [src.name],
        )


ORDERS = Format("shopify_orders", "Shopify orders export", detect_orders, stage_orders)
CUSTOMERS = Format("shopify_customers", "Shopify customers export", detect_customers, stage_customers)
