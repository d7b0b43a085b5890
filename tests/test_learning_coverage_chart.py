"""The Results page's "coverage by model version" chart: a bar per version, or a message, never an empty frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.learning.charts import coverage_chart
from core.learning.trust import add_observed, coverage


def _measured(versions: list) -> pd.DataFrame:
    """Trust cells as ``trust_frame`` gives them: one strategy per entry, planned with that model version."""
    rows = []
    for i, version in enumerate(versions):
        for j, conversions in enumerate((50, 52, 90)):  # 90 of 1000 is far outside 4-6%: one miss per strategy
            rows.append({"strategy_id": f"s{i}", "variant_id": f"v{j}", "model_version": version,
                         "pred_rate": 0.05, "pred_low": 0.04, "pred_high": 0.06,
                         "sends": 1000, "conversions": conversions})
    return add_observed(pd.DataFrame(rows))


def test_measured_strategies_get_one_bar_per_model_version():
    cells = _measured([1, 2])  # whole numbers: the column is int64, as when a model planned every strategy
    assert cells["model_version"].dtype == np.int64
    fig = coverage_chart(coverage(cells))
    assert fig.layout.xaxis.type == "category"  # "1", "2" must not turn into a number line with no bars
    bars = [t for t in fig.data if t.type == "bar"]
    assert len(bars) == 1
    assert list(bars[0].x) == ["v1", "v2"]
    assert [round(y, 1) for y in bars[0].y] == [66.7, 66.7]  # 2 of 3 cells inside in each version
    assert list(bars[0].text) == ["3 cells", "3 cells"]


def test_versions_and_unversioned_strategies_side_by_side():
    cells = _measured([3, None])  # one strategy planned without a model: object column with None
    bars = coverage_chart(coverage(cells)).data[0]
    assert list(bars.x) == ["v3", "no model version"]


def test_nothing_measured_says_so_instead_of_an_empty_frame():
    empty = coverage(pd.DataFrame())
    fig = coverage_chart(empty)
    assert not [t for t in fig.data if t.type == "bar" and t.x is not None and len(t.x)]
    assert any("No measured strategy" in (a.text or "") for a in fig.layout.annotations)
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
