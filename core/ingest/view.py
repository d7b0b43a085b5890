"""What the Data page (and the Results page's upload) shows of an import preview, as plain text and frames."""

from __future__ import annotations

import pandas as pd

from core.ingest.context import ImportOptions
from core.ingest.importer import ImportReport

# The two answers to "which order are these dates in?", in the order the page offers them.
DATE_ORDERS = ("month first (M/D/Y)", "day first (D/M/Y)")


def day_first_of(order: str | None) -> bool | None:
    """The ``ImportOptions.day_first`` an answer from ``DATE_ORDERS`` means (None: not asked yet)."""
    return None if order is None else order == DATE_ORDERS[1]


def preview_summary(report: ImportReport, *, with_tables: bool = True) -> str:
    """One line: format, rows read / accepted / rejected, (new rows per table), the importer's message."""
    line = (f"**{report.format_label}**: {report.rows_read:,} rows read, {report.rows_accepted:,} accepted, "
            f"{report.rows_rejected:,} rejected.")
    if with_tables:
        line += " New rows: " + ", ".join(f"{t} {n:,}" for t, n in report.tables.items())
        return line + (". " + report.message if report.message else "")
    return line + (" " + report.message if report.message else "")


def files_frame(report: ImportReport) -> pd.DataFrame:
    """One row per uploaded file: how it was read (compression, encoding, separator) and its row counts."""
    cols = ["name", "compression", "encoding", "encoding_confidence", "separator", "columns", "rows_read",
            "rows_rejected"]
    return pd.DataFrame(report.files)[cols] if report.files else pd.DataFrame(columns=cols)


def mapping_frame(report: ImportReport) -> pd.DataFrame:
    """The column mapping the import uses: file, its column, the CopyLift field it fills."""
    rows = [(f, src, dst) for f, m in report.mapping.items() for src, dst in m.items()]
    return pd.DataFrame(rows, columns=["file", "column", "CopyLift field"])


def format_labels(formats: dict[str, str]) -> dict[str, str]:
    """The Format box's choices: detect, every known format (name -> label), or a generic column mapping."""
    return {"detect": "Detect from the columns", **formats, "generic": "Generic: map columns myself"}


def options_from_form(fmt: str, encoding: str, mapping: dict | None, imported_by: str) -> ImportOptions:
    """``ImportOptions`` from the Format and Encoding boxes ("detect" and "generic" leave the choice to the importer)."""
    return ImportOptions(format=None if fmt in ("detect", "generic") else fmt,
                         encoding=None if encoding == "detect" else encoding,
                         mapping=mapping if fmt == "generic" else None, imported_by=imported_by)


def undo_choices(done: pd.DataFrame) -> dict[str, int]:
    """Label -> import id for the Undo box, from ``undoable_imports`` (newest first)."""
    return {f"#{r.import_id} {r.file_name} ({r.format}, {r.rows_accepted:,} rows)": int(r.import_id)
            for r in done.itertuples()}


def undone_message(import_id: int, deleted: dict[str, int]) -> str:
    return f"Import {import_id} undone: removed " + ", ".join(f"{n:,} {t}" for t, n in deleted.items()) + "."


def reset_message(counts: dict[str, int]) -> str:
    return (f"Reset done: {counts['users']:,} users, {counts['events']:,} events, "
            f"{counts['exposures']:,} exposures loaded.")
