"""Campaign results: user-level rows into ``exposures``, aggregate rows into ``variant_results``.

Both keep the copy text: a variant id the database does not know, given with
its copy text, becomes a ``variants`` row (origin 'imported'); copy text with
no id gets a stable id from its hash. Variant ids that match nothing and come
without copy text are imported and reported, never silently dropped. An
optional ``strategy_id`` column passes through for the learning loop.
"""

from __future__ import annotations

from core.errors import ValidationError
from core.ingest.context import NULL_TEXT, Source, StageContext
from core.ingest.formats import Format
from core.ingest.formats.attributes import stage_attributes
from core.ingest.mapping import TARGET_FIELDS, find_column
from core.migrations import CHANNELS
from core.store import single_value

_CHANNEL_ALIASES = {"email": "email_subject", "subject": "email_subject", "mail": "email_subject",
                    "notification": "push", "text": "sms", "web": "banner", "display": "banner"}


def _has(headers: set[str], target: str, fld: str) -> bool:
    return find_column(headers, TARGET_FIELDS[target][fld]) is not None


def detect_user_level(headers: set[str]) -> bool:
    t = "exposures"
    return (_has(headers, t, "user_id") and (_has(headers, t, "variant_id") or _has(headers, t, "copy_text"))
            and (_has(headers, t, "converted") or _has(headers, t, "clicked") or _has(headers, t, "opened"))
            and not _has(headers, "variant_results", "sends") and "event_type" not in headers)


def detect_aggregate(headers: set[str]) -> bool:
    t = "variant_results"
    # Any measured outcome makes a results file: a headline test has clicks and no conversions.
    return ((_has(headers, t, "variant_id") or _has(headers, t, "copy_text")) and _has(headers, t, "sends")
            and any(_has(headers, t, f) for f in ("conversions", "clicks", "opens")))



def _channel_sql(ctx: StageContext, src: Source, target: str) -> str:
    raw = ctx.text(src, target, "channel")
    aliases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in _CHANNEL_ALIASES.items())
    known = ", ".join(f"'{c}'" for c in CHANNELS)
    default = ctx.options.default_channel
    if default not in CHANNELS:  # an allow-list, and the value is still bound, not pasted
        raise ValidationError(f"unknown default channel {default!r}; choose one of {', '.join(CHANNELS)}")
    return (f"CASE WHEN lower({raw}) IN ({known}) THEN lower({raw}) "
            f"ELSE coalesce(CASE lower({raw}) {aliases} END, {ctx.const(default)}) END")


def _variant_sql(ctx: StageContext, src: Source, target: str) -> tuple[str, str]:
    variant, copy = ctx.text(src, target, "variant_id"), ctx.text(src, target, "copy_text")
    if variant == NULL_TEXT and copy == NULL_TEXT:
        raise ValidationError(f"{src.name}: campaign results need a variant id or the copy text column.")
    campaign = ctx.text(src, target, "campaign_id")
    # The same text in two campaigns is two variants (each compared with its own siblings); without
    # a campaign the id is the text's hash alone, as before, so earlier imports still match.
    key = f"CASE WHEN {campaign} IS NULL THEN {copy} ELSE {campaign} || chr(31) || {copy} END"
    if campaign == NULL_TEXT and target == "variant_results":
        ctx.notes.append(f"{src.name}: no campaign (test) column, so each variant counts as its own campaign and "
                         "variants cannot be compared with their siblings; map one (campaign_id=COLUMN) if the "
                         "file has it.")
    return f"coalesce({variant}, 'imp-' || left(md5({key}), 12))", copy


def _stage_variants(ctx: StageContext, src: Source, t: str) -> None:
    """Variants for copy text the database does not hold yet; report ids that match nothing."""
    ctx.stage("variants", f"""SELECT variant_id, arg_min(campaign_id, _row) AS campaign_id,
        arg_min(channel, _row) AS channel, arg_min(copy_text, _row) AS copy_text, ? AS _file, min(_row) AS _row,
        NULL::VARCHAR AS _reject FROM {t} WHERE copy_text IS NOT NULL AND variant_id IS NOT NULL
        GROUP BY variant_id""", [src.name])
    unmatched = ctx.cur.execute(f"""SELECT DISTINCT variant_id FROM {t} WHERE variant_id IS NOT NULL
        AND variant_id NOT IN (SELECT variant_id FROM variants)
        AND variant_id NOT IN (SELECT variant_id FROM stg_variants) ORDER BY 1""").fetchall()
    if unmatched:
        ids = ", ".join(r[0] for r in unmatched[:10])
        ctx.issues.append(
            f"{src.name}: {len(unmatched)} variant id(s) match no known variant and come without copy text "
            f"({ids}{'…' if len(unmatched) > 10 else ''}); their results are imported but cannot feed the "
            "predictor until the variants exist. Add a copy text column to import them as variants."
        )


# A file without send dates (an experiment's table of customers and outcomes) still needs a date
# on each exposure. A fixed one, not the import's clock: importing the same results again must
# find the same rows (the duplicate check includes the date), not add a second copy of each send.
PLACEHOLDER_SENT = "2000-01-01"


def _default_sent(ctx: StageContext, src: Source) -> str:
    given = ctx.default("sent_at")
    value = given or PLACEHOLDER_SENT
    try:
        from datetime import date

        date.fromisoformat(value[:10])
    except ValueError as err:
        raise ValidationError(f"{src.name}: the default sent date {value!r} is not a date (use YYYY-MM-DD)") from err
    ctx.notes.append(f"{src.name}: no sent date column; every send is dated {value[:10]}"
                     + ("" if given else " (a placeholder: give the real date as the sent_at default)") + ".")
    return f"CAST({ctx.const(value[:10])} AS TIMESTAMP)"


def stage_user_level(ctx: StageContext) -> None:
    t_ = "exposures"
    for src in ctx.sources:
        variant, copy = _variant_sql(ctx, src, t_)
        user = ctx.field(src, t_, "user_id")
        sent = ctx.field(src, t_, "sent_at")
        if not user:
            raise ValidationError(f"{src.name}: user-level results need a user id column.")
        sent_sql = ctx.ts(src, sent) if sent else _default_sent(ctx, src)
        conv, rev = ctx.field(src, t_, "converted"), ctx.field(src, t_, "revenue")
        if not conv and not rev:
            raise ValidationError(f"{src.name}: user-level results need a converted (yes/no) or revenue column.")
        revenue = ctx.num(src, rev) if rev else "NULL"
        converted = f"coalesce(cl_bool({conv}), cl_num({conv}, FALSE) > 0)" if conv else f"({revenue} > 0)"
        if not conv:
            ctx.notes.append(f"{src.name}: no converted column; a row with revenue > 0 counts as converted.")
        opened, clicked = ctx.field(src, t_, "opened"), ctx.field(src, t_, "clicked")
        campaign = ctx.text(src, t_, "campaign_id")
        if campaign == NULL_TEXT:
            # The arms of one results file were sent together: one campaign, so they are compared
            # with each other (each arm its own campaign would leave nothing to compare). It is named
            # by its arms, not the file, so the same results imported again (renamed, or with another
            # column) find their rows instead of adding a second campaign.
            arms = single_value(ctx.cur, f"SELECT string_agg(DISTINCT v, ' / ' ORDER BY v) FROM "
                                         f"(SELECT {variant} AS v FROM {src.table})") or "results"
            name = f"experiment: {arms}"[:200]
            campaign = ctx.const(name)
            ctx.notes.append(f"{src.name}: no campaign column; all its rows are one campaign, {name!r}.")
        flag = lambda col: f"coalesce(cl_bool({col}), cl_num({col}, FALSE) > 0)" if col else "NULL"  # noqa: E731
        t = f"cr_{src.table}"
        ctx.temp(t, f"""SELECT _row, cl_null({user}) AS user_id, {variant} AS variant_id, {copy} AS copy_text,
            {_channel_sql(ctx, src, t_)} AS channel, {campaign} AS campaign_id,
            {sent_sql} AS sent_at, {f'cl_null({sent})' if sent else 'NULL::VARCHAR'} AS raw_sent,
            {flag(opened)} AS opened, {flag(clicked)} AS clicked, {converted} AS converted,
            {revenue} AS revenue, {ctx.text(src, t_, 'strategy_id')} AS strategy_id FROM {src.table}""")
        _stage_variants(ctx, src, t)
        stage_attributes(ctx, src, f"cl_null({user})")
        ctx.stage("exposures", f"""SELECT user_id, variant_id, campaign_id, sent_at, opened, clicked, converted,
            coalesce(revenue, 0) AS revenue, strategy_id, ? AS _file, _row,
            CASE WHEN raw_sent IS NOT NULL AND sent_at IS NULL THEN 'sent date ''' || raw_sent || ''' is not a date'
            END AS _reject FROM {t}""", [src.name])


def stage_aggregate(ctx: StageContext) -> None:
    t_ = "variant_results"
    for src in ctx.sources:
        variant, copy = _variant_sql(ctx, src, t_)

        def count(fld: str) -> str:
            col = ctx.field(src, t_, fld)  # noqa: B023 (called within this iteration)
            return f"CAST(round({ctx.num(src, col)}) AS BIGINT)" if col else "NULL::BIGINT"  # noqa: B023

        rev = ctx.field(src, t_, "revenue")
        missing = [f for f in ("opens", "clicks", "conversions") if not ctx.field(src, t_, f)]
        if len(missing) == 3:
            raise ValidationError(f"{src.name}: aggregate results need at least one outcome count column "
                                  "(opens, clicks or conversions) besides the sends.")
        if missing:
            ctx.notes.append(f"{src.name}: no {' or '.join(missing)} column; those outcomes are left empty "
                             "(unknown, not zero) and models of them skip these rows.")
        start, end = ctx.field(src, t_, "period_start"), ctx.field(src, t_, "period_end")
        segment = ctx.text(src, t_, "segment_name")
        t = f"ag_{src.table}"
        ctx.temp(t, f"""SELECT _row, {variant} AS variant_id, {copy} AS copy_text,
            {_channel_sql(ctx, src, t_)} AS channel, {ctx.text(src, t_, 'campaign_id')} AS campaign_id,
            coalesce({segment}, 'All customers') AS segment_name, {count('sends')} AS sends,
            {count('opens')} AS opens, {count('clicks')} AS clicks, {count('conversions')} AS conversions,
            {ctx.num(src, rev) if rev else 'NULL'} AS revenue,
            {ctx.ts(src, start) if start else 'NULL::TIMESTAMP'} AS period_start,
            {ctx.ts(src, end) if end else 'NULL::TIMESTAMP'} AS period_end,
            {ctx.text(src, t_, 'strategy_id')} AS strategy_id FROM {src.table}""")
        _stage_variants(ctx, src, t)
        # Rows of one variant, segment and period (the same headline shown with two images, say)
        # are one result: their counts are added, so a second row is not dropped as a duplicate.
        key = "variant_id, segment_name, period_start, period_end, strategy_id"
        merged = single_value(ctx.cur, f"SELECT count(*) - count(DISTINCT ({key})) FROM {t}")
        if merged:
            ctx.notes.append(f"{src.name}: {merged:,} row(s) repeat the variant, segment and period of an earlier row "
                             "(e.g. the same copy with another image); their counts were added to that row's.")
        ctx.stage("variant_results", f"""SELECT {key}, sum(sends) AS sends, sum(opens) AS opens,
            sum(clicks) AS clicks, sum(conversions) AS conversions, coalesce(sum(revenue), 0) AS revenue,
            ? AS _file, min(_row) AS _row,
            CASE WHEN bool_or(sends IS NULL OR sends < 0 OR opens < 0 OR clicks < 0 OR conversions < 0)
                 AND count(*) > 1 THEN 'a row added into this one has a missing or negative count' END AS _reject
            FROM {t} GROUP BY {key}""", [src.name])


USER_LEVEL = Format("campaign_results", "Campaign results, one row per user", detect_user_level, stage_user_level)
AGGREGATE = Format("campaign_aggregate", "Campaign results per variant (aggregate)", detect_aggregate,
                   stage_aggregate)
