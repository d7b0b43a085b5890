"""The Predict page's managers' headline: a "best variant" only when one beats the control."""

from __future__ import annotations

import pandas as pd

from core.prediction.view import best_variant_headline


def _extra(rows):
    return pd.DataFrame(rows, columns=["variant_id", "extra_conversions", "extra_low", "extra_high",
                                       "extra_revenue", "revenue_low", "revenue_high"])


def test_the_variant_with_most_extra_conversions_is_named_best_with_money():
    tile = best_variant_headline(_extra([("A", 12.0, 2, 20, 600.0, 100.0, 1000.0),
                                         ("B", 30.0, 10, 50, 1500.4, 500.0, 2500.0)]), 10_000)
    assert tile.label == "Best variant B: extra revenue for 10,000 sends"
    assert tile.value == "$1,500" and tile.help == "90% interval $500 to $2,500"


def test_no_best_variant_when_every_variant_is_below_the_control():
    tile = best_variant_headline(_extra([("A", -12.0, -20, -2, -600.0, -1000.0, -100.0),
                                         ("B", -3.0, -9, 4, -150.0, -450.0, 200.0)]), 5_000)
    assert "Best" not in tile.label
    assert tile.label.startswith("No variant beats the control (closest: B)")
    assert tile.value == "-$150"


def test_nothing_to_say_without_variants():
    assert best_variant_headline(_extra([]), 1_000) is None
