"""Generic mapping: any CSV, with the analyst's column mapping, into one CopyLift table.

The mapping (see ``core.ingest.mapping``) is checked against the file's header,
then the file is staged by the adapter that owns the target table, reading
columns through the mapping instead of header synonyms.
"""

from __future__ import annotations

from core.errors import ValidationError
from core.ingest.context import StageContext
from core.ingest.formats import Format, campaigns, native
from core.ingest.mapping import validate_mapping

_STAGERS = {
    "events": native.stage_events,
    "users": native.stage_users,
    "products": native.stage_products,
    "exposures": campaigns.stage_user_level,
    "variant_results": campaigns.stage_aggregate,
}


def stage(ctx: StageContext) -> None:
    mapping = ctx.options.mapping
    if not mapping:
        raise ValidationError("the generic format needs a column mapping; map the columns on the Data page")
    for src in ctx.sources:
        validate_mapping(mapping, list(src.sniffed.columns))
        src.forced = {f: c for f, c in (mapping.get("columns") or {}).items() if c}
    _STAGERS[mapping["target"]](ctx)


FORMAT = Format("generic", "Generic (mapped columns)", lambda headers: False, stage)
