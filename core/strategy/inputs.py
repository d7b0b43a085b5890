"""Gather what a strategy needs from the database: segments, members, variants, predictions, message counts.

``core.strategy`` is pure (predictions in, plan out); this module is the glue
that the Strategy page calls: it resolves segments and their members, fetches
the working-set variants, asks the predictor for each segment, counts messages
for the frequency guard, and snapshots segments at export time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ValidationError
from core.prediction.scoring import predict_variants
from core.segments import EVERYONE, SegmentRef, list_segments, rules_to_dict, segment_members
from core.store import Store
from core.strategy.export import ExportBundle, SegmentSnapshot, export_strategy, snapshot_segment
from core.strategy.plan import Plan, PlanSettings, build_segment_plan, over_frequency
from core.strategy.records import ACTIVE_STATUSES, StrategyRecord, list_strategies, load_strategy


# -- segments --------------------------------------------------------------------
def segment_options(store: Store) -> list[SegmentRef]:
    """Everyone first, then every segment (built-ins, then saved) at its latest version."""
    return [EVERYONE] + [s.ref for s in list_segments(store)]


def average_order_value(members: pd.DataFrame) -> float:
    """Mean order value of the members who have ordered (0 when nobody has)."""
    if "avg_order_value" not in members.columns:
        return 0.0
    values = pd.to_numeric(members["avg_order_value"], errors="coerce")
    values = values[values > 0]
    return float(values.mean()) if len(values) else 0.0


def snapshot(store: Store, ref: SegmentRef) -> tuple[SegmentSnapshot, list[str]]:
    """The segment's definition, size and member hash now, plus its member ids."""
    seg = ref.resolve(store)
    ids = segment_members(store, seg)["user_id"].astype(str).tolist()
    rules = None if seg is None else rules_to_dict(seg.rules)
    desc = "every customer" if seg is None else seg.description
    return snapshot_segment(ref.segment_id, ref.version, ref.name, ids, rules=rules, description=desc), ids


# -- variants --------------------------------------------------------------------
def variant_options(store: Store) -> pd.DataFrame:
    """Working-set variants (to send) and control copies (for the holdout)."""
    return store.df(
        "SELECT variant_id, channel, copy_text, is_control, in_working_set, origin FROM variants "
        "WHERE in_working_set OR is_control ORDER BY in_working_set DESC, created_at DESC, variant_id"
    )


def variant_rows(store: Store, variant_ids: Sequence[str]) -> pd.DataFrame:
    return store.df(
        "SELECT * FROM variants WHERE variant_id IN (SELECT unnest(?::VARCHAR[])) ORDER BY variant_id",
        [list(dict.fromkeys(variant_ids))],
    )


def parse_manual_shares(text: str, variant_ids: Sequence[str]) -> dict[str, float]:
    """Read ``"v1=45, v2=45"`` (percent of the whole audience) into shares; say what is wrong."""
    shares: dict[str, float] = {}
    problems = []
    for part in filter(None, (p.strip() for p in (text or "").replace(";", ",").split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        try:
            pct = float(value.strip().rstrip("%"))
        except ValueError:
            pct = None
        if not sep or pct is None:
            problems.append(f"'{part}' is not 'variant_id=percent'")
        elif key not in variant_ids:
            problems.append(f"'{key}' is not one of the chosen variants ({', '.join(variant_ids)})")
        else:
            shares[key] = pct / 100.0
    if problems:
        raise ValidationError("Manual shares could not be read: " + "; ".join(problems), problems)
    return shares


# -- frequency guard -------------------------------------------------------------------
def message_counts(
    store: Store,
    settings: PlanSettings,
    *,
    exclude_strategy_id: str | None = None,
    members_of: Callable[[SegmentRef], Sequence[str]] | None = None,
) -> dict[str, int]:
    """Messages per user in the plan's window: past exposures plus other active strategies.

    Past: exposures sent in the ``window_days`` up to the send date. Planned:
    every member (minus exclusions) of each segment of another submitted,
    approved or exported strategy whose send date is within ``window_days``,
    counted as one message (holdouts included: a conservative count).
    """
    send = date.fromisoformat(settings.send_date)
    start = send - timedelta(days=settings.window_days)
    counts: dict[str, int] = {
        str(u): int(n)
        for u, n in store.rows(
            "SELECT user_id, count(*) FROM exposures WHERE sent_at > ? AND sent_at < ? GROUP BY user_id",
            [start, send + timedelta(days=1)],
        )
    }
    members_of = members_of or (lambda ref: ref.members(store)["user_id"].astype(str).tolist())
    cache: dict[tuple, Sequence[str]] = {}
    active = list_strategies(store)
    for sid in active[active["status"].isin(ACTIVE_STATUSES)]["strategy_id"]:
        if sid == exclude_strategy_id:
            continue
        other = load_strategy(store, sid).plan
        if abs((date.fromisoformat(other.settings.send_date) - send).days) >= settings.window_days:
            continue
        for seg in other.segments:
            key = (seg.segment.segment_id, seg.segment.version)
            if key not in cache:
                cache[key] = members_of(seg.segment)
            excluded = set(seg.excluded_user_ids)
            for uid in cache[key]:
                if uid not in excluded:
                    counts[uid] = counts.get(uid, 0) + 1
    return counts


# -- building the plan -----------------------------------------------------------------
def _mark_control(preds: list, control_id: str | None) -> list:
    if control_id is None:
        return [replace(p, is_control=False) if p.is_control else p for p in preds]
    return [replace(p, is_control=(p.variant_id == control_id)) for p in preds]


def build_plan(
    store: Store,
    predictor: Any,
    *,
    name: str,
    segments: Sequence[SegmentRef],
    variant_ids: Mapping[str, Sequence[str]],
    settings: PlanSettings,
    control_variant_id: str | None = None,
    manual_shares: Mapping[str, Mapping[str, float]] | None = None,
    exclude_strategy_id: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> Plan:
    """Predict every chosen variant for every chosen segment and plan the send.

    Each segment is resolved once, at the version its reference pins, and its members are read once.
    """
    if not name.strip():
        raise ValidationError("give the strategy a name")
    if not segments:
        raise ValidationError("pick at least one segment")
    counts = message_counts(store, settings, exclude_strategy_id=exclude_strategy_id)
    planned, model_version = [], getattr(predictor, "version", None)
    for i, ref in enumerate(segments):
        chosen = [v for v in variant_ids.get(ref.name, []) if v != control_variant_id]
        if not chosen:
            raise ValidationError(f"segment {ref.name}: pick at least one variant from the working set")
        if progress:
            progress(i / len(segments), f"Predicting {len(chosen)} variants for {ref.name}")
        segment = ref.resolve(store)
        members = segment_members(store, segment)
        if members.empty:
            raise ValidationError(f"segment {ref.name} has no members; pick another segment")
        rows = variant_rows(store, chosen + ([control_variant_id] if control_variant_id else []))
        # Only the chosen control is a control; other flagged rows would silently become the baseline.
        rows["is_control"] = rows["variant_id"].eq(control_variant_id) if control_variant_id else False
        preds = predict_variants(store, predictor, rows, segment, control_variant_id, send_size=len(members))
        preds = _mark_control(list(preds), control_variant_id)
        model_version = next((p.model_version for p in preds if p.model_version is not None), model_version)
        flagged = over_frequency(counts, members["user_id"].astype(str), settings.max_messages)
        info = rows.set_index("variant_id")[["channel", "copy_text"]].to_dict("index")
        planned.append(build_segment_plan(
            ref, preds, members=len(members), avg_order_value=average_order_value(members), settings=settings,
            variant_info=info, manual_shares=(manual_shares or {}).get(ref.name),
            over_frequency=len(flagged), excluded_user_ids=flagged if settings.exclude_over_frequency else (),
        ))
    if progress:
        progress(1.0, "Plan ready")
    return Plan(name=name.strip(), settings=settings, segments=tuple(planned), predictor_version=model_version)


def export_now(
    store: Store, strategy_id: str, *, author: str | None, out_dir: str | Path | None
) -> tuple[StrategyRecord, ExportBundle, list[Path]]:
    """Snapshot the plan's segments as they are now and export the strategy."""
    record = load_strategy(store, strategy_id)
    snapshots, members = {}, {}
    for seg in record.plan.segments:
        snapshots[seg.segment.name], members[seg.segment.name] = snapshot(store, seg.segment)
    return export_strategy(store, strategy_id, snapshots, members, author=author, out_dir=out_dir)
