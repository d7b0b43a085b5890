"""The decision service's state: loaded strategies, keys, the writer, the learner and retrain threads.

One ``Service`` lives per process and owns the process's writes to the
database (DuckDB lets one process hold a file open for writing; see the
README's decision-service section). Decisions run on the event loop against
in-memory ``LiveStrategy`` objects and only wait for the group commit of
their own rows; the learner thread re-checks strategy versions, moves the
live allocation on its schedule and flushes refusal counts; retraining runs
on a thread of its own.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.api.decide import DECIDABLE, LATEST, LiveStrategy, MembersOf, decidable_record, load_live
from core.api.keys import KeyRing, RateLimiter
from core.api.learn import (
    LearnSettings,
    arm_counts,
    materialize_exposures,
    next_live_allocation,
    record_allocation,
    restore_allocation,
)
from core.api.retrain_job import run_retrain
from core.api.writer import Writer
from core.store import Store

log = logging.getLogger("copylift.api")


@dataclass(frozen=True)
class ServiceSettings:
    """How the service decides, learns and refreshes."""

    learn: LearnSettings = field(default_factory=LearnSettings)
    max_batch: int = 10_000
    first_name_fallback: str = "there"
    tick_s: float = 0.5  # learner thread period
    refresh_s: float = 2.0  # how often a loaded strategy's latest version is re-read


class Service:
    """Process-wide state behind the HTTP routes."""

    def __init__(self, store: Store, cfg=None, settings: ServiceSettings | None = None,
                 members_of: MembersOf | None = None, retrain_fn: Callable | None = None) -> None:
        self.store, self.cfg = store, cfg
        self.settings = settings or ServiceSettings()
        self.members_of = members_of
        self.keys = KeyRing(store)
        self.limiter = RateLimiter()
        self.writer = Writer(store, on_commit=self._on_commit)
        self.started_at = time.time()
        self.admin_token = secrets.token_urlsafe(32)  # written beside the database by core.api.server
        self._live: dict[str, LiveStrategy] = {}
        self._checked: dict[str, float] = {}
        self._load_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.refusals: Counter[tuple[int, str]] = Counter()
        self._unflushed: Counter[tuple[int, str]] = Counter()
        self._new_conversions: Counter[str] = Counter()
        self._new_events: Counter[str] = Counter()
        self._last_update: dict[str, float] = {}
        self._since_retrain = 0
        self._retrain_fn = retrain_fn
        self.retrain_thread: threading.Thread | None = None
        self._retrain_child = None
        # A retrain that was running when the service last stopped (or crashed) will never finish.
        store.execute("UPDATE api_retrains SET status = 'failed', error = 'the service stopped before it finished', "
                      "finished_at = current_timestamp WHERE status = 'running'")
        self._stop = threading.Event()
        self._learner = threading.Thread(target=self._learn_loop, name="copylift-api-learner", daemon=True)

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Service:
        self._learner.start()
        return self

    def close(self) -> None:
        self._stop.set()
        child = self._retrain_child
        if child is not None and child.poll() is None:
            child.terminate()  # the retrain thread then records the run as failed
            if self.retrain_thread is not None:
                self.retrain_thread.join(timeout=30)
        if self._learner.is_alive():
            self._learner.join(timeout=10)
        self.writer.close()
        self._flush_refusals()

    # -- strategies ----------------------------------------------------------
    @property
    def loaded(self) -> int:
        return len(self._live)

    def cached(self, strategy_id: str) -> LiveStrategy | None:
        return self._live.get(strategy_id)

    def load(self, strategy_id: str) -> LiveStrategy:
        """Load (once) the latest approved version of a strategy; raises NotFound/Validation errors."""
        with self._load_lock:
            live = self._live.get(strategy_id)
            if live is not None:
                return live
            live = load_live(self.store, decidable_record(self.store, strategy_id), self.members_of)
            restore_allocation(self.store, live)
            self._live[strategy_id] = live
            self._checked[strategy_id] = time.monotonic()
            self._last_update.setdefault(strategy_id, time.monotonic())
            return live

    def _refresh(self, strategy_id: str) -> None:
        """Pick up a new strategy version (or a withdrawn approval) without a restart."""
        live = self._live[strategy_id]
        row = self.store.one("SELECT version, status FROM strategies WHERE strategy_id = ? "
                             "ORDER BY version DESC LIMIT 1", [strategy_id])
        self._checked[strategy_id] = time.monotonic()
        if row is None or int(row[0]) == live.version:
            return
        with self._load_lock:
            if row[1] not in DECIDABLE:
                self._live.pop(strategy_id, None)  # the next decision request is refused with the reason
                return
            fresh = load_live(self.store, decidable_record(self.store, strategy_id), self.members_of)
            restore_allocation(self.store, fresh)
            with live.lock:  # decisions made since the database was read stay sticky too
                index = {(s.name, a.variant_id): (i, j) for i, s in enumerate(fresh.segments)
                         for j, a in enumerate(s.arms)}
                for uid, d in live.sticky.items():
                    seg = live.segments[d.segment]
                    pos = index.get((seg.name, seg.arms[d.arm].variant_id))
                    if pos is not None and uid not in fresh.sticky:
                        fresh.sticky[uid] = type(d)(pos[0], pos[1], d.allocation_no)
                live.successor = fresh  # a request still holding the old object decides on the new one
                self._live[strategy_id] = fresh

    def attribution(self, strategy_id: str, user_ids: list[str]) -> dict[str, tuple[str, str]]:
        """(segment, variant) of each decided user, from memory or the stored decisions."""
        live = self._live.get(strategy_id)
        out: dict[str, tuple[str, str]] = {}
        missing = []
        for uid in user_ids:
            found = live.arm_of(uid) if live is not None else None
            if found is None:
                missing.append(uid)
            else:
                out[uid] = (found[0].name, found[1].variant_id)
        if missing:
            rows = self.store.rows("SELECT user_id, segment_name, variant_id FROM api_decisions WHERE strategy_id = ? "
                                   f"AND user_id IN (SELECT unnest(?::VARCHAR[])) {LATEST}", [strategy_id, missing])
            out.update({r[0]: (r[1], r[2]) for r in rows})
        return out

    def live_counts(self, strategy_id: str):
        return arm_counts(self.store, strategy_id)

    # -- counters ------------------------------------------------------------
    def refuse(self, status: int, reason: str) -> None:
        with self._count_lock:
            self.refusals[(status, reason)] += 1
            self._unflushed[(status, reason)] += 1

    def _on_commit(self, events: list[tuple], inserted: set[str]) -> None:
        with self._count_lock:
            for row in events:
                if row[0] in inserted:
                    self._new_events[row[2]] += 1
                    if row[1] == "conversion":
                        self._new_conversions[row[2]] += 1
                        self._since_retrain += 1

    def _flush_refusals(self) -> None:
        with self._count_lock:
            pending, self._unflushed = self._unflushed, Counter()
        if not pending:
            return
        minute = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        rows = [(minute, status, reason, n) for (status, reason), n in pending.items()]
        with self.store.transaction() as cur:
            cur.executemany("INSERT INTO api_refusals VALUES (?, ?, ?, ?) ON CONFLICT (minute, status, reason) "
                            "DO UPDATE SET count = api_refusals.count + excluded.count", rows)

    # -- learning ------------------------------------------------------------
    def update_allocation(self, strategy_id: str, trigger: str) -> None:
        live = self._live[strategy_id]
        counts = arm_counts(self.store, strategy_id)
        alloc, rows = next_live_allocation(live, counts, self.settings.learn, trigger)
        record_allocation(self.store, rows)
        live.allocation = alloc  # one reference swap: a decision sees the old or the new shares, never a mix
        # The Results page's readout and the retrain read ``exposures``: refresh the service's rows there.
        materialize_exposures(self.store)
        self._last_update[strategy_id] = time.monotonic()

    def _due(self, strategy_id: str, now: float) -> str | None:
        s = self.settings.learn
        with self._count_lock:
            conv, events = self._new_conversions[strategy_id], self._new_events[strategy_id]
        if s.every_conversions and conv >= s.every_conversions:
            trigger = f"{conv} new conversions"
        elif events and now - self._last_update.get(strategy_id, now) >= s.every_seconds:
            trigger = f"{s.every_seconds:g} s with {events} new events"
        else:
            return None
        with self._count_lock:
            self._new_conversions[strategy_id] -= conv
            self._new_events[strategy_id] -= events
        return trigger

    def tick(self) -> None:
        """One learner step (the thread calls it every ``tick_s``; tests call it directly)."""
        now = time.monotonic()
        self._flush_refusals()
        for sid in list(self._live):
            if now - self._checked.get(sid, 0.0) >= self.settings.refresh_s:
                self._refresh(sid)
            if sid in self._live:
                trigger = self._due(sid, now)
                if trigger:
                    self.update_allocation(sid, trigger)
        need = self.settings.learn.retrain_after_conversions
        if need and self._since_retrain >= need and not self.retraining:
            self.start_retrain(f"{self._since_retrain} new conversions")

    def _learn_loop(self) -> None:
        while not self._stop.wait(self.settings.tick_s):
            try:
                self.tick()
            except Exception:  # the learner must outlive a bad tick; the log says what failed
                log.exception("learner tick failed")

    @property
    def retraining(self) -> bool:
        return self.retrain_thread is not None and self.retrain_thread.is_alive()

    def start_retrain(self, trigger: str) -> threading.Thread:
        with self._count_lock:
            self._since_retrain = 0
        self.retrain_thread = threading.Thread(target=self._retrain, args=(trigger,), name="copylift-api-retrain",
                                               daemon=True)
        self.retrain_thread.start()
        return self.retrain_thread

    def _retrain(self, trigger: str) -> None:
        with self.store.transaction() as cur:
            run_no = int(cur.execute("SELECT coalesce(max(run_no), 0) + 1 FROM api_retrains").fetchone()[0])
            cur.execute("INSERT INTO api_retrains (run_no, trigger, status) VALUES (?, ?, 'running')", [run_no, trigger])
        try:
            materialize_exposures(self.store)
            if self._retrain_fn is not None:
                report = self._retrain_fn(self.store, self.cfg)
                report = {"old_version": report.old_version, "new_version": report.new_version,
                          "metrics": report.metrics.to_dict("records"), "notes": list(report.notes)}
            else:
                report = run_retrain(self.store, self.cfg, started=lambda p: setattr(self, "_retrain_child", p))
            summary = {"metrics": report["metrics"], "notes": report["notes"]}
            self.store.execute(
                "UPDATE api_retrains SET status = 'done', old_version = ?, new_version = ?, report_json = ?, "
                "finished_at = current_timestamp WHERE run_no = ?",
                [report["old_version"], report["new_version"], json.dumps(summary, default=str), run_no])
        except Exception as err:  # recorded for the Results page; decisions carry on with the old model
            log.exception("background retrain failed")
            self.store.execute("UPDATE api_retrains SET status = 'failed', error = ?, finished_at = current_timestamp "
                               "WHERE run_no = ?", [f"{type(err).__name__}: {err}"[:2000], run_no])
