"""Forward-only schema migrations for the CopyLift database.

Each migration is a list of SQL statements applied in one transaction; the
``schema_version`` table records which have run. Add new migrations at the end
of ``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

CHANNELS = ("email_subject", "push", "sms", "banner")
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase", "review", "return")
STRATEGY_STATUSES = ("draft", "submitted", "approved", "sent_back", "exported", "measured")

_channels = ", ".join(f"'{c}'" for c in CHANNELS)
_events = ", ".join(f"'{e}'" for e in EVENT_TYPES)
_statuses = ", ".join(f"'{s}'" for s in STRATEGY_STATUSES)

MIGRATION_1 = [
    """CREATE TABLE users (
        user_id VARCHAR PRIMARY KEY,
        signup_date DATE,
        region VARCHAR,
        device VARCHAR,
        age_band VARCHAR,
        loyalty_tier VARCHAR,
        first_name VARCHAR,
        email VARCHAR,
        accepts_marketing BOOLEAN,
        source VARCHAR NOT NULL DEFAULT 'sample',
        import_id INTEGER
    )""",
    """CREATE TABLE products (
        product_id VARCHAR PRIMARY KEY,
        title VARCHAR NOT NULL,
        category VARCHAR,
        price DOUBLE CHECK (price IS NULL OR price >= 0),
        description VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'sample',
        import_id INTEGER
    )""",
    # No primary key on events: an ART index on tens of millions of rows costs
    # more load time and memory than it is worth; importers deduplicate on
    # natural keys (event_id, order_id + line) before inserting.
    f"""CREATE TABLE events (
        event_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        product_id VARCHAR,
        event_type VARCHAR NOT NULL CHECK (event_type IN ({_events})),
        ts TIMESTAMP NOT NULL,
        quantity INTEGER,
        price DOUBLE,
        rating DOUBLE CHECK (rating IS NULL OR (rating >= 1 AND rating <= 5)),
        review_text VARCHAR,
        order_id VARCHAR,
        campaign_id VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'sample',
        import_id INTEGER
    )""",
    f"""CREATE TABLE campaigns (
        campaign_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        channel VARCHAR CHECK (channel IS NULL OR channel IN ({_channels})),
        sent_at TIMESTAMP,
        product_id VARCHAR,
        category VARCHAR,
        offer_type VARCHAR,
        offer_value DOUBLE,
        promo_code VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'sample',
        import_id INTEGER
    )""",
    f"""CREATE TABLE variants (
        variant_id VARCHAR PRIMARY KEY,
        campaign_id VARCHAR,
        channel VARCHAR NOT NULL CHECK (channel IN ({_channels})),
        copy_text VARCHAR NOT NULL,
        offer_type VARCHAR,
        offer_value DOUBLE,
        promo_code VARCHAR,
        product_id VARCHAR,
        category VARCHAR,
        is_control BOOLEAN NOT NULL DEFAULT FALSE,
        origin VARCHAR NOT NULL DEFAULT 'sample',
        in_working_set BOOLEAN NOT NULL DEFAULT FALSE,
        brief_json VARCHAR,
        settings_json VARCHAR,
        model_name VARCHAR,
        seed BIGINT,
        guardrails_json VARCHAR,
        override_reason VARCHAR,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        import_id INTEGER
    )""",
    """CREATE TABLE exposures (
        user_id VARCHAR NOT NULL,
        variant_id VARCHAR NOT NULL,
        campaign_id VARCHAR,
        sent_at TIMESTAMP NOT NULL,
        opened BOOLEAN,
        clicked BOOLEAN,
        converted BOOLEAN NOT NULL,
        revenue DOUBLE NOT NULL DEFAULT 0 CHECK (revenue >= 0),
        strategy_id VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'sample',
        import_id INTEGER
    )""",
    """CREATE TABLE variant_results (
        variant_id VARCHAR NOT NULL,
        segment_name VARCHAR NOT NULL DEFAULT 'All customers',
        sends BIGINT NOT NULL CHECK (sends >= 0),
        opens BIGINT CHECK (opens IS NULL OR opens >= 0),
        clicks BIGINT CHECK (clicks IS NULL OR clicks >= 0),
        conversions BIGINT NOT NULL CHECK (conversions >= 0 AND conversions <= sends),
        revenue DOUBLE NOT NULL DEFAULT 0,
        period_start TIMESTAMP,
        period_end TIMESTAMP,
        strategy_id VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'import',
        import_id INTEGER
    )""",
    """CREATE TABLE segments (
        segment_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        rules_json VARCHAR NOT NULL,
        is_builtin BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (segment_id, version)
    )""",
    f"""CREATE TABLE strategies (
        strategy_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        name VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ({_statuses})),
        plan_json VARCHAR NOT NULL,
        author VARCHAR,
        comment VARCHAR,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (strategy_id, version)
    )""",
    "CREATE SEQUENCE import_id_seq START 1",
    """CREATE TABLE import_log (
        import_id INTEGER PRIMARY KEY,
        file_name VARCHAR NOT NULL,
        file_hash VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        encoding VARCHAR,
        rows_accepted BIGINT NOT NULL DEFAULT 0,
        rows_rejected BIGINT NOT NULL DEFAULT 0,
        tables_json VARCHAR,
        report_json VARCHAR,
        imported_by VARCHAR,
        imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        status VARCHAR NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'undone'))
    )""",
    """CREATE TABLE column_mappings (
        name VARCHAR PRIMARY KEY,
        target VARCHAR NOT NULL,
        mapping_json VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )""",
    """CREATE TABLE brand_voices (
        name VARCHAR PRIMARY KEY,
        profile_json VARCHAR NOT NULL,
        updated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )""",
    """CREATE TABLE model_versions (
        version INTEGER PRIMARY KEY,
        outcome VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        data_hash VARCHAR NOT NULL,
        settings_hash VARCHAR NOT NULL,
        file_path VARCHAR NOT NULL,
        file_sha256 VARCHAR NOT NULL,
        metrics_json VARCHAR,
        note VARCHAR
    )""",
    "CREATE TABLE settings (key VARCHAR PRIMARY KEY, value_json VARCHAR NOT NULL)",
]

# Segments: per-user features materialized per as-of date (owner: core/segments/features.py).
# ``user_feature_runs`` records which as-of dates are stored and the data fingerprint they
# were computed from, so a stale run is recomputed after an import changes the data.
MIGRATION_SEGMENT_FEATURES = [
    """CREATE TABLE user_features (
        as_of TIMESTAMP NOT NULL,
        user_id VARCHAR NOT NULL,
        recency_days INTEGER,
        frequency_90d INTEGER NOT NULL,
        frequency_180d INTEGER NOT NULL,
        monetary_180d DOUBLE NOT NULL,
        orders_total INTEGER NOT NULL,
        monetary_total DOUBLE NOT NULL,
        views_7d INTEGER NOT NULL,
        views_30d INTEGER NOT NULL,
        clicks_7d INTEGER NOT NULL,
        clicks_30d INTEGER NOT NULL,
        carts_7d INTEGER NOT NULL,
        carts_30d INTEGER NOT NULL,
        cart_abandoner BOOLEAN NOT NULL,
        favourite_category VARCHAR,
        favourite_category_share DOUBLE,
        avg_order_value DOUBLE,
        discount_sensitivity DOUBLE,
        review_count INTEGER NOT NULL,
        mean_rating DOUBLE,
        tenure_days INTEGER,
        device VARCHAR,
        region VARCHAR,
        loyalty_tier VARCHAR,
        age_band VARCHAR,
        open_rate DOUBLE,
        click_rate DOUBLE,
        r_score INTEGER,
        f_score INTEGER,
        m_score INTEGER,
        fm_score INTEGER
    )""",
    """CREATE TABLE user_feature_runs (
        as_of TIMESTAMP PRIMARY KEY,
        fingerprint VARCHAR NOT NULL,
        users BIGINT NOT NULL,
        computed_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )""",
]

# Segments: past campaign response per user and channel, stored with each feature run so a
# profile sums a few hundred thousand rows instead of re-reading every exposure.
MIGRATION_SEGMENT_RESPONSE = [
    """CREATE TABLE user_channel_response (
        as_of TIMESTAMP NOT NULL,
        user_id VARCHAR NOT NULL,
        channel VARCHAR NOT NULL,
        sends BIGINT NOT NULL,
        n_open BIGINT NOT NULL,
        opens BIGINT NOT NULL,
        n_click BIGINT NOT NULL,
        clicks BIGINT NOT NULL,
        conversions BIGINT NOT NULL
    )""",
]

# Experiments (issue 17): aggregate results with clicks only (no conversions column), and the
# customer columns an imported file has that CopyLift has no field for, kept typed and named.
MIGRATION_EXPERIMENTS = [
    "ALTER TABLE variant_results ALTER COLUMN conversions DROP NOT NULL",
    """CREATE TABLE user_attributes (
        user_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        kind VARCHAR NOT NULL CHECK (kind IN ('numeric', 'categorical')),
        num_value DOUBLE,
        text_value VARCHAR,
        source VARCHAR NOT NULL DEFAULT 'import',
        import_id INTEGER
    )""",
]


# Decision service (owner: core/api/): API keys (only a SHA-256 of each secret is kept), the
# sticky per-user decisions, the outcome events it ingested (idempotent by event id), every
# live allocation update with the counts it used, the background retrains it started, and
# per-minute counts of refused requests.
API_EVENT_TYPES = ("delivery", "open", "click", "conversion", "revenue")
_api_events = ", ".join(f"'{e}'" for e in API_EVENT_TYPES)
MIGRATION_API = [
    """CREATE TABLE api_keys (
        key_id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        scopes VARCHAR NOT NULL,
        secret_sha256 VARCHAR NOT NULL,
        rate_per_s DOUBLE NOT NULL CHECK (rate_per_s > 0),
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        revoked_at TIMESTAMP
    )""",
    """CREATE TABLE api_decisions (
        strategy_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        strategy_version INTEGER NOT NULL,
        allocation_no INTEGER NOT NULL,
        segment_name VARCHAR NOT NULL,
        variant_id VARCHAR NOT NULL,
        copy_variant_id VARCHAR,
        is_control BOOLEAN NOT NULL,
        action VARCHAR NOT NULL,
        key_id VARCHAR,
        decided_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )""",  # no key: the one serving process keeps decisions unique (an index made each insert ~5x dearer)
    f"""CREATE TABLE api_events (
        event_id VARCHAR PRIMARY KEY,
        event_type VARCHAR NOT NULL CHECK (event_type IN ({_api_events})),
        strategy_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        segment_name VARCHAR NOT NULL,
        variant_id VARCHAR NOT NULL,
        value DOUBLE,
        ts TIMESTAMP NOT NULL,
        key_id VARCHAR,
        received_at TIMESTAMP NOT NULL DEFAULT current_timestamp
    )""",
    """CREATE TABLE api_allocations (
        strategy_id VARCHAR NOT NULL,
        update_no INTEGER NOT NULL,
        strategy_version INTEGER NOT NULL,
        segment_name VARCHAR NOT NULL,
        variant_id VARCHAR NOT NULL,
        is_control BOOLEAN NOT NULL,
        share DOUBLE NOT NULL,
        sends BIGINT NOT NULL,
        conversions BIGINT NOT NULL,
        posterior_mean DOUBLE,
        prob_best DOUBLE,
        trigger VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (strategy_id, update_no, segment_name, variant_id)
    )""",
    """CREATE TABLE api_retrains (
        run_no INTEGER PRIMARY KEY,
        strategy_id VARCHAR,
        trigger VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('running', 'done', 'failed')),
        old_version INTEGER,
        new_version INTEGER,
        report_json VARCHAR,
        error VARCHAR,
        started_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        finished_at TIMESTAMP
    )""",
    """CREATE TABLE api_refusals (
        minute TIMESTAMP NOT NULL,
        status INTEGER NOT NULL,
        reason VARCHAR NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (minute, status, reason)
    )""",
]

MIGRATIONS: list[list[str]] = [MIGRATION_1, MIGRATION_SEGMENT_FEATURES, MIGRATION_SEGMENT_RESPONSE,
                               MIGRATION_EXPERIMENTS, MIGRATION_API]

# Every table a caller may name; anything else is refused before it reaches SQL.
TABLES = (
    "users",
    "products",
    "events",
    "campaigns",
    "variants",
    "exposures",
    "variant_results",
    "segments",
    "strategies",
    "import_log",
    "column_mappings",
    "brand_voices",
    "model_versions",
    "settings",
    "user_attributes",
)
DATA_TABLES = ("users", "products", "events", "campaigns", "variants", "exposures", "variant_results",
               "user_attributes")
