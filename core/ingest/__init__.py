"""Importing analysts' CSV exports into CopyLift: preview first, then one atomic, logged, undoable import.

Public API: ``preview``, ``run_import``, ``undo_import``, ``rejected_csv``,
``ImportOptions``, ``ImportReport``, ``SourceFile``; generic column mapping in
``core.ingest.mapping``. The command line (``python -m core.ingest``) and the
Data page call the same functions.
"""

from core.ingest.context import ImportOptions
from core.ingest.importer import DAY_FIRST_SETTING, ImportReport, preview, rejected_csv, run_import
from core.ingest.sniff import ENCODING_CHOICES, SourceFile
from core.ingest.writer import undo_import

__all__ = [
    "DAY_FIRST_SETTING",
    "ENCODING_CHOICES",
    "ImportOptions",
    "ImportReport",
    "SourceFile",
    "preview",
    "rejected_csv",
    "run_import",
    "undo_import",
]
