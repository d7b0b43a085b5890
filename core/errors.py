"""The small family of errors that ``core`` raises and pages turn into messages.

Each error carries a message written for the person using the app: what went
wrong and what to do about it. Pages catch ``CopyLiftError`` (or a subclass),
show ``str(err)`` with ``st.error`` and never a traceback.
"""

from __future__ import annotations


class CopyLiftError(Exception):
    """Base class for every error the user should see as a plain message."""


class ConfigError(CopyLiftError):
    """A setting (environment variable, secrets file, form value) is invalid."""


class StoreError(CopyLiftError):
    """The database could not be opened, migrated or written."""


class ValidationError(CopyLiftError):
    """User input (a form, a rule, an uploaded file) failed validation.

    ``problems`` lists individual issues, e.g. ``["line 4: date '31/02/2020' is not a date"]``.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class ImportFailed(CopyLiftError):
    """An import could not be completed; the database is unchanged."""


class NotFoundError(CopyLiftError):
    """A named thing (segment, strategy, model version, variant) does not exist."""


class ModelUnavailable(CopyLiftError):
    """The language model or the predictor could not be loaded."""


class GenerationError(CopyLiftError):
    """Copy generation failed (bad settings, model error)."""


class PredictionError(CopyLiftError):
    """Training or scoring the conversion predictor failed."""


class IntegrityError(CopyLiftError):
    """A saved file (model, export) does not match the hash the app recorded."""
