"""The SQL behind the behaviour features: one template over events, exposures and variants (see ``core.segments.features``)."""

from __future__ import annotations

# Sends, opens, clicks and conversions per user and channel before $as_of. Stored next to
# each feature run (table ``user_channel_response``) for the profile's response chart.
RESPONSE_SQL = """
SELECT x.user_id, v.channel,
       count(*) AS sends,
       count(x.opened) AS n_open, count(*) FILTER (WHERE x.opened) AS opens,
       count(x.clicked) AS n_click, count(*) FILTER (WHERE x.clicked) AS clicks,
       count(*) FILTER (WHERE x.converted) AS conversions
FROM exposures x
JOIN variants v ON v.variant_id = x.variant_id
WHERE x.sent_at < $as_of
GROUP BY ALL
"""

# One statement; $as_of and the thresholds are bound parameters. ``{response}`` is either
# the response query inline or the stored rows for this as-of (both constant text).
FEATURES_TEMPLATE = """
WITH
orders AS (
    SELECT e.user_id,
           max(e.ts) AS ts,
           sum(coalesce(e.price, 0) * coalesce(e.quantity, 1)) AS value,
           bool_or(coalesce(list_contains($discount_types, lower(c.offer_type)), FALSE)) AS discounted
    FROM events e
    LEFT JOIN campaigns c ON c.campaign_id = e.campaign_id
    WHERE e.event_type = 'purchase' AND e.ts <= $as_of
    GROUP BY e.user_id, coalesce(e.order_id, e.event_id)
),
buyers AS (
    SELECT user_id,
           date_diff('day', CAST(max(ts) AS DATE), CAST($as_of AS DATE)) AS recency_days,
           max(ts) AS last_order_ts,
           count(*) FILTER (WHERE ts > $as_of - INTERVAL 90 DAY) AS frequency_90d,
           count(*) FILTER (WHERE ts > $as_of - INTERVAL 180 DAY) AS frequency_180d,
           coalesce(sum(value) FILTER (WHERE ts > $as_of - INTERVAL 180 DAY), 0) AS monetary_180d,
           count(*) AS orders_total,
           sum(value) AS monetary_total,
           avg(CAST(discounted AS DOUBLE)) AS discount_sensitivity
    FROM orders
    GROUP BY user_id
),
activity AS (
    SELECT user_id,
           count(*) FILTER (WHERE event_type = 'view' AND ts > $as_of - INTERVAL 7 DAY) AS views_7d,
           count(*) FILTER (WHERE event_type = 'view' AND ts > $as_of - INTERVAL 30 DAY) AS views_30d,
           count(*) FILTER (WHERE event_type = 'click' AND ts > $as_of - INTERVAL 7 DAY) AS clicks_7d,
           count(*) FILTER (WHERE event_type = 'click' AND ts > $as_of - INTERVAL 30 DAY) AS clicks_30d,
           count(*) FILTER (WHERE event_type = 'add_to_cart' AND ts > $as_of - INTERVAL 7 DAY) AS carts_7d,
           count(*) FILTER (WHERE event_type = 'add_to_cart' AND ts > $as_of - INTERVAL 30 DAY) AS carts_30d,
           max(ts) FILTER (WHERE event_type = 'add_to_cart') AS last_cart_ts,
           count(*) FILTER (WHERE event_type = 'review') AS review_count,
           avg(rating) FILTER (WHERE event_type = 'review') AS mean_rating,
           min(ts) AS first_ts
    FROM events
    WHERE ts <= $as_of
    GROUP BY user_id
),
category_counts AS (
    SELECT e.user_id, p.category, count(*) AS n
    FROM events e
    JOIN products p ON p.product_id = e.product_id
    WHERE e.ts <= $as_of AND e.ts > $as_of - INTERVAL 180 DAY
      AND e.event_type IN ('view', 'click', 'add_to_cart', 'purchase')
      AND p.category IS NOT NULL
    GROUP BY ALL
),
favourite AS (
    SELECT user_id,
           first(category ORDER BY n DESC, category) AS favourite_category,
           max(n) / sum(n) AS favourite_category_share
    FROM category_counts
    GROUP BY user_id
),
engagement AS (
    SELECT user_id,
           sum(opens) / nullif(sum(n_open), 0) AS open_rate,
           sum(clicks) / nullif(sum(n_click), 0) AS click_rate
    FROM {response}
    GROUP BY user_id
),
cuts AS (
    SELECT count(*) AS n_buyers,
           quantile_cont(recency_days, [0.25, 0.5, 0.75]) AS rq,
           quantile_cont(orders_total, [0.25, 0.5, 0.75]) AS fq,
           quantile_cont(monetary_total, [0.25, 0.5, 0.75]) AS mq,
           median(monetary_total) AS m_median
    FROM buyers
),
scored AS (
    SELECT b.user_id,
           CASE WHEN c.n_buyers >= $min_buyers AND c.rq[1] < c.rq[2] AND c.rq[2] < c.rq[3]
                THEN 4 - (CAST(b.recency_days > c.rq[1] AS INTEGER) + CAST(b.recency_days > c.rq[2] AS INTEGER)
                          + CAST(b.recency_days > c.rq[3] AS INTEGER))
                ELSE 4 - (CAST(b.recency_days > $r_cut[1] AS INTEGER) + CAST(b.recency_days > $r_cut[2] AS INTEGER)
                          + CAST(b.recency_days > $r_cut[3] AS INTEGER)) END AS r_score,
           CASE WHEN c.n_buyers >= $min_buyers AND c.fq[1] < c.fq[2] AND c.fq[2] < c.fq[3]
                THEN 1 + CAST(b.orders_total > c.fq[1] AS INTEGER) + CAST(b.orders_total > c.fq[2] AS INTEGER)
                       + CAST(b.orders_total > c.fq[3] AS INTEGER)
                ELSE 1 + CAST(b.orders_total >= $f_cut[1] AS INTEGER) + CAST(b.orders_total >= $f_cut[2] AS INTEGER)
                       + CAST(b.orders_total >= $f_cut[3] AS INTEGER) END AS f_score,
           CASE WHEN c.n_buyers >= $min_buyers AND c.mq[1] < c.mq[2] AND c.mq[2] < c.mq[3]
                THEN 1 + CAST(b.monetary_total > c.mq[1] AS INTEGER) + CAST(b.monetary_total > c.mq[2] AS INTEGER)
                       + CAST(b.monetary_total > c.mq[3] AS INTEGER)
                ELSE 1 + CAST(b.monetary_total >= $m_mult[1] * c.m_median AS INTEGER)
                       + CAST(b.monetary_total > $m_mult[2] * c.m_median AS INTEGER)
                       + CAST(b.monetary_total > $m_mult[3] * c.m_median AS INTEGER) END AS m_score
    FROM buyers b, cuts c
)
SELECT CAST($as_of AS TIMESTAMP) AS as_of,
       u.user_id,
       CAST(b.recency_days AS INTEGER) AS recency_days,
       CAST(coalesce(b.frequency_90d, 0) AS INTEGER) AS frequency_90d,
       CAST(coalesce(b.frequency_180d, 0) AS INTEGER) AS frequency_180d,
       coalesce(b.monetary_180d, 0.0) AS monetary_180d,
       CAST(coalesce(b.orders_total, 0) AS INTEGER) AS orders_total,
       coalesce(b.monetary_total, 0.0) AS monetary_total,
       CAST(coalesce(a.views_7d, 0) AS INTEGER) AS views_7d,
       CAST(coalesce(a.views_30d, 0) AS INTEGER) AS views_30d,
       CAST(coalesce(a.clicks_7d, 0) AS INTEGER) AS clicks_7d,
       CAST(coalesce(a.clicks_30d, 0) AS INTEGER) AS clicks_30d,
       CAST(coalesce(a.carts_7d, 0) AS INTEGER) AS carts_7d,
       CAST(coalesce(a.carts_30d, 0) AS INTEGER) AS carts_30d,
       coalesce(a.last_cart_ts > $as_of - INTERVAL 7 DAY
                AND (b.last_order_ts IS NULL OR b.last_order_ts < a.last_cart_ts), FALSE) AS cart_abandoner,
       f.favourite_category,
       f.favourite_category_share,
       b.monetary_total / b.orders_total AS avg_order_value,
       b.discount_sensitivity,
       CAST(coalesce(a.review_count, 0) AS INTEGER) AS review_count,
       a.mean_rating,
       CAST(date_diff('day', coalesce(u.signup_date, CAST(a.first_ts AS DATE)), CAST($as_of AS DATE))
            AS INTEGER) AS tenure_days,
       u.device,
       u.region,
       u.loyalty_tier,
       u.age_band,
       g.open_rate,
       g.click_rate,
       s.r_score,
       s.f_score,
       s.m_score,
       CAST(round((s.f_score + s.m_score) / 2.0) AS INTEGER) AS fm_score
FROM users u
LEFT JOIN buyers b USING (user_id)
LEFT JOIN activity a USING (user_id)
LEFT JOIN favourite f USING (user_id)
LEFT JOIN engagement g USING (user_id)
LEFT JOIN scored s USING (user_id)
WHERE u.signup_date IS NULL OR u.signup_date <= CAST($as_of AS DATE)
"""
FEATURES_SQL = FEATURES_TEMPLATE.replace("{response}", f"({RESPONSE_SQL})")
FEATURES_FROM_STORED_RESPONSE_SQL = FEATURES_TEMPLATE.replace(
    "{response}", "(SELECT * FROM user_channel_response WHERE as_of = $as_of)"
)
