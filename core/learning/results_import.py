"""Importing campaign results: one flow for the Results page and the simulation.

The results file goes through the importer like any other export. Then every
strategy id it carries is matched against that strategy's exported plan (ids
the plan does not know are imported and reported, never dropped), a strategy
that was found is marked measured, and when the analyst turned automatic
retraining on, the predictor is retrained. What happened comes back as plain
messages with a level (``success``, ``info``, ``warning``) for the page to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.config import AppConfig
from core.errors import ValidationError
from core.ingest.context import ImportOptions
from core.ingest.importer import ImportReport, preview
from core.ingest.sniff import SourceFile
from core.ingest.uploads import import_uploads
from core.learning.matching import MatchReport, match_stored
from core.learning.results import mark_measured, strategies_in_import
from core.learning.retrain import RetrainReport, after_import
from core.progress import Progress, no_progress, progress_span
from core.store import Store

Message = tuple[str, str]  # (level, text); level is "success", "info" or "warning"


@dataclass(frozen=True)
class ResultsImport:
    """What importing one results upload did."""

    report: ImportReport
    strategies: tuple[str, ...]  # strategy ids the imported rows carry
    matches: tuple[MatchReport, ...]  # one per strategy id
    measured: tuple[str, ...]  # strategies found and marked measured
    retrain: RetrainReport | None  # the automatic retrain, when it ran
    messages: tuple[Message, ...]


def import_results(
    store: Store,
    cfg: AppConfig,
    files: list[SourceFile | Path],
    options: ImportOptions,
    *,
    limit_mb: int | None = None,
    expect_rows: int | None = None,
    auto_retrain: bool = True,
    progress: Progress | None = None,
) -> ResultsImport:
    """Import a results upload, match it to its strategies, mark them measured, retrain when enabled.

    ``options.imported_by`` also signs the strategies' ``measured`` versions.
    ``expect_rows``: the import must take exactly this many result rows, none
    rejected and none skipped as already imported; checked on a preview before
    anything is written, and on the import's report (``ValidationError``).
    ``auto_retrain=False`` skips the automatic retrain even when the setting is
    on (the simulation retrains itself between rounds).
    """
    say = progress or no_progress
    say(0.0, "Importing the results")
    if expect_rows is not None:
        _check_preview(preview(store, files, options, limit_mb=limit_mb), expect_rows, files)
    report = import_uploads(store, files, options, limit_mb)
    if expect_rows is not None and report.tables.get("exposures") != expect_rows:
        raise ValidationError(f"{_names(files)}: {report.tables.get('exposures', 0)} of {expect_rows} rows imported")
    say(0.1, "Matching the results to their strategies")
    sids = tuple(strategies_in_import(store, report.import_id)) if report.import_id else ()
    messages: list[Message] = [("success", report.message)]
    matches, measured = [], []
    for sid in sids:
        match = match_stored(store, sid)
        matches.append(match)
        if match.strategy_found:
            mark_measured(store, sid, author=options.imported_by)
            measured.append(sid)
        messages += [("info" if i == 0 and match.strategy_found else "warning", m) for i, m in enumerate(match.messages)]
    retrained = None
    if auto_retrain and report.import_id:
        retrained = after_import(store, cfg, report.import_id, progress_span(say, 0.2, 1.0))
    say(1.0, report.message)
    return ResultsImport(report, sids, tuple(matches), tuple(measured), retrained, tuple(messages))


def _check_preview(check: ImportReport, expect_rows: int, files: list[SourceFile | Path]) -> None:
    """Refuse, before anything is written, an upload the importer would not take whole."""
    if check.rows_rejected or check.rows_accepted != expect_rows or check.tables.get("exposures") != expect_rows:
        raise ValidationError(
            f"{_names(files)}: the importer would take {check.tables.get('exposures', 0)} of {expect_rows} result "
            f"rows ({check.rows_rejected} rejected: {check.reject_reasons}); {' '.join(check.issues)}"
        )


def _names(files: list[SourceFile | Path]) -> str:
    return ", ".join(getattr(f, "name", str(f)) for f in files)
