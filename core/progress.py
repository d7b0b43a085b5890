"""The progress callback every long-running core job takes: ``progress(fraction, message)``.

``fraction`` runs from 0 to 1; ``message`` says what is happening now. Pages
draw it as a progress bar; the command lines print it; tests pass nothing.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default callback: report nothing."""


def progress_span(progress: Progress, start: float, end: float) -> Progress:
    """A callback for a sub-step that fills ``start``..``end`` of ``progress``'s range (never beyond it)."""
    return lambda fraction, message: progress(start + (end - start) * min(max(fraction, 0.0), 1.0), message)
