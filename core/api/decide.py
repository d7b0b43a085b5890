"""Per-user decisions for one approved strategy, identical to the export's stable assignment.

A ``LiveStrategy`` is loaded once per strategy version: its segments in plan
order, each segment's arms (the holdout first, as in the export), who is a
member of which segment (first segment wins, users the frequency guard
excluded skip that segment: the export's rule), first names for the
personalization tokens, and the current allocation. A user's arm comes from
``stable_uniform(strategy_id, seed, user_id)`` and the allocation's cumulative
shares, so with the strategy version's own shares it is the export's
assignment. Once decided, a user keeps the arm (sticky) even after the live
allocation moves; only new users follow the new shares.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from core.errors import NotFoundError, ValidationError
from core.store import Store
from core.strategy.export import stable_uniform
from core.strategy.plan import CONTROL_ARM, SegmentRef
from core.strategy.records import StrategyRecord, load_strategy

# A user's decision is their latest row (a user decided afresh keeps the old row for the record).
LATEST = "QUALIFY row_number() OVER (PARTITION BY strategy_id, user_id ORDER BY decided_at DESC) = 1"
DECIDABLE = ("approved", "exported", "measured")  # approved, and not sent back or edited since
MembersOf = Callable[[SegmentRef], Sequence[str]]


@dataclass(frozen=True)
class Arm:
    """What a user in this arm receives."""

    variant_id: str  # as in the export's assignment file: CONTROL_ARM for the holdout arm
    is_control: bool
    copy_variant_id: str | None  # the variant whose copy is sent (the control copy for the holdout)
    channel: str | None
    template: str | None  # copy with {product} filled; {first_name} is per user
    offer: dict | None


@dataclass(frozen=True)
class LiveSegment:
    name: str
    arms: tuple[Arm, ...]  # holdout first, then the variants in plan order
    do_not_send: bool
    reason: str


@dataclass(frozen=True)
class Allocation:
    """Shares per segment (holdout first); immutable, replaced whole on each live update."""

    update_no: int
    shares: dict[str, tuple[float, ...]]
    trigger: str

    def edges(self, segment: str) -> np.ndarray:
        edges = np.cumsum(self.shares[segment])
        edges[-1] = 1.0  # the export's guard against float drift
        return edges


class Decision(NamedTuple):
    """The stored, sticky part of a decision (a tuple: one is made per user, and tuples are cheapest)."""

    segment: int  # index into LiveStrategy.segments
    arm: int  # index into that segment's arms
    allocation_no: int


def render(template: str | None, first_name: str | None, fallback: str) -> str | None:
    if template is None:
        return None
    return template.replace("{first_name}", first_name or fallback)


def _product_names(store: Store, variant_ids: list[str]) -> dict[str, dict]:
    rows = store.rows(
        "SELECT v.variant_id, v.channel, v.copy_text, v.offer_type, v.offer_value, v.promo_code, v.brief_json, "
        "p.title FROM variants v LEFT JOIN products p USING (product_id) "
        "WHERE v.variant_id IN (SELECT unnest(?::VARCHAR[]))",
        [variant_ids],
    )
    out = {}
    for vid, channel, text, otype, ovalue, code, brief_json, title in rows:
        product = title
        if brief_json:
            try:
                product = json.loads(brief_json).get("product") or title
            except (json.JSONDecodeError, AttributeError):
                pass
        offer = None if otype is None and code is None else {"type": otype, "value": ovalue, "promo_code": code}
        out[vid] = {"channel": channel, "copy_text": text, "product": product, "offer": offer}
    return out


def _arm(plan_arm, info: dict | None) -> Arm:
    has_copy = plan_arm.variant_id != CONTROL_ARM
    text = plan_arm.copy_text if plan_arm.copy_text is not None else (info or {}).get("copy_text")
    product = (info or {}).get("product")
    template = None if not has_copy or text is None else text.replace("{product}", product or "{product}")
    return Arm(
        variant_id=CONTROL_ARM if plan_arm.is_control else plan_arm.variant_id,
        is_control=plan_arm.is_control,
        copy_variant_id=plan_arm.variant_id if has_copy else None,
        channel=plan_arm.channel or (info or {}).get("channel"),
        template=template,
        offer=(info or {}).get("offer"),
    )


class LiveStrategy:
    """One strategy version as the service decides it; ``decide`` is called on the event loop only."""

    def __init__(self, record: StrategyRecord, members: dict[str, list[str]], first_names: dict[str, str],
                 known_users: set[str], arm_info: dict[str, dict]) -> None:
        plan = record.plan
        self.strategy_id, self.version, self.name, self.status = (
            record.strategy_id, record.version, record.name, record.status)
        self.seed, self.holdout, self.floor = plan.settings.seed, plan.settings.holdout, plan.settings.floor
        self.record = record
        self.segments = tuple(
            LiveSegment(seg.segment.name, tuple(_arm(a, arm_info.get(a.variant_id)) for a in seg.arms),
                        seg.do_not_send, seg.reason)
            for seg in plan.segments
        )
        self.plan_allocation = Allocation(
            0, {seg.segment.name: tuple(float(a.share) for a in seg.arms) for seg in plan.segments},
            f"strategy version {record.version} as approved")
        self.allocation = self.plan_allocation
        self.first_names, self.known_users = first_names, known_users
        self.segment_of: dict[str, int] = {}
        self.excluded_from: dict[str, list[str]] = {}
        for i, seg in enumerate(plan.segments):
            excluded = set(seg.excluded_user_ids)
            for uid in members.get(seg.segment.name, ()):
                if uid in excluded:
                    self.excluded_from.setdefault(uid, []).append(seg.segment.name)
                else:
                    self.segment_of.setdefault(uid, i)
        self.sticky: dict[str, Decision] = {}
        self._bases: dict[tuple[int, int], dict] = {}
        self.successor: LiveStrategy | None = None
        self.lock = threading.Lock()  # guards ``sticky`` against the loader thread and the writer's undo

    def arm_of(self, user_id: str) -> tuple[LiveSegment, Arm] | None:
        d = self.sticky.get(user_id)
        return None if d is None else (self.segments[d.segment], self.segments[d.segment].arms[d.arm])

    def decide(self, user_ids: Sequence[str], fallback_name: str = "there") -> tuple[list[dict], list[tuple]]:
        """Decisions for ``user_ids`` (in order) and the rows of the new ones to store."""
        with self.lock:
            if self.successor is not None:  # a newer strategy version replaced this one
                return self.successor.decide(user_ids, fallback_name)
            return self._decide(user_ids, fallback_name)

    def current(self) -> LiveStrategy:
        """This strategy's newest loaded version (itself unless a refresh replaced it)."""
        live = self
        while live.successor is not None:
            live = live.successor
        return live

    def _decide(self, user_ids: Sequence[str], fallback_name: str) -> tuple[list[dict], list[tuple]]:
        # Called with ``self.lock`` held.
        alloc = self.allocation
        results: list[dict | None] = [None] * len(user_ids)
        fresh: dict[int, list[int]] = {}
        for pos, uid in enumerate(user_ids):
            if uid in self.sticky:
                continue
            seg = self.segment_of.get(uid)
            if seg is None:
                results[pos] = self._ineligible(uid)
            else:
                fresh.setdefault(seg, []).append(pos)
        new_rows = []
        for seg, positions in fresh.items():
            ids = [user_ids[p] for p in positions]
            u = stable_uniform(self.strategy_id, self.seed, ids)
            idx = np.searchsorted(alloc.edges(self.segments[seg].name), u, side="right")
            for _pos, uid, arm in zip(positions, ids, idx.tolist()):
                if uid in self.sticky:  # a repeated id in the same batch
                    continue
                self.sticky[uid] = Decision(seg, int(arm), alloc.update_no)
                new_rows.append(self._row(uid, self.sticky[uid]))
        out = []
        for pos, uid in enumerate(user_ids):
            res = results[pos]
            out.append(res if res is not None else self._answer(uid, self.sticky[uid], fallback_name))
        return out, new_rows

    def _row(self, uid: str, d: Decision) -> tuple:
        seg = self.segments[d.segment]
        arm = seg.arms[d.arm]
        return (self.strategy_id, uid, self.version, d.allocation_no, seg.name, arm.variant_id, arm.copy_variant_id,
                arm.is_control, self._action(seg, arm))

    @staticmethod
    def _action(seg: LiveSegment, arm: Arm) -> str:
        if seg.do_not_send:
            return "do_not_send"
        return "send" if arm.template is not None else "holdout"

    def _base(self, seg_no: int, arm_no: int) -> dict:
        """The part of an answer every user of one arm shares (built once per arm)."""
        seg = self.segments[seg_no]
        arm = seg.arms[arm_no]
        action = self._action(seg, arm)
        return {
            "user_id": None, "status": "decided", "action": action, "segment": seg.name,
            "variant_id": arm.variant_id, "arm": "control" if arm.is_control else "treatment",
            "copy_variant_id": arm.copy_variant_id, "channel": arm.channel,
            "copy": arm.template if action == "send" else None,
            "offer": arm.offer if action == "send" else None,
            "reason": seg.reason if action == "do_not_send" else
            ("holdout: send nothing to this user" if action == "holdout" else None),
            "allocation_no": None,
        }

    def _answer(self, uid: str, d: Decision, fallback: str) -> dict:
        base = self._bases.get((d.segment, d.arm))
        if base is None:
            base = self._bases[(d.segment, d.arm)] = self._base(d.segment, d.arm)
        out = dict(base)
        out["user_id"], out["allocation_no"] = uid, d.allocation_no
        if out["copy"] is not None and "{first_name}" in out["copy"]:
            out["copy"] = render(out["copy"], self.first_names.get(uid), fallback)
        return out

    def _ineligible(self, uid: str) -> dict:
        if uid not in self.known_users:
            reason = "unknown user id: it is not in CopyLift's customer data"
        elif uid in self.excluded_from:
            reason = ("excluded by the frequency guard from " + ", ".join(self.excluded_from[uid])
                      + " and not in the strategy's other segments")
        else:
            reason = "not in any of the strategy's segments (" + ", ".join(s.name for s in self.segments) + ")"
        return {"user_id": uid, "status": "not_eligible", "action": "do_not_send", "segment": None,
                "variant_id": None, "arm": None, "copy_variant_id": None, "channel": None, "copy": None,
                "offer": None, "reason": reason, "allocation_no": None}


def decidable_record(store: Store, strategy_id: str) -> StrategyRecord:
    """The latest version of ``strategy_id`` if it is approved (or exported/measured after approval)."""
    record = load_strategy(store, strategy_id)
    if record.status not in DECIDABLE:
        raise ValidationError(
            f"strategy {strategy_id} is '{record.status}' (version {record.version}); only an approved strategy "
            "can decide: a manager approves it on the Strategy page")
    return record


def default_members(store: Store) -> MembersOf:
    return lambda ref: ref.members(store)["user_id"].astype(str).tolist()


def load_live(store: Store, record: StrategyRecord, members_of: MembersOf | None = None) -> LiveStrategy:
    """Resolve a strategy version's members, names, copy and stored decisions into a ``LiveStrategy``."""
    members_of = members_of or default_members(store)
    members = {seg.segment.name: [str(u) for u in members_of(seg.segment)] for seg in record.plan.segments}
    users = store.rows("SELECT user_id, first_name FROM users")
    first_names = {str(u): n for u, n in users if n}
    known = {str(u) for u, _ in users}
    arm_ids = sorted({a.variant_id for s in record.plan.segments for a in s.arms if a.variant_id != CONTROL_ARM})
    live = LiveStrategy(record, members, first_names, known, _product_names(store, arm_ids))
    restore_sticky(store, live)
    return live


def restore_sticky(store: Store, live: LiveStrategy) -> None:
    """Put back the decisions already stored for this strategy (any version), so they stay sticky."""
    seg_index = {s.name: i for i, s in enumerate(live.segments)}
    arm_index = {(s.name, a.variant_id): j for s in live.segments for j, a in enumerate(s.arms)}
    rows = store.rows(
        f"SELECT user_id, segment_name, variant_id, allocation_no FROM api_decisions WHERE strategy_id = ? {LATEST}",
        [live.strategy_id],
    )
    with live.lock:
        for uid, seg, vid, alloc_no in rows:
            if (seg, vid) in arm_index:  # an arm a later version dropped is decided afresh
                live.sticky[uid] = Decision(seg_index[seg], arm_index[(seg, vid)], int(alloc_no))


def check_known(store: Store, strategy_id: str) -> None:
    if store.one("SELECT 1 FROM strategies WHERE strategy_id = ? LIMIT 1", [strategy_id]) is None:
        raise NotFoundError(f"strategy {strategy_id} does not exist")
