"""The service's background retrain, run in a child process on a snapshot of the database.

Retraining in the serving process took the interpreter lock from the event
loop for a minute and more (decisions at p99 > 1 s in ``bench_api``), and a
second process cannot open the database while the service holds it. So the
service copies the database to a snapshot file (``COPY FROM DATABASE``), a
child process runs the ordinary ``core.learning.retrain.retrain`` on the
snapshot (its held-out before/after report included) with the predictor
files in a private folder, and the service then adopts the new version: the
model file is linked into the app's predictor folder (never over an existing
file) and its ``model_versions`` row is copied, in one transaction, only if
that version number is still free.

    python -m core.api.retrain_job SNAPSHOT.duckdb WORK_DIR   (prints the report as JSON)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from core.errors import PredictionError
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]
VERSION_COLUMNS = ("version", "outcome", "created_at", "data_hash", "settings_hash", "file_path", "file_sha256",
                   "metrics_json", "note")


def snapshot(store: Store, path: Path) -> None:
    """Copy every table of the store's database into a new file at ``path``."""
    cur = store.cursor()
    name = cur.execute("SELECT current_database()").fetchone()[0]
    cur.execute("ATTACH ? AS copylift_snapshot", [str(path)])
    try:
        cur.execute(f'COPY FROM DATABASE "{name.replace(chr(34), "")}" TO copylift_snapshot')
    finally:
        cur.execute("DETACH copylift_snapshot")


def run_retrain(store: Store, cfg, timeout_s: float = 3600.0,
                started: Callable[[subprocess.Popen], None] | None = None) -> dict:
    """Snapshot, retrain in a child process, adopt the new version; the child's report as a dict.

    ``started`` receives the child process, so the service can stop it when it stops itself.
    """
    work = Path(tempfile.mkdtemp(prefix="copylift-retrain-"))
    try:
        snap = work / "snapshot.duckdb"
        snapshot(store, snap)
        private = work / "data" / "predictors"
        private.mkdir(parents=True)
        real = Path(cfg.predictor_dir)
        for f in real.glob("*.skops") if real.exists() else ():
            shutil.copy2(f, private / f.name)  # the current model is scored as "before"
        env = dict(os.environ, COPYLIFT_DATA_DIR=str(work / "data"), COPYLIFT_DB=str(snap),
                   PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        child = subprocess.Popen([sys.executable, "-m", "core.api.retrain_job", str(snap), str(work)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        if started is not None:
            started(child)
        try:
            out, err = child.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            raise PredictionError(f"the retrain process took over {timeout_s:.0f} s and was stopped") from None
        if child.returncode != 0:
            raise PredictionError(f"the retrain process failed ({child.returncode}): {err.strip()[-1500:]}")
        report = json.loads(out.strip().splitlines()[-1])
        adopt(store, cfg, snap, private, int(report["new_version"]))
        return report
    finally:
        shutil.rmtree(work, ignore_errors=True)


def adopt(store: Store, cfg, snap: Path, private: Path, version: int) -> None:
    """Register the child's new version in the live database, or refuse if the number was taken meanwhile."""
    with Store(snap, read_only=True) as s:
        row = s.one(f"SELECT {', '.join(VERSION_COLUMNS)} FROM model_versions WHERE version = ?", [version])
    if row is None:
        raise PredictionError(f"the retrain process did not record version {version}")
    target = Path(cfg.predictor_dir)
    target.mkdir(parents=True, exist_ok=True)
    with store.transaction() as cur:
        if cur.execute("SELECT count(*) FROM model_versions WHERE version = ?", [version]).fetchone()[0]:
            raise PredictionError(f"model version {version} was saved by another retrain meanwhile; "
                                  "the next background retrain will include it")
        cur.execute(f"INSERT INTO model_versions ({', '.join(VERSION_COLUMNS)}) VALUES "
                    f"({', '.join('?' * len(VERSION_COLUMNS))})", list(row))
        os.link(private / row[5], target / row[5])  # fails rather than replace an existing file


def main(argv: list[str] | None = None) -> int:
    """Child side: retrain on the snapshot and print the report as one JSON line."""
    from core.config import load_config
    from core.learning.retrain import retrain

    argv = sys.argv[1:] if argv is None else argv
    with Store(argv[0]) as store:
        report = retrain(store, load_config())
    print(json.dumps({"old_version": report.old_version, "new_version": report.new_version,
                      "metrics": report.metrics.to_dict("records"), "notes": list(report.notes)}, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
