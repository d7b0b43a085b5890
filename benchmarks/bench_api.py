"""Decision-service throughput and latency on loopback, with a bounded load generator.

Builds a throw-away database in a temporary folder (the sample shop plus
enough extra customers that every decision is for a new user, one approved all-customers strategy with three
arms, an API key), starts ``python -m core.api`` on 127.0.0.1 and drives it
from this process with keep-alive HTTP/1.1 connections (one per simulated
client, each sending its next request when the previous answer arrived):

- single-user ``POST /v1/decisions`` at 1, 8 and 32 clients (every user new, so
  every decision is also written before its answer), then the same users again
  at 8 clients (sticky answers, nothing to write);
- 1,000-user batches at 1, 8 and 32 clients;
- ``POST /v1/events`` in batches of 1,000 at 8 clients;
- single-user decisions at 8 clients again while the service retrains the
  predictor in the background (the real ``core.learning.retrain`` on the
  sample shop, started by the conversions the previous phase reported), in a
  child process; ``--retrain-in-process`` runs it on a thread of the serving
  process instead, as the dashboard's Retrain button does in ``make serve``;
- ``GET /health`` at 8 clients as the baseline: what the framework and the
  load generator cost with no work behind the route.

Each phase stops at ``--count`` requests or ``--seconds``, whichever comes
first. The load generator shares the machine with the server (2 cores here):
figures are for both on one box. Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store import Store  # noqa: E402
from tests.api_server import start_service, stop_service  # noqa: E402

TARGETS = {"single_per_s": 1000.0, "single_p99_ms": 50.0, "batch_users_per_s": 50_000.0, "events_per_s": 5000.0}


def build_db(path: Path, extra_users: int) -> tuple[str, str, list[str]]:
    """The sample shop plus extra customers, an approved all-customers strategy and a key."""
    from core.api.keys import create_key
    from core.ingest.sample import load_sample
    from tests.api_fixtures import add_copy_variants, all_customers_plan, approved_strategy

    with Store(path) as store:
        load_sample(store)
        ids = [f"bench-{i:07d}" for i in range(extra_users)]
        store.execute("INSERT INTO users (user_id, first_name, source) SELECT unnest(?::VARCHAR[]), 'Sam', 'bench'",
                      [ids])
        add_copy_variants(store)
        sid = approved_strategy(store, all_customers_plan())
        _, key = create_key(store, "bench", "decide,events,read", rate_per_s=1e9)
        users = [r[0] for r in store.rows("SELECT user_id FROM users ORDER BY user_id")]
    return sid, key, users


def request(method: str, path: str, key: str, body: dict | None = None) -> bytes:
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def client(port: int, requests: list[bytes], deadline: float, lat: list[float], codes: list[int],
                 check) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for req in requests:
            if time.perf_counter() > deadline:
                break
            t0 = time.perf_counter()
            writer.write(req)
            status, body = await read_response(reader)
            lat.append(time.perf_counter() - t0)
            codes.append(status if status != 200 or check is None or check(body) else -1)
    finally:
        writer.close()


def run_phase(port: int, requests: list[bytes], clients: int, seconds: float, check=None) -> dict:
    """Send ``requests`` split over ``clients`` connections; stop after ``seconds``."""
    lat: list[float] = []
    codes: list[int] = []

    async def main() -> float:
        deadline = time.perf_counter() + seconds
        t0 = time.perf_counter()
        await asyncio.gather(*(client(port, requests[i::clients], deadline, lat, codes, check)
                               for i in range(clients)))
        return time.perf_counter() - t0

    wall = asyncio.run(main())
    ms = np.array(lat) * 1000
    return {"requests": len(lat), "seconds": round(wall, 2), "per_s": round(len(lat) / wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2), "errors": sum(c != 200 for c in codes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="single-user requests per phase")
    parser.add_argument("--batches", type=int, default=60, help="1,000-user batch requests per phase")
    parser.add_argument("--event-batches", type=int, default=60, help="1,000-event batches")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per phase")
    parser.add_argument("--retrain-in-process", action="store_true",
                        help="the peer: retrain on a thread of the serving process, as the dashboard's button does")
    parser.add_argument("--retrain-wait", type=float, default=300.0, help="seconds to wait for the retrain to end")
    args = parser.parse_args()
    args.extra_users = 1 + 4 * args.count + 3 * 1000 * args.batches  # every decision is for a new user
    tmp = Path(tempfile.mkdtemp(prefix="copylift-bench-api-"))
    os.environ["COPYLIFT_DATA_DIR"] = str(tmp / "data")  # the background retrain saves its model here
    load_start = os.getloadavg()[0]
    t = time.perf_counter()
    sid, key, users = build_db(tmp / "bench.duckdb", args.extra_users)
    print(f"database: {len(users):,} users, built in {time.perf_counter() - t:.1f} s ({tmp})")
    extra = ["--retrain-in-process"] if args.retrain_in_process else []
    proc, url = start_service(tmp / "bench.duckdb", None, "--retrain-after-conversions", "300",
                              "--update-every-conversions", "200", *extra, log=tmp / "service.log")
    port = int(url.rsplit(":", 1)[1])
    rows, pool = [], iter(users)

    def fresh(n: int) -> list[str]:
        return [next(pool) for _ in range(n)]

    def decided(body: bytes) -> bool:
        return b'"status":"not_eligible"' not in body

    try:
        # Warm-up: the first call loads the strategy (membership of every user) once.
        run_phase(port, [request("POST", "/v1/decisions", key, {"strategy_id": sid, "user_ids": fresh(1)})], 1, 60)
        health = [request("GET", "/health", key) for _ in range(args.count)]
        rows.append(("GET /health (baseline)", 8, 1, run_phase(port, health, 8, args.seconds)))
        for clients in (1, 8, 32):
            reqs = [request("POST", "/v1/decisions", key, {"strategy_id": sid, "user_ids": fresh(1)})
                    for _ in range(args.count)]
            rows.append(("decisions, 1 user", clients, 1, run_phase(port, reqs, clients, args.seconds, decided)))
        # The same users again: sticky answers, nothing to write (the read path alone).
        done = rows[1][3]["requests"]  # users the 1-client phase decided (it may stop at the time cap)
        reqs = [request("POST", "/v1/decisions", key, {"strategy_id": sid, "user_ids": [users[1 + i % done]]})
                for i in range(args.count)]
        rows.append(("decisions, 1 user, already decided", 8, 1, run_phase(port, reqs, 8, args.seconds, decided)))
        for clients in (1, 8, 32):
            reqs = [request("POST", "/v1/decisions", key, {"strategy_id": sid, "user_ids": fresh(1000)})
                    for _ in range(args.batches)]
            rows.append(("decisions, 1,000 users", clients, 1000,
                         run_phase(port, reqs, clients, args.seconds, decided)))
        # Events for users decided above: deliveries, and conversions for some (they start the retrain).
        decided_users = users[: 1 + 3 * args.count + 3 * 1000 * args.batches]
        events, n = [], 0
        for b in range(args.event_batches):
            batch = []
            for i in range(1000):
                u = decided_users[(b * 1000 + i) % len(decided_users)]
                kind = "conversion" if (b * 1000 + i) % 50 == 0 else "delivery"
                batch.append({"event_id": f"bench-{n}", "type": kind, "strategy_id": sid, "user_id": u})
                n += 1
            events.append(request("POST", "/v1/events", key, {"events": batch}))
        stored = lambda body: b'"rejected":[]' in body  # noqa: E731
        rows.append(("events, 1,000 per batch", 8, 1000, run_phase(port, events, 8, args.seconds, stored)))
        time.sleep(1.5)  # the learner's next tick starts the retrain
        import httpx

        retraining = httpx.get(url + "/health").json()["retraining"]
        reqs = [request("POST", "/v1/decisions", key, {"strategy_id": sid, "user_ids": fresh(1)})
                for _ in range(args.count)]
        rows.append((f"decisions, 1 user, {'during retrain' if retraining else 'after retrain (it had ended)'}",
                     8, 1, run_phase(port, reqs, 8, args.seconds, decided)))
        retraining_after = httpx.get(url + "/health").json()["retraining"]
        deadline = time.monotonic() + args.retrain_wait
        while httpx.get(url + "/health").json()["retraining"] and time.monotonic() < deadline:
            time.sleep(1.0)  # let the retrain finish so its duration and outcome are reported
    finally:
        stop_service(proc)
    with Store(tmp / "bench.duckdb", read_only=True) as s:
        retrains = s.rows("SELECT status, extract(epoch FROM finished_at - started_at) FROM api_retrains")
        allocations = s.scalar("SELECT count(DISTINCT update_no) FROM api_allocations")
        stored_events = s.scalar("SELECT count(*) FROM api_events")
    load_end = os.getloadavg()[0]
    print(f"load average (1 min) at start {load_start:.1f}, at end {load_end:.1f} on {os.cpu_count()} CPUs")
    base = rows[0][3]["per_s"]
    print(f"\n{'phase':<44}{'clients':>8}{'req/s':>10}{'users/s':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'vs /health':>11}")
    out = []
    for name, clients, per_req, r in rows:
        users_s = r["per_s"] * per_req
        print(f"{name:<44}{clients:>8}{r['per_s']:>10,.0f}{users_s:>11,.0f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}"
              f"{r['p99_ms']:>9.2f}{r['errors']:>8}{r['per_s'] / base:>10.2f}x")
        out.append({"phase": name, "clients": clients, "items_per_request": per_req, "items_per_s": users_s, **r})
    print(f"\nretrains: {retrains} (status, seconds); allocation updates recorded: {allocations}; "
          f"events stored: {stored_events:,}; retraining at the start/end of the last phase: "
          f"{retraining}/{retraining_after}")
    single = [o for o in out if o["phase"] == "decisions, 1 user"]
    batch = [o for o in out if o["phase"] == "decisions, 1,000 users"]
    ev = next(o for o in out if o["phase"].startswith("events"))
    summary = {
        "best_single_per_s": max(o["per_s"] for o in single),
        "single_p99_ms_at_best": min(single, key=lambda o: -o["per_s"])["p99_ms"],
        "best_batch_users_per_s": max(o["items_per_s"] for o in batch),
        "events_per_s": ev["items_per_s"], "errors": sum(o["errors"] for o in out),
    }
    met = {
        "single": summary["best_single_per_s"] >= TARGETS["single_per_s"]
        and summary["single_p99_ms_at_best"] < TARGETS["single_p99_ms"],
        "batch": summary["best_batch_users_per_s"] >= TARGETS["batch_users_per_s"],
        "events": summary["events_per_s"] >= TARGETS["events_per_s"],
    }
    print("targets met: " + ", ".join(f"{k}={'yes' if v else 'no'}" for k, v in met.items()))
    print(json.dumps({"bench": "api", "retrain_in_process": args.retrain_in_process, "cpus": os.cpu_count(), "load_start": load_start, "load_end": load_end, "summary": summary, "targets_met": met,
                      "retrains": [list(r) for r in retrains], "allocation_updates": allocations, "phases": out}))


if __name__ == "__main__":
    main()
