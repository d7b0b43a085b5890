"""Review exports: Amazon-style (rating, date, text; tab- or comma-separated) and Datafiniti product reviews.

Each row is a ``review`` event with its rating and text. Files without reviewer
ids (the Amazon Alexa export) are attributed to one anonymous reviewer per
file, which is not a CopyLift user; the product named in the row (variation,
product name) becomes a product. Reviews without a date are rejected (an event
needs a time); reviews without a rating are kept with no rating.
"""

from __future__ import annotations

from pathlib import Path

from core.ingest.context import StageContext
from core.ingest.formats import Format, has_any
from core.store import single_value

TEXT = ("verified_reviews", "review_text", "review", "text", "review_body", "reviews.text", "comment")
RATING = ("rating", "stars", "star_rating", "score", "reviews.rating", "review_score")


def detect_amazon(headers: set[str]) -> bool:
    return has_any(headers, *RATING) and "date" in headers and has_any(headers, *TEXT) and "user_id" not in headers


def detect_datafiniti(headers: set[str]) -> bool:
    return {"reviews.rating", "reviews.text", "reviews.date"} <= headers


def _slug(expr: str) -> str:
    return f"lower(regexp_replace(trim({expr}), '[^A-Za-z0-9]+', '-', 'g'))"


def stage_amazon(ctx: StageContext) -> None:
    for src in ctx.sources:
        rating = ctx.num(src, ctx.col(src, *RATING, field="rating", required=True))
        date_col = ctx.col(src, "date", field="ts", required=True)
        ts = ctx.ts(src, date_col)
        text = ctx.col(src, *TEXT, field="review_text", required=True)
        product = ctx.col(src, "product_id", "asin", "product", "variation", "product_title", field="product_id")
        user = ctx.col(src, "reviewer_id", "customer_id", "username", "user", field="user_id")
        stem = Path(src.name).stem
        anon = f"anonymous:{stem}"
        if not user:
            ctx.notes.append(f"{src.name}: no reviewer ids; reviews are attributed to the anonymous reviewer {anon!r}.")
        pid = f"{ctx.const(_safe(stem) + ':')} || {_slug(f'cl_null({product})')}" if product else "NULL"
        ctx.temp(f"rv_{src.table}", f"""SELECT _row, {rating} AS rating, {ts} AS ts, cl_null({date_col}) AS raw_ts,
            cl_null({text}) AS txt, {pid} AS product_id, {f'cl_null({product})' if product else 'NULL'} AS ptitle,
            {f'cl_null({user})' if user else 'NULL'} AS reviewer FROM {src.table}""")
        empty = single_value(ctx.cur, f"SELECT count(*) FROM rv_{src.table} WHERE txt IS NULL")
        if empty:
            ctx.notes.append(f"{src.name}: {empty} reviews have no text; kept with their rating.")
        ctx.stage("events", f"""SELECT 'rv:' || ? || ':' || md5(concat_ws('|', rating, ts, product_id, reviewer, txt))
                || '#' || row_number() OVER (PARTITION BY rating, ts, product_id, reviewer, txt ORDER BY _row) AS event_id,
            coalesce(reviewer, ?) AS user_id, product_id, 'review' AS event_type, ts, NULL::INTEGER AS quantity,
            NULL::DOUBLE AS price, rating, txt AS review_text, NULL::VARCHAR AS order_id,
            NULL::VARCHAR AS campaign_id, ? AS _file, _row,
            CASE WHEN raw_ts IS NULL THEN 'date is missing'
                 WHEN ts IS NULL THEN 'date ''' || raw_ts || ''' is not a date'
                 WHEN rating IS NULL THEN 'rating is missing or not a number' END AS _reject
            FROM rv_{src.table}""", [_safe(stem), anon, src.name])
        if product:
            ctx.stage("products", f"""SELECT product_id, arg_min(ptitle, _row) AS title, NULL::VARCHAR AS category,
                NULL::DOUBLE AS price, NULL::VARCHAR AS description, ? AS _file, min(_row) AS _row,
                NULL::VARCHAR AS _reject FROM rv_{src.table} WHERE product_id IS NOT NULL GROUP BY product_id""",
                      [src.name])
        if user:
            ctx.stage("users", f"""SELECT reviewer AS user_id, NULL::DATE AS signup_date, NULL::VARCHAR AS region,
                NULL::VARCHAR AS first_name, NULL::VARCHAR AS email, NULL::BOOLEAN AS accepts_marketing,
                ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject FROM rv_{src.table}
                WHERE reviewer IS NOT NULL GROUP BY reviewer""", [src.name])


def stage_datafiniti(ctx: StageContext) -> None:
    for src in ctx.sources:
        pid = ctx.col(src, "id", "asins", field="product_id", required=True)
        name = ctx.col(src, "name", field="products.title")
        cats = ctx.col(src, "categories", field="products.category")
        rating = ctx.num(src, ctx.col(src, "reviews.rating", field="rating", required=True))
        date_col = ctx.col(src, "reviews.date", field="ts", required=True)
        ts = ctx.ts(src, date_col)
        text = ctx.col(src, "reviews.text", field="review_text", required=True)
        title = ctx.col(src, "reviews.title", field="review_text")
        user = ctx.col(src, "reviews.username", field="user_id")
        t = f"df_{src.table}"
        ctx.temp(t, f"""SELECT _row, cl_null({pid}) AS pid, {f'cl_null({name})' if name else 'NULL'} AS pname,
            {f"split_part(cl_null({cats}), ',', 1)" if cats else 'NULL'} AS category, {rating} AS rating,
            {ts} AS ts, cl_null({date_col}) AS raw_ts,
            nullif(concat_ws(E'\\n', {f'cl_null({title})' if title else 'NULL'}, cl_null({text})), '') AS txt,
            'datafiniti:' || {f'cl_null({user})' if user else 'NULL'} AS reviewer FROM {src.table}""")
        no_rating = single_value(ctx.cur, f"SELECT count(*) FROM {t} WHERE rating IS NULL")
        if no_rating:
            ctx.notes.append(f"{src.name}: {no_rating} reviews have no rating; kept as text-only reviews.")
        ctx.stage("events", f"""SELECT 'df:' || md5(concat_ws('|', pid, reviewer, raw_ts, txt)) || '#'
                || row_number() OVER (PARTITION BY pid, reviewer, raw_ts, txt ORDER BY _row) AS event_id,
            coalesce(reviewer, 'anonymous:datafiniti') AS user_id, pid AS product_id, 'review' AS event_type, ts,
            NULL::INTEGER AS quantity, NULL::DOUBLE AS price, rating, txt AS review_text,
            NULL::VARCHAR AS order_id, NULL::VARCHAR AS campaign_id, ? AS _file, _row,
            CASE WHEN pid IS NULL THEN 'product id is missing'
                 WHEN raw_ts IS NULL THEN 'reviews.date is missing: a review needs a date'
                 WHEN ts IS NULL THEN 'reviews.date ''' || raw_ts || ''' is not a date' END AS _reject
            FROM {t}""", [src.name])
        ctx.stage("products", f"""SELECT pid AS product_id, coalesce(arg_min(pname, _row), pid) AS title,
            arg_min(category, _row) AS category, NULL::DOUBLE AS price, NULL::VARCHAR AS description,
            ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject FROM {t} WHERE pid IS NOT NULL GROUP BY pid""",
                  [src.name])
        ctx.stage("users", f"""SELECT reviewer AS user_id, NULL::DATE AS signup_date, NULL::VARCHAR AS region,
            NULL::VARCHAR AS first_name, NULL::VARCHAR AS email, NULL::BOOLEAN AS accepts_marketing,
            ? AS _file, min(_row) AS _row, NULL::VARCHAR AS _reject FROM {t}
            WHERE reviewer IS NOT NULL GROUP BY reviewer""", [src.name])


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in text)


AMAZON = Format("reviews", "Review export (rating, date, text)", detect_amazon, stage_amazon)
DATAFINITI = Format("datafiniti_reviews", "Datafiniti product reviews", detect_datafiniti, stage_datafiniti)
