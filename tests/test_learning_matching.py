"""Results are matched to an exported strategy by strategy id and variant id; nothing is dropped silently."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFoundError
from core.learning.allocation import next_allocation, update_allocation
from core.learning.matching import exported_record, match_results, match_stored, match_upload, plan_frame
from core.learning.results import strategy_readout, strategy_results, trust_frame
from core.prediction.types import VariantPrediction
from core.segments.catalog import SegmentRef
from core.strategy.plan import Plan, PlanSettings, build_segment_plan
from core.strategy.records import save_strategy, set_status


def _pred(vid: str, seg: str, rate: float, control: bool = False) -> VariantPrediction:
    return VariantPrediction(vid, seg, rate, rate - 0.004, rate + 0.004, 10_000, is_control=control, model_version=1)


def exported_strategy(store) -> str:
    """Two segments: Cart abandoners (control copy c0, v1, v2) and Champions (c0 as control, v1)."""
    settings = PlanSettings(mode="explore", holdout=0.2, floor=0.05, seed=1)
    cart = build_segment_plan(
        SegmentRef("cart", 1, "Cart abandoners"),
        [_pred("c0", "Cart abandoners", 0.03, True), _pred("v1", "Cart abandoners", 0.035), _pred("v2", "Cart abandoners", 0.032)],
        members=10_000, avg_order_value=40.0, settings=settings,
    )
    champs = build_segment_plan(
        SegmentRef("champ", 1, "Champions"),
        [_pred("c0", "Champions", 0.05, True), _pred("v1", "Champions", 0.052)],
        members=4_000, avg_order_value=60.0, settings=settings,
    )
    rec = save_strategy(store, Plan("Spring sale", settings, (cart, champs), predictor_version=1), author="ana")
    set_status(store, rec.strategy_id, "submitted", author="ana")
    set_status(store, rec.strategy_id, "approved", author="boss", comment="go")
    set_status(store, rec.strategy_id, "exported", author="ana")
    return rec.strategy_id


def _aggregate(store, sid: str) -> None:
    rows = pd.DataFrame(
        {
            "variant_id": ["c0", "v1", "v2", "vX", "c0", "v1"],
            "segment_name": ["Cart abandoners"] * 4 + ["Champions"] * 2,
            "sends": [2000, 4000, 4000, 500, 800, 3200],
            "conversions": [60, 160, 120, 5, 40, 170],
            "revenue": [2400.0, 6400.0, 4800.0, 200.0, 2400.0, 10200.0],
            "strategy_id": sid,
        }
    )
    store.insert_df("variant_results", rows)


def test_plan_frame_lists_every_arm_with_its_prediction(store):
    sid = exported_strategy(store)
    plan = plan_frame(exported_record(store, sid))
    assert len(plan) == 5
    row = plan.set_index(["segment_name", "variant_id"]).loc[("Cart abandoners", "v1")]
    assert row["pred_rate"] == pytest.approx(0.035) and row["model_version"] == 1
    assert plan["strategy_version"].iloc[0] == 4  # the exported version, not the draft


def test_match_reports_unknown_and_missing_ids(store):
    sid = exported_strategy(store)
    _aggregate(store, sid)
    report = match_stored(store, sid)
    assert report.strategy_found
    assert report.matched == ("c0", "v1", "v2")
    assert report.unknown_variants == ("vX",)
    assert report.unmatched_rows == 1
    assert not report.ok
    assert any("vX" in m for m in report.messages)


def test_match_upload_flags_unknown_strategy_and_missing_results(store):
    sid = exported_strategy(store)
    upload = pd.DataFrame(
        {"strategy_id": [sid, sid, "stg-nope", None], "variant_id": ["c0", "v1", "v1", "z"]}
    )
    reports = {r.strategy_id: r for r in match_upload(store, upload)}
    assert reports[sid].missing_variants == ("v2",)
    assert reports[sid].ok
    assert not reports["stg-nope"].strategy_found
    assert "not known" in reports["stg-nope"].messages[0]
    assert reports[None].rows == 1  # rows without a strategy id are reported, not dropped


def test_match_results_pure_unknown_segment():
    plan = pd.DataFrame({"variant_id": ["a", "b"], "segment_name": ["S", "S"]})
    res = pd.DataFrame({"variant_id": ["a", "b"], "segment_name": ["S", "T"]})
    report = match_results(plan, res, "s1")
    assert report.unknown_segments == ("T",)


def test_results_become_segment_counts_and_readout(store):
    sid = exported_strategy(store)
    _aggregate(store, sid)
    arms, users = strategy_results(store, sid)
    assert users is None
    assert len(arms) == 5  # vX is left out here, reported by the match
    cart_v1 = arms.set_index(["segment_name", "variant_id"]).loc[("Cart abandoners", "v1")]
    assert (cart_v1["sends"], cart_v1["conversions"]) == (4000, 160)
    result = strategy_readout(store, sid, labels={"v1": "Variant v1"})
    # Cart: 4.0% vs 3.0%, +1.0 pts; z = 0.01 / sqrt(0.036667 * 0.963333 * (1/2000 + 1/4000)) = 1.943,
    # p = 0.052: not reliable (Holm makes it 0.104). Champions: 5.31% vs 5.0%, no difference either.
    t = result.table.set_index(["segment_name", "variant_id"])
    assert t.loc[("Cart abandoners", "v1"), "p_value"] == pytest.approx(0.052, abs=0.001)
    assert t.loc[("Cart abandoners", "v1"), "p_holm"] == pytest.approx(0.104, abs=0.002)
    assert not t.loc[("Cart abandoners", "v1"), "significant"]
    assert result.summary[1] == "No reliable difference from control in Champions."


def test_user_level_results_bootstrap_revenue(store):
    settings = PlanSettings(mode="best", holdout=0.3)
    seg = build_segment_plan(
        SegmentRef(None, None, "All customers"),
        [_pred("c0", "All customers", 0.03, True), _pred("v2", "All customers", 0.05)],
        members=3000, avg_order_value=50.0, settings=settings,
    )
    sid = save_strategy(store, Plan("One segment", settings, (seg,), predictor_version=1)).strategy_id
    n = 3000
    arm = np.where(np.arange(n) < 1000, "c0", "v2")
    conv = np.zeros(n, bool)
    conv[:30] = True  # control: 30 of 1000
    conv[1000:1120] = True  # v2: 120 of 2000
    store.insert_df(
        "exposures",
        pd.DataFrame(
            {
                "user_id": [f"u{i}" for i in range(n)], "variant_id": arm,
                "sent_at": pd.Timestamp("2026-01-01"), "converted": conv,
                "revenue": np.where(conv, 50.0, 0.0), "strategy_id": sid, "source": "import",
            }
        ),
    )
    arms, users = strategy_results(store, sid)
    counts = arms.set_index("variant_id")
    assert (counts.loc["c0", "sends"], counts.loc["c0", "conversions"]) == (1000, 30)
    assert (counts.loc["v2", "sends"], counts.loc["v2", "conversions"]) == (2000, 120)
    assert users is not None and len(users) == n
    t = strategy_readout(store, sid).table.set_index("variant_id")
    assert set(t["revenue_method"]) == {"bootstrap"}
    assert t.loc["v2", "revenue_per_send"] == pytest.approx(3.0)  # 120 * 50 / 2000
    assert t.loc["v2", "significant"]  # 6.0% vs 3.0%: z = 3.5


def test_next_allocation_moves_traffic_to_the_observed_winner():
    plan = pd.DataFrame(
        {
            "segment_name": "S", "variant_id": ["c", "a", "b"], "is_control": [True, False, False],
            "pred_rate": [0.03, 0.03, 0.03], "pred_low": [0.02, 0.02, 0.02], "pred_high": [0.04, 0.04, 0.04],
        }
    )
    none = next_allocation(plan, pd.DataFrame(), floor=0.05, holdout=0.1, seed=0)
    assert none["share"].sum() == pytest.approx(0.9)
    assert abs(none["share"].iloc[0] - none["share"].iloc[1]) < 0.05  # same prior, no data: even split
    arms = pd.DataFrame({"segment_name": "S", "variant_id": ["a", "b"], "sends": [5000, 5000], "conversions": [250, 125]})
    alloc = next_allocation(plan, arms, floor=0.05, holdout=0.1, seed=0).set_index("variant_id")
    assert alloc.loc["a", "share"] > 0.8 and alloc.loc["b", "share"] == pytest.approx(0.05, abs=0.01)
    # Beta-Binomial update on top of the model prior: posterior = prior + successes / failures.
    assert alloc.loc["a", "posterior_alpha"] == pytest.approx(alloc.loc["a", "prior_alpha"] + 250)
    assert alloc.loc["a", "posterior_beta"] == pytest.approx(alloc.loc["a", "prior_beta"] + 4750)


def test_update_allocation_saves_a_new_version(store):
    sid = exported_strategy(store)
    _aggregate(store, sid)
    before = exported_record(store, sid)
    after = update_allocation(store, sid, author="ana")
    assert after.version == before.version + 1 and after.status == "measured"
    seg = {s.segment.name: s for s in after.plan.segments}["Cart abandoners"]
    shares = {a.variant_id: a.share for a in seg.variants}
    assert shares["v1"] > shares["v2"]  # v1 converted 4.0% vs v2's 3.0%
    assert exported_record(store, sid).version == after.version


def test_trust_frame_pairs_predictions_with_observations(store):
    sid = exported_strategy(store)
    _aggregate(store, sid)
    trust = trust_frame(store)
    assert len(trust) == 5
    assert {"obs_rate", "pi_low", "pi_high", "inside"} <= set(trust.columns)
    with pytest.raises(NotFoundError):
        strategy_readout(store, "stg-missing")


def test_unplanned_campaigns_are_read_out_with_a_chosen_control(store):
    from core.learning.experiments import readout
    from core.learning.results import campaign_arms, unplanned_campaigns
    from tests.learning_world import build_world

    build_world(store, n_users=400)
    assert list(unplanned_campaigns(store)["campaign_id"]) == ["P1", "P2"]
    arms = campaign_arms(store, "P1").set_index("variant_id")
    assert arms["sends"].tolist() == [400, 400] and arms.loc["P1-A", "is_control"]
    flipped = campaign_arms(store, "P1", control_variant_id="P1-B").set_index("variant_id")
    assert flipped.loc["P1-B", "is_control"] and not flipped.loc["P1-A", "is_control"]
    assert readout(flipped.reset_index()).table["segment_name"].unique().tolist() == ["All customers"]
    with pytest.raises(NotFoundError):
        campaign_arms(store, "P1", control_variant_id="nope")
    with pytest.raises(NotFoundError):
        campaign_arms(store, "NOPE")
