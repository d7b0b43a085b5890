"""Figures as people read them: percentages, percentage points and money with a currency sign."""

from __future__ import annotations

import math

from core.number_format import MISSING, count, money, money_column_format, pct, pts


def test_rates_read_as_percentages_with_two_decimals():
    assert pct(0.0234) == "2.34%"
    assert pct(0.5, decimals=0) == "50%"
    assert pct(None) == "n/a" and pct(math.nan) == "n/a"


def test_lifts_read_as_signed_points():
    assert pts(0.0045) == "+0.45 pts"
    assert pts(-0.012) == "-1.20 pts"


def test_money_has_the_sign_before_the_minus_and_thousands_separators():
    assert money(1234.4) == "$1,234"
    assert money(-56.0) == "-$56"
    assert money(10.5, "€", decimals=2) == "€10.50"
    assert money(None) == "n/a"


def test_table_formats_use_streamlits_named_currencies_when_there_is_one():
    assert money_column_format("$") == "dollar"
    assert money_column_format("CHF ") == "CHF %.2f"


def test_missing_and_nan_read_as_n_a_in_every_format():
    assert count(1234.4) == "1,234"
    for value in (None, math.nan):
        assert count(value) == pts(value) == money(value) == MISSING
