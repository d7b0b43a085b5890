"""The sample shop's seeded generator: writes the CSV files of sample_data/ reproducibly, byte for byte."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from core.config import SAMPLE_DIR
from core.errors import ValidationError
from core.ingest.sample import CSV_COLUMNS, SAMPLE_TABLES, csv_name
from core.sample.exposures import draw_exposures, history_snapshot, traits_frame
from core.sample.truth import ResponseModel, copy_frame
from core.sample.world import (
    SECONDS_PER_DAY,
    SampleSpec,
    bool_text,
    build_campaigns,
    build_products,
    build_users,
    day_weights,
    events_frame,
    money_text,
    organic_events,
    timestamps,
)


# -- writing -------------------------------------------------------------------
class _CsvWriter:
    """Append frames to a CSV (optionally gzip with mtime 0) with fixed formatting."""

    def __init__(self, path: Path, columns: list[str]) -> None:
        self.columns = columns
        self._raw = path.open("wb")
        self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=6) \
            if path.name.endswith(".gz") else None
        self._text = io.TextIOWrapper(self._gz or self._raw, encoding="utf-8", newline="")
        self._text.write(",".join(columns) + "\n")
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        frame[self.columns].to_csv(self._text, header=False, index=False, lineterminator="\n")
        self.rows += len(frame)

    def close(self) -> None:
        self._text.flush()
        self._text.detach()
        if self._gz is not None:
            self._gz.close()
        self._raw.close()


# -- the generator -------------------------------------------------------------
def generate(
    out_dir: str | Path = SAMPLE_DIR,
    *,
    scale: float = 1.0,
    seed: int = SampleSpec.seed,
    compress: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write the sample shop's CSV files, ``user_traits.csv`` and ``ground_truth.json``.

    Returns the row count of each table. Same seed and scale, same bytes.
    ``compress=False`` writes events and exposures as plain CSV, which DuckDB
    reads in parallel (for large benchmark sets; the committed sample is gzipped).
    """
    if scale <= 0:
        raise ValidationError(f"scale must be positive, got {scale}")
    spec = SampleSpec(seed=seed, scale=scale)
    say = progress or (lambda msg: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end_s = int(pd.Timestamp(spec.end).timestamp())
    start_s = end_s - spec.days * SECONDS_PER_DAY
    model = ResponseModel()

    products = build_products(spec, np.random.default_rng([seed, 1]))
    users, lat = build_users(spec, np.random.default_rng([seed, 2]), end_s)
    campaigns, variants = build_campaigns(spec, np.random.default_rng([seed, 3]), products, end_s)
    day_w = day_weights(spec, np.random.default_rng([seed, 4]))
    day_cdf = np.cumsum(day_w) / day_w.sum()
    vcopy = copy_frame(variants["copy_text"], variants["channel"], variants["category"])

    counts: dict[str, int] = {}
    _write_small(out / "users.csv", users, "users")
    _write_small(out / "products.csv", products.assign(price=money_text(products["price"].to_numpy())), "products")
    _write_small(out / "campaigns.csv", campaigns.assign(sent_at=timestamps(campaigns["sent_s"].to_numpy())), "campaigns")
    _write_small(out / "variants.csv", _variants_out(variants, seed), "variants")
    counts.update(users=len(users), products=len(products), campaigns=len(campaigns), variants=len(variants))

    ev_writer = _CsvWriter(out / csv_name("events", compress), list(CSV_COLUMNS["events"]))
    ex_writer = _CsvWriter(out / csv_name("exposures", compress), list(CSV_COLUMNS["exposures"]))
    traits_parts: list[pd.DataFrame] = []
    next_event, next_order = 1, 1
    ids_all = users["user_id"].to_numpy()
    camp_ids = campaigns["campaign_id"].to_numpy()
    try:
        for chunk, lo in enumerate(range(0, spec.n_users, spec.chunk_users)):
            hi = min(lo + spec.chunk_users, spec.n_users)
            rng = np.random.default_rng([seed, 10, chunk])
            clat = {k: v[lo:hi] for k, v in lat.items()}
            ev = organic_events(spec, rng, clat, products, day_cdf, start_s, end_s)
            traits = traits_frame(ids_all[lo:hi], users.iloc[lo:hi], clat, history_snapshot(ev, hi - lo, end_s))
            # The copy must be scored for the (rounded) traits that are written out.
            traits = traits.round(6)
            exposures, bought = draw_exposures(rng, model, traits, clat, ev, campaigns, variants, vcopy,
                                          products, end_s)
            ev = {k: np.concatenate([ev[k], bought[k]]) for k in ev}
            frame = events_frame(ev, ids_all[lo:hi], products, camp_ids, next_event, next_order, rng)
            next_event += len(frame)
            next_order += int((frame["event_type"] == "purchase").sum())
            ev_writer.write(frame)
            exposures.insert(0, "user_id", ids_all[lo:hi][exposures.pop("user_idx").to_numpy()])
            ex_writer.write(exposures)
            traits_parts.append(traits)
            say(f"chunk {chunk + 1}: {ev_writer.rows:,} events, {ex_writer.rows:,} exposures")
    finally:
        ev_writer.close()
        ex_writer.close()
    counts.update(events=ev_writer.rows, exposures=ex_writer.rows)
    traits = pd.concat(traits_parts, ignore_index=True)
    traits.to_csv(out / "user_traits.csv", index=False, lineterminator="\n", float_format="%.6f")
    _write_truth(out, spec, model, counts, traits, variants, vcopy, compress)
    return counts


def _write_small(path: Path, frame: pd.DataFrame, table: str) -> None:
    writer = _CsvWriter(path, list(CSV_COLUMNS[table]))
    try:
        writer.write(frame)
    finally:
        writer.close()


def _variants_out(variants: pd.DataFrame, seed: int) -> pd.DataFrame:
    created = variants["sent_s"].to_numpy() - 3 * SECONDS_PER_DAY
    return variants.assign(
        is_control=bool_text(variants["is_control"].to_numpy(bool)),
        origin="sample",
        in_working_set="false",
        brief_json=None, settings_json=None, model_name=None, seed=None,
        guardrails_json=None, override_reason=None,
        created_at=timestamps(created),
    )


def _write_truth(out: Path, spec: SampleSpec, model: ResponseModel, counts: dict[str, int],
                 traits: pd.DataFrame, variants: pd.DataFrame, vcopy: pd.DataFrame, compress: bool) -> None:
    # The true rate of each past variant if it had been sent to every customer:
    # the ranking a perfect predictor would reproduce.
    means = model.mean_probability(traits, vcopy)
    rates = {vid: round(float(r), 6) for vid, r in zip(variants["variant_id"], means)}
    truth = {
        "description": "True response model of the CopyLift sample data; see sample_data/README.md.",
        "spec": asdict(spec),
        "counts": counts,
        "response_model": model.to_dict(),
        "variant_true_rate_all_users": rates,
        "files": {t: csv_name(t, compress) for t in SAMPLE_TABLES} | {"user_traits": "user_traits.csv"},
    }
    (out / "ground_truth.json").write_text(json.dumps(truth, indent=2, sort_keys=False) + "\n", encoding="utf-8")


