"""How fast does sample data load into the store? DuckDB ``read_csv`` against a pandas baseline.

Two data sets: the committed sample (``sample_data/``, ~0.5 million rows) and a
~10-million-event set generated with ``python -m core.sample --scale N --out DIR``
(cached under ``benchmarks/out/``, which git ignores). Each is loaded two ways
into a fresh DuckDB file, each measurement in its own process so peak memory
is its own:

- ``duckdb read_csv``: ``core.ingest.sample.load_sample`` (typed ``read_csv`` inside one transaction);
- ``pandas baseline``: ``pandas.read_csv`` (1-million-row chunks) then DuckDB ``INSERT ... SELECT``
  from the registered frame, also in one transaction;
- ``duckdb, in memory``: the same ``load_sample`` into ``":memory:"`` (parsing and inserting
  without the disk), to separate CSV throughput from the cost of writing the file.

Usage: ``python benchmarks/bench_store.py [--scale 33] [--repeat 2] [--skip-big]``.
Prints a table, then one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from core.config import SAMPLE_DIR  # noqa: E402
from core.ingest.sample import CSV_COLUMNS, SAMPLE_TABLES, load_sample, sample_files
from core.sample.generate import generate
from core.store import Store, quote_ident  # noqa: E402

OUT = ROOT / "benchmarks" / "out"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _load_duckdb(data_dir: Path, db_path: Path) -> int:
    with Store(db_path) as store:
        return sum(load_sample(store, data_dir).values())


def _load_pandas(data_dir: Path, db_path: Path) -> int:
    import pandas as pd

    rows = 0
    files = sample_files(data_dir)
    with Store(db_path) as store, store.transaction() as cur:
        for table in SAMPLE_TABLES:
            names = ", ".join(quote_ident(c) for c in CSV_COLUMNS[table])
            for chunk in pd.read_csv(files[table], chunksize=1_000_000):
                cur.register("_chunk", chunk)
                cur.execute(f"INSERT INTO {quote_ident(table)} ({names}) SELECT {names} FROM _chunk")
                cur.unregister("_chunk")
                rows += len(chunk)
    return rows


def worker(method: str, data_dir: Path) -> dict:
    """One measurement in this process: load ``data_dir`` into a fresh database file (or memory)."""
    if method == "duckdb_memory":
        started = time.perf_counter()
        with Store(":memory:") as store:
            rows = sum(load_sample(store, data_dir).values())
            events = store.count("events")
        seconds = time.perf_counter() - started
        return {"rows": rows, "events": events, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.duckdb"
        started = time.perf_counter()
        # Includes closing the store, i.e. the checkpoint that makes the data durable.
        rows = (_load_duckdb if method == "duckdb" else _load_pandas)(data_dir, db_path)
        seconds = time.perf_counter() - started
        with Store(db_path, read_only=True) as store:
            events = store.count("events")
    return {"rows": rows, "events": events, "seconds": seconds, "peak_rss_mb": _peak_rss_mb()}


def measure(method: str, data_dir: Path, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", method, str(data_dir)],
            capture_output=True, text=True, check=True,
        )
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    seconds = statistics.median(r["seconds"] for r in runs)
    rows = runs[0]["rows"]
    return {
        "rows": rows,
        "events": runs[0]["events"],
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
    }


def big_dataset(scale: float) -> Path:
    """The generated ~10-million-event data set, made once and kept under benchmarks/out/."""
    target = OUT / f"sample_scale_{scale:g}"
    if (target / "ground_truth.json").exists():
        return target
    OUT.mkdir(parents=True, exist_ok=True)
    # A private folder per run, renamed into place at the end, so that two
    # benchmarks generating at once never write into the same files.
    partial = Path(tempfile.mkdtemp(prefix=f".partial_scale_{scale:g}_", dir=OUT))
    started = time.perf_counter()
    print(f"generating scale {scale:g} into {target} (once) ...", file=sys.stderr)
    try:
        # Plain CSV: DuckDB parses it in parallel; gzip would be decompressed on one thread.
        generate(partial, scale=scale, compress=False, progress=lambda m: print("  " + m, file=sys.stderr))
        print(f"generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        if not (target / "ground_truth.json").exists():
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=33.0, help="scale of the big set (33 = ~10.2M events)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-big", action="store_true", help="only the committed sample")
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]))))
        return 0

    datasets = {"sample": SAMPLE_DIR}
    if not args.skip_big:
        datasets[f"scale_{args.scale:g}"] = big_dataset(args.scale)
    results: dict[str, dict] = {}
    for name, path in datasets.items():
        for method in ("duckdb", "pandas", "duckdb_memory"):
            results[f"{name}/{method}"] = measure(method, path, args.repeat)

    print(f"{'data set':<14}{'method':<22}{'rows':>12}{'events':>12}{'seconds':>10}{'rows/s':>14}{'peak MB':>9}")
    for key, r in results.items():
        name, method = key.split("/")
        label = {"duckdb": "duckdb read_csv", "pandas": "pandas baseline",
                 "duckdb_memory": "duckdb, in memory"}[method]
        print(f"{name:<14}{label:<22}{r['rows']:>12,}{r['events']:>12,}{r['seconds']:>10.2f}"
              f"{r['rows_per_s']:>14,}{r['peak_rss_mb']:>9,}")
    for name in datasets:
        speedup = results[f"{name}/pandas"]["seconds"] / results[f"{name}/duckdb"]["seconds"]
        results[f"{name}/speedup_vs_pandas"] = round(speedup, 2)
        print(f"{name}: DuckDB read_csv is {speedup:.1f}x the pandas baseline")
    load = round(os.getloadavg()[0], 1)
    print(f"(1-minute load average at the end: {load} on {os.cpu_count()} CPUs; a busy machine slows every row)")
    print(json.dumps({"benchmark": "bench_store", "repeat": args.repeat, "load_average": load, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
