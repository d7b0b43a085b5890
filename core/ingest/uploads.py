"""The upload flow the Data and Results pages share: save -> preview (once) -> import.

Uploaded bytes are written to content-addressed temporary files (so reruns do
not pile up copies); the preview is reused while the files, the options and
the database stay the same (a page reruns on every click, and a preview stages
every row); the import remembers the date order the analyst chose. The Data
page's column mapping peeks at the first rows for suggestions. Everything here
takes and returns plain values: where a page keeps them (its session state) is
the page's business.
"""

from __future__ import annotations

import csv
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from core.errors import ValidationError
from core.ingest.context import ImportOptions
from core.ingest.formats import all_formats
from core.ingest.importer import DAY_FIRST_SETTING, ImportReport, preview, run_import
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


def undoable_imports(store: Store) -> pd.DataFrame:
    return store.df(
        "SELECT import_id, file_name, format, rows_accepted, imported_at FROM import_log "
        "WHERE status = 'done' ORDER BY import_id DESC LIMIT 50"
    )


def mapping_from_choices(target: str, choices: dict[str, str | None], defaults: dict[str, str] | None = None) -> dict:
    """Build a mapping dict from the page's per-field choices (None = not mapped)."""
    return {"target": target, "columns": {f: c for f, c in choices.items() if c},
            "defaults": {f: v for f, v in (defaults or {}).items() if v}}


@dataclass(frozen=True)
class CachedPreview:
    """A preview and what it was made from (files, options, limit and the state of the import log)."""

    key: str
    report: ImportReport


def _preview_key(store: Store, files: list[SourceFile], options: ImportOptions, limit_mb: int) -> str:
    # The import log's size, newest id and undone count change with every import and undo,
    # which is when the same file's preview changes (its rows become duplicates, or new again).
    return repr((sorted(str(f.path) for f in files), options, limit_mb,
                 store.one("SELECT count(*), max(import_id), count(*) FILTER (WHERE status = 'undone') "
                           "FROM import_log")))


def preview_uploads(store: Store, files: list[SourceFile], options: ImportOptions, limit_mb: int,
                    previous: CachedPreview | None = None) -> CachedPreview:
    """``preview`` once per (files, options, database state): ``previous`` is returned while it still holds."""
    key = _preview_key(store, files, options, limit_mb)
    if previous is not None and previous.key == key:
        return previous
    return CachedPreview(key, preview(store, files, options, limit_mb=limit_mb))


def remembered_day_first(store: Store) -> bool:
    """The date order chosen last time ambiguous dates were imported (month first until then)."""
    return bool(store.get_setting(DAY_FIRST_SETTING, False))


def import_uploads(store: Store, files: list[SourceFile | Path], options: ImportOptions,
                   limit_mb: int | None = None) -> ImportReport:
    """``run_import``, then remember the date order the analyst chose, so the next ambiguous file defaults to it."""
    report = run_import(store, files, options, limit_mb=limit_mb)
    if options.day_first is not None:
        store.set_setting(DAY_FIRST_SETTING, options.day_first)
    return report
