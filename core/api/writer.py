"""One writer thread that commits the service's rows in groups (group commit).

Requests hand their rows (new decisions, validated events) to the writer and
wait for its answer; the writer takes everything queued, writes it in one
transaction and then answers every waiting request. A request is therefore
answered only after its rows are committed (DuckDB syncs its write-ahead log
on commit), and a crash before the commit leaves none of them behind. Many
small requests share one commit, which is what makes a thousand single-user
decisions a second affordable on one DuckDB file.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from core.store import Store

DECISION_COLUMNS = ("strategy_id", "user_id", "strategy_version", "allocation_no", "segment_name", "variant_id",
                    "copy_variant_id", "is_control", "action", "key_id")
DECISION_TYPES = ("VARCHAR", "VARCHAR", "INTEGER", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "BOOLEAN", "VARCHAR",
                  "VARCHAR")
EVENT_COLUMNS = ("event_id", "event_type", "strategy_id", "user_id", "segment_name", "variant_id", "value", "ts",
                 "key_id")
EVENT_TYPES = ("VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "DOUBLE", "TIMESTAMP", "VARCHAR")


def _columnar_insert(table: str, columns: tuple[str, ...], types: tuple[str, ...], conflict: str) -> str:
    # One statement per group: each column travels as one list parameter and unnest() zips them
    # back into rows (executemany would run one statement per row).
    select = ", ".join(f"unnest(?::{t}[]) AS {c}" for c, t in zip(columns, types))
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM (SELECT {select}) {conflict}"


INSERT_DECISIONS = _columnar_insert(
    "api_decisions", DECISION_COLUMNS, DECISION_TYPES,
    "ON CONFLICT (strategy_id, user_id) DO UPDATE SET strategy_version = excluded.strategy_version, "
    "allocation_no = excluded.allocation_no, segment_name = excluded.segment_name, "
    "variant_id = excluded.variant_id, copy_variant_id = excluded.copy_variant_id, is_control = excluded.is_control, action = excluded.action, "
    "decided_at = now()")
INSERT_EVENTS = _columnar_insert("api_events", EVENT_COLUMNS, EVENT_TYPES,
                                 "ON CONFLICT (event_id) DO NOTHING RETURNING event_id")


@dataclass
class Job:
    decisions: list[tuple] = field(default_factory=list)
    events: list[tuple] = field(default_factory=list)
    future: Future = field(default_factory=Future)


class Writer:
    """Group-commit writer; ``submit`` returns a future with the set of event ids that were new."""

    def __init__(self, store: Store, on_commit: Callable[[list[tuple], set[str]], None] | None = None,
                 max_rows: int = 50_000) -> None:
        self._store = store
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._on_commit = on_commit
        self._max_rows = max_rows
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="copylift-api-writer", daemon=True)
        self._thread.start()

    def submit(self, decisions: list[tuple] = (), events: list[tuple] = ()) -> Future:
        job = Job(list(decisions), list(events))
        self._queue.put(job)
        return job.future

    async def write(self, decisions: list[tuple] = (), events: list[tuple] = ()) -> set[str]:
        if not decisions and not events:
            return set()
        return await asyncio.wrap_future(self.submit(decisions, events))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _take(self) -> tuple[list[Job], bool]:
        first = self._queue.get()
        if first is None:
            return [], True
        jobs, rows = [first], len(first.decisions) + len(first.events)
        while rows < self._max_rows:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            jobs.append(job)
            rows += len(job.decisions) + len(job.events)
        return jobs, False

    def _run(self) -> None:
        stop = False
        while not stop:
            jobs, stop = self._take()
            if jobs:
                self._commit(jobs)

    def _commit(self, jobs: list[Job]) -> None:
        decisions = [r for j in jobs for r in j.decisions]
        owned: list[set[str]] = []  # an event id repeated across queued batches belongs to the first
        seen: set[str] = set()
        events = []
        for job in jobs:
            mine = {r[0] for r in job.events if r[0] not in seen}
            events.extend(r for r in job.events if r[0] in mine)
            seen |= mine
            owned.append(mine)
        try:
            inserted: set[str] = set()
            with self._store.transaction() as cur:
                if decisions:
                    cur.execute(INSERT_DECISIONS, [list(c) for c in zip(*decisions)])
                if events:
                    inserted = {r[0] for r in cur.execute(INSERT_EVENTS, [list(c) for c in zip(*events)]).fetchall()}
            self.commits += 1
        except Exception as err:  # every waiting request must hear about it, whatever it was
            for job in jobs:
                job.future.set_exception(err)
            return
        if self._on_commit is not None:
            self._on_commit(events, inserted)
        for job, mine in zip(jobs, owned):
            job.future.set_result(mine & inserted)
