"""The Olist Brazilian e-commerce tables, joined into one behaviour history.

Files are recognised by their columns (orders, customers, items, reviews,
products, category translation; payments, sellers and geolocation are read but
not needed). ``customer_unique_id`` is the person (``customer_id`` is per
order). Each order item is a purchase event, or a return when the order was
cancelled or unavailable; each review is a review event joined to its order's
person (and product, when the order holds one product). A review id can cover
several orders, so reviews are keyed by review id + order id.
"""

from __future__ import annotations

from core.errors import ValidationError
from core.ingest.context import Source, StageContext
from core.ingest.formats import Format
from core.store import single_value

ROLES = {
    "orders": {"order_id", "customer_id", "order_status", "order_purchase_timestamp"},
    "customers": {"customer_id", "customer_unique_id"},
    "items": {"order_id", "order_item_id", "product_id", "price"},
    "reviews": {"review_id", "order_id", "review_score"},
    "translation": {"product_category_name", "product_category_name_english"},
    "products": {"product_id", "product_category_name"},
    "payments": {"order_id", "payment_sequential"},
    "sellers": {"seller_id", "seller_zip_code_prefix"},
    "geolocation": {"geolocation_zip_code_prefix"},
}
UNUSED = ("payments", "sellers", "geolocation")


def role(headers: set[str]) -> str | None:
    for name, needed in ROLES.items():
        if needed <= headers:
            return name
    return None


def detect(headers: set[str]) -> bool:
    return role(headers) is not None


def stage(ctx: StageContext) -> None:
    roles: dict[str, Source] = {}
    for src in ctx.sources:
        r = role(src.headers())
        if r is None:
            raise ValidationError(f"{src.name} is not one of the Olist tables; import it separately.")
        if r in roles:
            raise ValidationError(f"{src.name} and {roles[r].name} are both the Olist {r} table; choose one.")
        roles[r] = src
    for r in UNUSED:
        if r in roles:
            ctx.notes.append(f"{roles[r].name}: Olist {r} table read; CopyLift does not need it.")
    if ("items" in roles or "reviews" in roles) and not {"orders", "customers"} <= set(roles):
        missing = [r for r in ("orders", "customers") if r not in roles]
        raise ValidationError(
            "Olist items and reviews need the orders and customers tables to find the person; add "
            + " and ".join(f"olist_{m}_dataset.csv" for m in missing) + " to the upload."
        )
    c = lambda r, name: ctx.col(roles[r], name, required=True)  # noqa: E731
    if "customers" in roles:
        cu = roles["customers"]
        state = ctx.col(cu, "customer_state", field="region")
        ctx.temp("ol_customers", f"""SELECT _row, cl_null({c('customers', 'customer_id')}) AS customer_id,
            cl_null({c('customers', 'customer_unique_id')}) AS uid,
            {f'cl_null({state})' if state else 'NULL'} AS state FROM {cu.table}""")
        ctx.stage("users", """SELECT uid AS user_id, NULL::DATE AS signup_date, arg_min(state, _row) AS region,
            NULL::VARCHAR AS first_name, NULL::VARCHAR AS email, NULL::BOOLEAN AS accepts_marketing,
            ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject FROM ol_customers WHERE uid IS NOT NULL
            GROUP BY uid""", [cu.name])
    if "orders" in roles:
        od = roles["orders"]
        ts = ctx.ts(od, c("orders", "order_purchase_timestamp"))
        ctx.temp("ol_orders", f"""SELECT o._row, cl_null({c('orders', 'order_id')}) AS order_id,
            cl_null({c('orders', 'customer_id')}) AS customer_id, lower(cl_null({c('orders', 'order_status')})) AS status,
            {ts} AS ts FROM {od.table} o""")
        ctx.temp("ol_oc", """SELECT o.*, cu.uid FROM ol_orders o LEFT JOIN
            (SELECT customer_id, any_value(uid) AS uid FROM ol_customers GROUP BY ALL) cu USING (customer_id)""")
    if "translation" in roles:
        tr = roles["translation"]
        ctx.temp("ol_tr", f"""SELECT cl_null({c('translation', 'product_category_name')}) AS pt,
            any_value(cl_null({c('translation', 'product_category_name_english')})) AS en FROM {tr.table} GROUP BY 1""")
    else:
        ctx.temp("ol_tr", "SELECT NULL::VARCHAR AS pt, NULL::VARCHAR AS en WHERE FALSE")
    if "products" in roles:
        pr = roles["products"]
        ctx.stage("products", f"""SELECT cl_null({c('products', 'product_id')}) AS product_id,
            coalesce(t.en, p.cat, 'product') || ' ' || left(cl_null({c('products', 'product_id')}), 8) AS title,
            coalesce(t.en, p.cat) AS category, NULL::DOUBLE AS price, NULL::VARCHAR AS description,
            ? AS _file, p._row, NULL::VARCHAR AS _reject
            FROM (SELECT *, cl_null({c('products', 'product_category_name')}) AS cat FROM {pr.table}) p
            LEFT JOIN ol_tr t ON t.pt = p.cat""", [pr.name])
    if "items" in roles:
        it = roles["items"]
        price = ctx.num(it, c("items", "price"))
        ctx.temp("ol_items", f"""SELECT _row, cl_null({c('items', 'order_id')}) AS order_id,
            cl_null({c('items', 'order_item_id')}) AS item, cl_null({c('items', 'product_id')}) AS product_id,
            {price} AS price FROM {it.table}""")
        ctx.stage("events", """SELECT 'olist:' || i.order_id || ':' || i.item AS event_id, o.uid AS user_id,
            i.product_id, CASE WHEN o.status IN ('canceled', 'unavailable') THEN 'return' ELSE 'purchase' END
                AS event_type,
            o.ts, 1 AS quantity, i.price, NULL::DOUBLE AS rating, NULL::VARCHAR AS review_text,
            i.order_id, NULL::VARCHAR AS campaign_id, ? AS _file, i._row,
            CASE WHEN i.order_id IS NULL OR i.item IS NULL THEN 'order_id or order_item_id is missing'
                 WHEN o.order_id IS NULL THEN 'order ''' || i.order_id || ''' is not in the orders table'
                 WHEN o.uid IS NULL THEN 'the order''s customer is not in the customers table'
                 WHEN o.ts IS NULL THEN 'the order has no purchase timestamp'
                 WHEN i.price IS NULL THEN 'price is not a number' END AS _reject
            FROM ol_items i LEFT JOIN ol_oc o USING (order_id)""", [it.name])
        without = single_value(
            ctx.cur,
            "SELECT count(*) FROM ol_orders WHERE order_id NOT IN (SELECT order_id FROM ol_items WHERE order_id IS NOT NULL)"
        )
        if without:
            ctx.notes.append(f"{without} Olist orders have no items (mostly cancelled/unavailable): no purchase events.")
        if "products" not in roles:
            ctx.stage("products", """SELECT product_id, 'Olist product ' || left(product_id, 8) AS title,
                NULL::VARCHAR AS category, NULL::DOUBLE AS price, NULL::VARCHAR AS description, ? AS _file,
                min(_row) AS _row, NULL::VARCHAR AS _reject FROM ol_items WHERE product_id IS NOT NULL
                GROUP BY product_id""", [it.name])
    if "reviews" in roles:
        rv = roles["reviews"]
        created = ctx.ts(rv, c("reviews", "review_creation_date"))
        title = ctx.col(rv, "review_comment_title", field="review_text")
        msg = ctx.col(rv, "review_comment_message", field="review_text")
        score = ctx.num(rv, c("reviews", "review_score"))
        single = ("(SELECT order_id, CASE WHEN count(DISTINCT product_id) = 1 THEN any_value(product_id) END AS pid "
                  "FROM ol_items GROUP BY order_id)") if "items" in roles else \
                 "(SELECT NULL::VARCHAR AS order_id, NULL::VARCHAR AS pid WHERE FALSE)"
        ctx.stage("events", f"""SELECT 'olist-review:' || r.review_id || ':' || r.order_id AS event_id,
            o.uid AS user_id, s.pid AS product_id, 'review' AS event_type, r.ts, NULL::INTEGER AS quantity,
            NULL::DOUBLE AS price, r.score AS rating, r.txt AS review_text, r.order_id,
            NULL::VARCHAR AS campaign_id, ? AS _file, r._row,
            CASE WHEN r.review_id IS NULL THEN 'review_id is missing'
                 WHEN o.order_id IS NULL THEN 'order ''' || coalesce(r.order_id, '(empty)') || ''' is not in the orders table'
                 WHEN o.uid IS NULL THEN 'the order''s customer is not in the customers table'
                 WHEN r.ts IS NULL THEN 'review_creation_date is missing or not a date'
                 WHEN r.score IS NULL THEN 'review_score is not a number' END AS _reject
            FROM (SELECT _row, cl_null({c('reviews', 'review_id')}) AS review_id,
                         cl_null({c('reviews', 'order_id')}) AS order_id, {created} AS ts, {score} AS score,
                         nullif(concat_ws(E'\\n', {f'cl_null({title})' if title else 'NULL'},
                                          {f'cl_null({msg})' if msg else 'NULL'}), '') AS txt
                  FROM {rv.table}) r
            LEFT JOIN ol_oc o USING (order_id) LEFT JOIN {single} s USING (order_id)""", [rv.name])


FORMAT = Format("olist", "Olist e-commerce tables", detect, stage, multi_file=True)
