"""Helpers for the Data page's upload flow, kept out of the page script.

Uploaded bytes are written to content-addressed temporary files (so reruns do
not pile up copies), the first rows are peeked at for column-mapping
suggestions, and reports are flattened into small tables for display.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ValidationError
from core.ingest.formats import all_formats
from core.ingest.context import ImportOptions
from core.ingest.importer import ImportReport, preview
from core.ingest.sniff import SourceFile, sniff
from core.store import Store

UPLOAD_DIR = Path(tempfile.gettempdir()) / "copylift-uploads"


def save_uploads(uploads: list[tuple[str, bytes]], limit_mb: int, folder: Path = UPLOAD_DIR) -> list[SourceFile]:
    """Write uploaded files to disk (refusing any over the limit) and return them as sources."""
    out = []
    for name, data in uploads:
        if len(data) > limit_mb * 1024 * 1024:
            raise ValidationError(
                f"{name} is {len(data) / 1024 / 1024:.0f} MB, over the upload limit of {limit_mb} MB. "
                "Split the file or import it with `python -m core.ingest` and a higher --upload-limit-mb."
            )
        digest = hashlib.sha256(data).hexdigest()
        path = folder / digest[:2] / f"{digest}{Path(name).suffix.lower()[:8]}"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(data)
            tmp.replace(path)
        out.append(SourceFile(name, path))
    return out


def peek(source: SourceFile, encoding: str | None = None, rows: int = 50) -> tuple[list[str], dict[str, list[str]]]:
    """Header and the first values of each column, for mapping suggestions."""
    with tempfile.TemporaryDirectory() as work:
        sn = sniff(source, Path(work), encoding=encoding, limit_mb=1 << 20)
        samples: dict[str, list[str]] = {c: [] for c in sn.columns}
        with open(sn.path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=sn.delimiter)
            next(reader, None)
            for i, row in enumerate(reader):
                if i >= rows:
                    break
                for col, value in zip(sn.columns, row):
                    samples[col].append(value)
    return list(sn.columns), samples


def format_choices() -> dict[str, str]:
    """Format name -> label, for the format override."""
    return {f.name: f.label for f in all_formats()}


def files_frame(report: ImportReport) -> pd.DataFrame:
    cols = ["name", "compression", "encoding", "encoding_confidence", "separator", "columns", "rows_read",
            "rows_rejected"]
    return pd.DataFrame(report.files)[cols] if report.files else pd.DataFrame(columns=cols)


def mapping_frame(report: ImportReport) -> pd.DataFrame:
    rows = [(f, src, dst) for f, m in report.mapping.items() for src, dst in m.items()]
    return pd.DataFrame(rows, columns=["file", "column", "CopyLift field"])


def undoable_imports(store: Store) -> pd.DataFrame:
    return store.df(
        "SELECT import_id, file_name, format, rows_accepted, imported_at FROM import_log "
        "WHERE status = 'done' ORDER BY import_id DESC LIMIT 50"
    )


def mapping_from_choices(target: str, choices: dict[str, str | None], defaults: dict[str, str] | None = None) -> dict:
    """Build a mapping dict from the page's per-field choices (None = not mapped)."""
    return {"target": target, "columns": {f: c for f, c in choices.items() if c},
            "defaults": {f: v for f, v in (defaults or {}).items() if v}}


def cached_preview(cache: MutableMapping[str, Any], store: Store, files: list[SourceFile], options: ImportOptions,
                   limit_mb: int) -> ImportReport:
    """``preview`` once per (files, options, database state): the page reruns on every click.

    ``cache`` is any mutable mapping (the page passes its session state).
    """
    key = repr((sorted(str(f.path) for f in files), options, limit_mb,
                store.one("SELECT count(*), max(import_id), count(*) FILTER (WHERE status = 'undone') "
                          "FROM import_log")))
    hit = cache.get("data.preview_cache")
    if hit and hit[0] == key:
        return hit[1]
    report = preview(store, files, options, limit_mb=limit_mb)
    cache["data.preview_cache"] = (key, report)
    return report
