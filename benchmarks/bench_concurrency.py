"""Four people using one CopyLift server at once: does anything deadlock, slow to a crawl or get lost?

A real ``streamlit run`` server and real browsers (Debian's Chromium through
Playwright, one browser per simulated user, each its own Streamlit session).
The actions are the app's heavy ones, driven through the pages exactly as a
person would:

- ``generate``: Copy Lab, write a brief, Generate with the real default model,
  add the first variant to the working set (+1 ``variants`` row);
- ``import``: Data page, upload the real Shopify orders export, accept leaving
  out its rejected row, Import (+120 events, +1 ``import_log`` row, ...);
- ``retrain``: Predict page, quick model, Retrain (+1 ``model_versions`` row).

Phase "1 user": a fresh server runs one generate, one import and one retrain,
one after the other; each action's wall time and its row-count delta are the
baseline. Phase "4 users": a second fresh server (same starting database) runs
generate, generate, import and retrain at the same moment. Afterwards the
database must hold exactly the starting rows plus the sum of the baseline
deltas (two generations), every action must have finished, and none may have
shown an error. The model cache is converted once and shared by both servers.

Usage: ``python benchmarks/bench_concurrency.py [--timeout 600] [--variants N]
[--max-tokens N] [--quick]``. ``--quick`` (2 variants, at most 32 tokens) proves
everything completes and the rows add up; the full run uses the Copy Lab's
defaults. Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "tests" / "e2e"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from harness import (  # noqa: E402
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    DB_NAME,
    check,
    click,
    exceptions,
    goto_page,
    key,
    open_app,
    start_server,
    stop_server,
    upload,
    wait_idle,
    wait_text,
)

SHOPIFY = ROOT / "tests" / "fixtures" / "realdata" / "shopify" / "shopify_orders_export_devstore_redacted.csv"
CHECKED = ("variants", "events", "users", "products", "import_log", "model_versions", "exposures")


# -- the actions, as a person does them -----------------------------------------------------
@dataclass(frozen=True)
class Options:
    """What every action needs: its time limit and the generation size (small for a quick check)."""

    timeout_ms: int
    variants: int | None = None  # None: the Copy Lab's default
    max_tokens: int | None = None


def act_generate(page, opts: Options, n: int) -> int:
    """Generate; returns the number of variants added to the working set (0 when none passed)."""
    goto_page(page, "Copy Lab", opts.timeout_ms)
    page.locator(f"{key('copy.product_text')} input").fill(f"Trail running shoes, pair {n}")
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Sampling").first.click()
    page.locator(f"{key('copy.seed')} input").fill(str(100 + n))  # different users, different copy
    if opts.variants is not None:
        page.locator(f"{key('copy.n_variants')} input").fill(str(opts.variants))
    if opts.max_tokens is not None:
        page.locator(f"{key('copy.max_tokens.email_subject')} input").fill(str(opts.max_tokens))
    page.get_by_role("button", name="Generate").click()
    # Wait for the result itself (a long run can outlast a websocket reconnect): either a kept
    # variant or the page's note that none passed the guardrails (a correct, finished generation).
    add = page.locator(f"{key('copy.add.0')} button")
    none_kept = page.get_by_text("Only 0 of")
    add.or_(none_kept).first.wait_for(timeout=opts.timeout_ms)
    wait_idle(page, opts.timeout_ms)
    if not add.count():
        return 0
    click(page, "copy.add.0", opts.timeout_ms)
    page.locator('[data-testid="stToast"]').filter(has_text="Added to the working set").first.wait_for(
        timeout=opts.timeout_ms)
    return 1


def act_import(page, opts: Options, n: int) -> None:
    timeout_ms = opts.timeout_ms
    goto_page(page, "Data", timeout_ms)
    upload(page, "data.upload", SHOPIFY, timeout_ms=timeout_ms)
    wait_text(page, "121 rows read", timeout_ms)
    check(page, "data.accept_rejects", timeout_ms)
    click(page, "data.import", timeout_ms)
    wait_text(page, "Imported 120 of 121 rows", timeout_ms)


def act_retrain(page, opts: Options, n: int) -> None:
    timeout_ms = opts.timeout_ms
    goto_page(page, "Predict", timeout_ms)
    page.get_by_text("Model", exact=True).first.click()
    check(page, "predict.quick", timeout_ms)
    click(page, "predict.retrain", timeout_ms)
    wait_text(page, "Model version", timeout_ms)  # the status label "Model version N trained"


ACTIONS = {"generate": act_generate, "import": act_import, "retrain": act_retrain}


# -- running users ---------------------------------------------------------------------------
class User(threading.Thread):
    """One person: own Playwright, own browser, own Streamlit session; waits at a barrier to start."""

    def __init__(self, url: str, action: str, n: int, barrier: threading.Barrier, opts: Options) -> None:
        super().__init__(name=f"user-{n}-{action}")
        self.url, self.action, self.n, self.barrier, self.opts = url, action, n, barrier, opts
        self.timeout_ms = opts.timeout_ms
        self.seconds: float | None = None
        self.error: str | None = None
        self.added = 0  # working-set variants this user added

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.set_default_timeout(self.timeout_ms)
                open_app(page, self.url, self.timeout_ms)
                self.barrier.wait()
                started = time.perf_counter()
                try:
                    self.added = ACTIONS[self.action](page, self.opts, self.n) or 0
                    shown = exceptions(page) or page.locator('[data-testid="stAlertContentError"]').all_inner_texts()
                    if shown:
                        self.error = f"error shown: {shown[0][:200]}"
                except Exception:
                    self._record_failure(page)
                    raise
                finally:
                    self.seconds = time.perf_counter() - started
                    browser.close()
                    # Progress on stderr: stdout ends with the JSON line.
                    print(f"  {self.name}: {self.seconds:.1f} s{' (' + self.error + ')' if self.error else ''}",
                          file=sys.stderr, flush=True)
        except Exception as err:  # the report lists it; the run goes on so the table shows every user
            self.error = f"{type(err).__name__}: {str(err).splitlines()[0][:200]}"
            self.barrier.abort()


    def _record_failure(self, page) -> None:
        """What the page looked like when an action failed: a screenshot and the app's run state."""
        try:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"bench-concurrency-{self.name}-FAILED.png"))
            state = page.evaluate("""() => ({
              state: document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-script-state'),
              roots: document.querySelectorAll('[data-testid="stApp"]').length,
              seen: window.__clSeen, sinceChangeMs: performance.now() - (window.__clLast || 0),
              url: location.href})""")
            where = [line for line in traceback.format_exc().splitlines() if "bench_concurrency" in line
                     or "harness.py" in line]
            print(f"  {self.name} failed at {where[-3:]} with the page in state {state}", file=sys.stderr, flush=True)
        except Exception as err:  # the page may be gone; the original error is what matters
            print(f"  {self.name}: could not record the failure ({err})", file=sys.stderr, flush=True)


def counts(db_path: Path) -> dict[str, int]:
    from core.store import Store

    with Store(db_path, read_only=True) as store:
        return {t: store.count(t) for t in CHECKED}


def phase(name: str, template: Path, model_cache: Path, plan: list[list[str]], opts: Options,
          work: Path) -> dict:
    """Run ``plan`` (a list of steps; each step's actions start together) on a fresh server."""
    print(f"phase {name}: {plan}", file=sys.stderr, flush=True)
    data_dir = work / name / "data"
    shutil.copytree(model_cache, data_dir / "models")
    server = start_server(data_dir, template=template, name=f"bench-concurrency-{name}")
    timings: list[dict] = []
    try:
        n = 0
        for step in plan:
            barrier = threading.Barrier(len(step))
            users = []
            for action in step:
                n += 1
                users.append(User(server.url, action, n, barrier, opts))
            started = time.perf_counter()
            for u in users:
                u.start()
            for u in users:
                u.join()
            timings.append({
                "step_wall_s": round(time.perf_counter() - started, 2),
                "users": [{"action": u.action, "seconds": None if u.seconds is None else round(u.seconds, 2),
                           "error": u.error, "added": u.added} for u in users],
            })
    finally:
        stop_server(server.process)
    counts_after_stop = counts(server.db_path)
    before = counts(template)
    return {"timings": timings, "before": before, "after": counts_after_stop,
            "delta": {t: counts_after_stop[t] - before[t] for t in CHECKED}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=int, default=600, help="seconds one action may take")
    parser.add_argument("--variants", type=int, default=None,
                        help="variants per generation (default: the Copy Lab's default)")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="max new tokens per variant (default: the Copy Lab's default)")
    parser.add_argument("--quick", action="store_true",
                        help="a quick check that everything completes: 2 variants of at most 32 tokens")
    args = parser.parse_args(argv)
    if args.quick:
        args.variants = args.variants or 2
        args.max_tokens = args.max_tokens or 32
    opts = Options(timeout_ms=args.timeout * 1000, variants=args.variants, max_tokens=args.max_tokens)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: run `make browser`", file=sys.stderr)
        return 2
    if not SHOPIFY.exists():
        print(f"{SHOPIFY} is missing (the test fixtures of the repository)", file=sys.stderr)
        return 2
    from core.config import load_config
    from core.generation.model import ensure_converted, resolve_source
    from core.ingest.sample import load_sample
    from core.store import Store

    work = Path(tempfile.mkdtemp(prefix="copylift-bench-concurrency-"))
    try:
        template = work / "template" / DB_NAME
        with Store(template) as store:
            load_sample(store)
        cfg = load_config(env={"COPYLIFT_DATA_DIR": str(work / "model")})
        ensure_converted(cfg, resolve_source(cfg.model, cfg.model_cache_dir))

        single = phase("1-user", template, cfg.model_cache_dir, [["generate"], ["import"], ["retrain"]],
                       opts, work)
        multi = phase("4-users", template, cfg.model_cache_dir, [["generate", "generate", "import", "retrain"]],
                      opts, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    one = {u["action"]: u for step in single["timings"] for u in step["users"]}
    # Expected rows for 4 users: the 1-user phase's total (generate + import + retrain on the
    # same starting database), with the working-set variants the generating users actually added
    # (a generation may keep none when no sample passes the guardrails).
    expected = dict(single["delta"])
    expected["variants"] = sum(u["added"] for step in multi["timings"] for u in step["users"])
    errors = [f"{p}: {u['action']}: {u['error']}" for p, ph in (("1 user", single), ("4 users", multi))
              for step in ph["timings"] for u in step["users"] if u["error"]]
    rows_ok = multi["delta"] == expected

    print(f"{'action':<10}{'1 user (s)':>12}{'4 users (s)':>13}{'slowdown':>10}")
    four = {}
    for u in multi["timings"][0]["users"]:
        four.setdefault(u["action"], []).append(u["seconds"])
    table = {}
    for action in ACTIONS:
        alone = one.get(action, {}).get("seconds")
        together = [s for s in four.get(action, []) if s is not None]
        worst = max(together) if together else None
        slow = round(worst / alone, 2) if alone and worst else None
        table[action] = {"one_user_s": alone, "four_users_s": together, "slowdown": slow}
        print(f"{action:<10}{alone if alone is not None else float('nan'):>12.1f}"
              f"{', '.join(f'{s:.1f}' for s in together):>13}{slow if slow else float('nan'):>10.2f}")
    print(f"4 users, all done in {multi['timings'][0]['step_wall_s']:.1f} s "
          f"(1 user, one after the other: {sum(s['step_wall_s'] for s in single['timings']):.1f} s)")
    print(f"rows added, 1 user: {single['delta']}")
    print(f"rows added, 4 users: {multi['delta']} (expected {expected}): {'OK' if rows_ok else 'MISMATCH'}")
    for e in errors:
        print("ERROR", e)
    load = round(os.getloadavg()[0], 1)
    print(f"(1-minute load average at the end: {load} on {os.cpu_count()} CPUs)")
    print(json.dumps({
        "benchmark": "bench_concurrency", "load_average": load, "actions": table,
        "generation": {"variants": args.variants, "max_new_tokens": args.max_tokens},
        "four_users_wall_s": multi["timings"][0]["step_wall_s"],
        "one_user_sequential_wall_s": round(sum(s["step_wall_s"] for s in single["timings"]), 2),
        "rows_delta_one_user": single["delta"], "rows_delta_four_users": multi["delta"],
        "rows_expected_four_users": expected, "rows_ok": rows_ok, "errors": errors,
        "ok": rows_ok and not errors,
    }))
    return 0 if rows_ok and not errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
