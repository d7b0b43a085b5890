"""The predicted-rate chart shows the control the lifts are measured against, history included."""

from __future__ import annotations

import pandas as pd
import pytest

from core.prediction.charts import rate_chart
from core.prediction.view import chart_rows


def _table(rows):
    return pd.DataFrame(rows, columns=["variant_id", "channel", "rate", "low", "high", "lift_pts", "is_control"])


def test_a_historical_control_becomes_a_grey_bar_per_channel():
    # In percent, as prediction_table gives them: lift = rate - the segment's historical rate.
    table = _table([("A", "email_subject", 3.0, 2.5, 3.5, 1.0, False),
                    ("B", "email_subject", 2.5, 2.0, 3.0, 0.5, False),
                    ("C", "push", 1.2, 1.0, 1.4, -0.3, False)])
    rows = chart_rows(table)
    history = rows[rows["is_control"]].set_index("channel")
    assert history["rate"].to_dict() == pytest.approx({"email_subject": 2.0, "push": 1.5})
    assert history.loc["push", "variant_id"] == "segment's history, push"
    fig = rate_chart(rows)
    assert "segment's history, email_subject (control)" in list(fig.data[0].y)
    assert list(fig.data[0].marker.color).count("#9e9e9e") == 2


def test_a_variant_control_adds_nothing():
    table = _table([("A", "sms", 3.0, 2.5, 3.5, None, True), ("B", "sms", 3.5, 3.0, 4.0, 0.5, False)])
    assert chart_rows(table).equals(table)


def test_no_lift_known_adds_nothing():
    table = _table([("A", "sms", 3.0, 2.5, 3.5, None, False)])
    assert len(chart_rows(table)) == 1


def test_default_control_is_the_first_flagged_row_among_the_options():
    import pandas as pd

    from core.prediction.view import default_control_index

    rows = pd.DataFrame({"variant_id": ["a", "b", "c"], "is_control": [False, True, True]})
    assert default_control_index(rows, ["__history__", "a", "b", "c"]) == 2
    assert default_control_index(rows.assign(is_control=[False, None, False]), ["a", "b", "c"]) == 0
    assert default_control_index(rows, ["a", "c"]) == 1  # the flagged row must be offered
