"""How figures read on the pages: rates as percentages, lifts in points, money with a currency sign.

Pages format through these helpers so every page shows a rate of 0.0234 as
``2.34%`` and revenue as ``$1,234``, never as raw fractions. Neither the
database nor the sample data records a currency, and the Copy Lab's briefs
default to ``$``, so ``$`` is the default here too; callers may pass another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_CURRENCY = "$"
MISSING = "n/a"


@dataclass(frozen=True)
class Headline:
    """One ``st.metric`` tile as shown: its label, the formatted value and the help text (an interval)."""

    label: str
    value: str
    help: str | None = None


def _known(value: float | None) -> float | None:
    """``value``, or None when it is missing (None or NaN), so one ``is None`` test covers both."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def count(value: float | None) -> str:
    """A count of people or conversions, rounded, with thousands separators (``1,234``)."""
    known = _known(value)
    return MISSING if known is None else f"{known:,.0f}"


def pct(rate: float | None, decimals: int = 2) -> str:
    """A rate (0.0234) as a percentage (``2.34%``)."""
    known = _known(rate)
    return MISSING if known is None else f"{known * 100:.{decimals}f}%"


def pts(lift: float | None, decimals: int = 2) -> str:
    """A difference of rates (0.0045) in percentage points, signed (``+0.45 pts``)."""
    known = _known(lift)
    return MISSING if known is None else f"{known * 100:+.{decimals}f} pts"


def money(amount: float | None, currency: str = DEFAULT_CURRENCY, decimals: int = 0) -> str:
    """An amount with its currency sign and thousands separators (``$1,234``, ``-$56``)."""
    known = _known(amount)
    if known is None:
        return MISSING
    sign = "-" if known < 0 else ""
    return f"{sign}{currency}{abs(known):,.{decimals}f}"


_NAMED_COLUMN_FORMATS = {"$": "dollar", "€": "euro", "¥": "yen"}


def money_column_format(currency: str = DEFAULT_CURRENCY) -> str:
    """A ``st.column_config.NumberColumn`` format showing amounts with the currency sign.

    Streamlit's named formats add thousands separators; its printf formats cannot,
    so other currencies get a plain ``<sign>1234.56``.
    """
    return _NAMED_COLUMN_FORMATS.get(currency, currency.replace("%", "%%") + "%.2f")
