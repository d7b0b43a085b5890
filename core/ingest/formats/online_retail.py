"""UCI Online Retail (``InvoiceNo/UnitPrice/CustomerID``) and Online Retail II (``Invoice/Price/Customer ID``).

Each line is a purchase event; a ``C`` invoice or a negative quantity is a return
(kept and flagged, excluded from purchase counts). Lines without a customer id
(guest purchases, about a quarter of the UCI data) cannot be attributed to a
person and are rejected with that reason; their products are still imported.
"""

from __future__ import annotations

from core.ingest.context import StageContext, occurrence_ctes
from core.ingest.formats import Format, has_any

INVOICE = ("invoiceno", "invoice", "invoice_no", "invoice no")
PRICE = ("unitprice", "price", "unit_price", "unit price")
CUSTOMER = ("customerid", "customer id", "customer_id")


def detect(headers: set[str]) -> bool:
    return (
        has_any(headers, *INVOICE) and "stockcode" in headers and "invoicedate" in headers
        and has_any(headers, *PRICE) and "quantity" in headers
    )


def _customer_id(col: str) -> str:
    """SQL for the customer id in ``col`` (one of our CTE columns): spreadsheets save 17850 as "17850.0"."""
    return f"CASE WHEN suffix({col}, '.0') THEN {col}[:-3] ELSE {col} END"


def stage(ctx: StageContext) -> None:
    for src in ctx.sources:
        inv = ctx.col(src, *INVOICE, field="order_id", required=True)
        code = ctx.col(src, "stockcode", field="product_id", required=True)
        desc = ctx.col(src, "description", field="products.title")
        qty = ctx.num(src, ctx.col(src, "quantity", field="quantity", required=True))
        ts = ctx.ts(src, ctx.col(src, "invoicedate", field="ts", required=True))
        raw_ts = src.colmap["invoicedate"]
        price = ctx.num(src, ctx.col(src, *PRICE, field="price", required=True))
        cust = ctx.col(src, *CUSTOMER, field="user_id", required=True)
        country = ctx.col(src, "country", field="users.region")
        # Events first; products and users then come from the staged events (ids, prices, dates)
        # plus one narrow pass over the raw rows for the descriptions and countries. Carrying
        # those two texts on every staged event instead costs a quarter of the staging time.
        ctx.stage(
            "events",
            f"""WITH l0 AS (
                SELECT _row, cl_null({inv}) AS inv, cl_null({code}) AS code, {qty} AS qty, {ts} AS ts,
                       cl_null({raw_ts}) AS raw_ts, {price} AS price,
                       cl_null({cust}) AS cust0
                FROM {src.table}),
            l AS (SELECT * EXCLUDE (cust0), {_customer_id('cust0')} AS cust FROM l0),
            {occurrence_ctes('l', ('inv', 'code'))}
            SELECT CASE WHEN inv IS NOT NULL AND code IS NOT NULL  -- one concat: one string built, not five
                        THEN concat('or:', inv, ':', code, '#', coalesce(_occ.occ, 1)) END AS event_id,
                   cust AS user_id, code AS product_id,
                   CASE WHEN inv ILIKE 'C%' OR qty < 0 THEN 'return' ELSE 'purchase' END AS event_type,
                   ts, CAST(abs(qty) AS INTEGER) AS quantity, price, NULL::DOUBLE AS rating,
                   NULL::VARCHAR AS review_text, inv AS order_id, NULL::VARCHAR AS campaign_id,
                   ? AS _file, _row,
                   CASE WHEN inv IS NULL THEN 'invoice number is missing'
                        WHEN code IS NULL THEN 'StockCode is missing'
                        WHEN raw_ts IS NULL THEN 'InvoiceDate is missing'
                        WHEN ts IS NULL THEN 'InvoiceDate ''' || raw_ts || ''' is not a date'
                        WHEN qty IS NULL THEN 'Quantity is not a number'
                        WHEN qty = 0 THEN 'Quantity is 0'
                        WHEN qty <> round(qty) THEN 'Quantity is not a whole number'
                        WHEN price IS NULL THEN 'price is not a number'
                        WHEN price < 0 THEN 'negative price (an accounting adjustment, not a sale)'
                        WHEN cust IS NULL THEN 'customer id is missing (guest purchase): cannot attribute it to a person'
                   END AS _reject
            FROM l LEFT JOIN _occ USING (_row)""",
            [src.name],
        )
        # The staged events hold one row per raw row (same _row), so the raw columns join back.
        ctx.stage(
            "products",
            f"""WITH d AS (SELECT cl_null({code}) AS product_id,
                              {f'arg_min(cl_null({desc}), _row) FILTER (WHERE cl_null({desc}) IS NOT NULL)'
                               if desc else 'NULL::VARCHAR'} AS title
                       FROM {src.table} GROUP BY 1)
            SELECT e.product_id, coalesce(d.title, e.product_id) AS title, NULL::VARCHAR AS category, e.price,
                   NULL::VARCHAR AS description, e._file, e._row, NULL::VARCHAR AS _reject
            FROM (SELECT product_id, arg_max(price, ts) FILTER (WHERE price > 0) AS price, any_value(_file) AS _file,
                         min(_row) AS _row
                  FROM stg_events WHERE _file = ? AND product_id IS NOT NULL GROUP BY product_id) e
            JOIN d USING (product_id)""",
            [src.name],
        )
        ctx.stage(
            "users",
            f"""SELECT user_id, NULL::DATE AS signup_date, {'mode(_country)' if country else 'NULL::VARCHAR'} AS region,
                   NULL::VARCHAR AS first_name, NULL::VARCHAR AS email, NULL::BOOLEAN AS accepts_marketing,
                   ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject
            FROM (SELECT _row, {_customer_id('c')} AS user_id
                         {f', cl_null({country}) AS _country' if country else ''}
                  FROM (SELECT _row, cl_null({cust}) AS c {f', {country}' if country else ''} FROM {src.table}))
            WHERE user_id IS NOT NULL GROUP BY user_id""",
            [src.name],
        )
    ctx.unique_keys.add("events")  # invoice + stock code + occurrence


FORMAT = Format("online_retail", "UCI Online Retail (I or II)", detect, stage)
