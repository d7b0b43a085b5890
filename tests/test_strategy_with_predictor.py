"""A plan built from the real predictor (trained fast on a small synthetic shop): the contract end to end."""

from __future__ import annotations

import pytest

from core.segments import EVERYONE
from core.strategy.inputs import build_plan, export_now
from core.strategy.plan import PlanSettings
from core.strategy.records import save_strategy, set_status

pytestmark = pytest.mark.slow


def test_plan_and_export_from_a_trained_predictor(store, tmp_path):
    from prediction_fixtures import fill_store

    from core.prediction.features import build_training_data
    from core.prediction.training import FAST_SETTINGS, fit_predictor

    fill_store(store, n_users=150, n_campaigns=4)
    # Fitted in memory: the plan only needs a Predictor (saving/loading is the registry's own tests).
    predictor = fit_predictor(build_training_data(store, "conversion"), FAST_SETTINGS)
    predictor.version = 1
    store.execute("UPDATE variants SET in_working_set = TRUE WHERE variant_id IN ('C01-B', 'C03-B')")
    plan = build_plan(store, predictor, name="Synthetic", segments=[EVERYONE],
                      variant_ids={"All customers": ["C01-B", "C03-B"]},
                      settings=PlanSettings(mode="explore", floor=0.05), control_variant_id="C01-A")
    seg = plan.segments[0]
    assert [a.variant_id for a in seg.arms] == ["C01-A", "C01-B", "C03-B"]
    assert seg.members == 150 and sum(a.sends for a in seg.arms) == 150
    assert all(0 <= a.low <= a.rate <= a.high <= 1 for a in seg.arms)
    assert plan.predictor_version == 1
    rec = save_strategy(store, plan, author="mia")
    set_status(store, rec.strategy_id, "submitted")
    set_status(store, rec.strategy_id, "approved", author="boss")
    _, bundle, paths = export_now(store, rec.strategy_id, author="mia", out_dir=tmp_path / "exports")
    assert len(paths) == 5 and len(bundle.files) == 5
