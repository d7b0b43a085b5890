"""How fast and how big is training and scoring on the two real experiments? (``bench_predict.py --experiments``)

Each step runs in a fresh process (so its peak RSS is its own) on databases imported from the
experiment files: train on the Upworthy archive (18,130 packages, 10,730 variants) with the
default settings (language-model text vectors read from their cache: warm) against the same
settings without text vectors (baseline); score 5,000 new headlines (never seen, so nothing is
cached) with ``predict_variants`` without vectors, and 500 with vectors (cold: each is encoded);
train on Hillstrom (44,800 customers).
"""

from __future__ import annotations

import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

UPWORTHY_MAP = {"target": "variant_results", "columns": {"campaign_id": "clickability_test_id",
                                                         "copy_text": "headline", "sends": "impressions",
                                                         "clicks": "clicks"}, "defaults": {"channel": "banner"}}
HILLSTROM_MAP = {"target": "exposures", "columns": {"user_id": "user_id", "variant_id": "segment",
                                                    "copy_text": "segment", "converted": "conversion",
                                                    "clicked": "visit", "revenue": "spend"}}


def _import(db: Path, file: Path, mapping: dict) -> None:
    from core.ingest import ImportOptions, run_import
    from core.store import Store

    with Store(str(db)) as store:
        run_import(store, [file], ImportOptions(mapping=mapping))


def _train(db: str, outcome: str, vectors: bool) -> tuple[float, float, dict]:
    from core.prediction.features import build_training_data
    from core.prediction.training import TrainingSettings, fit_predictor
    from core.store import Store

    start = time.perf_counter()
    with Store(db) as store:
        data = build_training_data(store, outcome)
        fit_predictor(data, TrainingSettings(text_embeddings=vectors))
    seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, {"rows": data.n_rows}


def _new_headlines(n: int, seed: int) -> list[str]:
    """Headlines no model has seen: words of the archive's headlines reshuffled, plus a run tag."""
    import numpy as np

    from core.store import Store

    with Store(_new_headlines.db) as store:
        words = " ".join(store.df("SELECT copy_text FROM variants ORDER BY variant_id")["copy_text"]).split()
    rng = np.random.default_rng(seed)
    tag = f"r{time.time_ns() % 10**9}"
    return [" ".join(rng.choice(words, size=rng.integers(8, 16))) + f" {tag}{i}" for i in range(n)]


def _score(db: str, n: int, vectors: bool) -> tuple[float, float, dict]:
    import pandas as pd

    from core.prediction.features import build_training_data
    from core.prediction.scoring import predict_variants
    from core.prediction.training import TrainingSettings, fit_predictor
    from core.store import Store

    _new_headlines.db = db
    with Store(db) as store:
        predictor = fit_predictor(build_training_data(store, "click"),
                                  TrainingSettings(text_embeddings=vectors, n_bootstrap=2))
        texts = _new_headlines(n, 7)
        variants = pd.DataFrame({"variant_id": [f"new{i}" for i in range(n)], "copy_text": texts,
                                 "channel": "banner"})
        start = time.perf_counter()
        preds = predict_variants(store, predictor, variants, None)
        seconds = time.perf_counter() - start
    return seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, {"scored": len(preds)}


def _run(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run(folder: Path, tmp: Path) -> tuple[list, dict]:
    """(table rows, figures) for the experiment files in ``folder``."""
    up, hill = tmp / "upworthy.duckdb", tmp / "hillstrom.duckdb"
    _import(up, folder / "upworthy_exploratory_packages_train.csv", UPWORTHY_MAP)
    _import(hill, folder / "hillstrom_email_experiment_train.csv", HILLSTROM_MAP)
    steps = [
        ("Upworthy: train, default (text vectors cached)", _train, (str(up), "click", True), "upworthy_train"),
        ("Upworthy: train without text vectors (baseline)", _train, (str(up), "click", False),
         "upworthy_train_no_vectors"),
        ("Upworthy: score 5,000 new headlines, no text vectors", _score, (str(up), 5000, False),
         "score_5000_no_vectors"),
        ("Upworthy: score 500 new headlines, text vectors (cold)", _score, (str(up), 500, True),
         "score_500_vectors_cold"),
        ("Hillstrom: train, default", _train, (str(hill), "conversion", True), "hillstrom_train"),
    ]
    rows, figures = [], {}
    for label, fn, args, key in steps:
        seconds, peak_mb, extra = _run(fn, *args)
        rows.append((label, seconds, peak_mb))
        figures[f"{key}_s"] = round(seconds, 2)
        figures[f"{key}_peak_rss_mb"] = round(peak_mb, 0)
        print(f"{label}: {seconds:.1f} s, peak RSS {peak_mb:.0f} MB", file=sys.stderr, flush=True)
    figures["vectors_vs_no_vectors_train_ratio"] = round(figures["upworthy_train_s"]
                                                         / figures["upworthy_train_no_vectors_s"], 2)
    return rows, figures
