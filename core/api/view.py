"""What the Results page shows of the decision service: live counts, allocation history, retrains.

The dashboard reads the service's tables directly: both run in one process on
one DuckDB database (see ``core.api.server``), so what the service committed is
what the page reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from core.api.learn import allocation_history, arm_counts
from core.charts import require_columns
from core.store import Store


@dataclass(frozen=True)
class LiveView:
    counts: pd.DataFrame  # segment x arm: decided, sends, opens, clicks, conversions, revenue
    history: pd.DataFrame  # update x segment x arm: share and the counts it used
    retrains: pd.DataFrame
    events: int


def live_strategies(store: Store) -> pd.DataFrame:
    """Strategies the service has decided for: id, name, decided users, events, last activity."""
    return store.df(
        """WITH d AS (SELECT strategy_id, count(DISTINCT user_id) AS decided, max(decided_at) AS last_decision
                      FROM api_decisions GROUP BY 1),
                e AS (SELECT strategy_id, count(*) AS events, max(received_at) AS last_event FROM api_events GROUP BY 1),
                s AS (SELECT strategy_id, name FROM strategies
                      QUALIFY row_number() OVER (PARTITION BY strategy_id ORDER BY version DESC) = 1)
           SELECT d.strategy_id, s.name, d.decided, coalesce(e.events, 0) AS events,
                  greatest(d.last_decision, e.last_event) AS last_activity
           FROM d LEFT JOIN e USING (strategy_id) LEFT JOIN s USING (strategy_id)
           ORDER BY last_activity DESC NULLS LAST"""
    )


def live_view(store: Store, strategy_id: str) -> LiveView:
    counts = arm_counts(store, strategy_id)
    counts = counts.assign(rate=(counts["conversions"] / counts["sends"].where(counts["sends"] > 0)).astype(float))
    retrains = store.df("SELECT run_no, trigger, status, old_version, new_version, error, started_at, finished_at "
                        "FROM api_retrains ORDER BY run_no DESC LIMIT 10")
    events = int(store.scalar("SELECT count(*) FROM api_events WHERE strategy_id = ?", [strategy_id]))
    return LiveView(counts, allocation_history(store, strategy_id), retrains, events)


def allocation_history_chart(history: pd.DataFrame) -> go.Figure:
    """Share of each arm after every live update, one panel per segment."""
    require_columns(history, ["update_no", "segment_name", "variant_id", "share", "trigger", "conversions"])
    data = history.assign(share_pct=history["share"].astype(float) * 100)
    fig = px.line(data, x="update_no", y="share_pct", color="variant_id", facet_col="segment_name", markers=True,
                  hover_data={"trigger": True, "conversions": True, "sends": "sends" in data.columns},
                  labels={"update_no": "allocation update", "share_pct": "share of the segment (%)",
                          "variant_id": "arm", "segment_name": "segment"},
                  title="Live allocation: each arm's share after every update (0 = as approved)")
    fig.update_xaxes(dtick=1)
    return fig
