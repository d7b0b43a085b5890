"""Journey 3: a manager approves a submitted strategy, exports it, uploads its results and reads them.

The database is seeded (before the server opens it) with a strategy a marketer
built and submitted: a real built-in segment, three real sample variants (one
the control) and hand-set predictions, so the journey does not wait for a model
to train. In the browser the manager approves it, exports it, downloads the
assignments, uploads user-level results drawn from those assignments, and sees
the readout and the predicted-vs-actual chart.
"""

from __future__ import annotations

import csv
import io
import re

import numpy as np
from harness import (
    assert_clean,
    click,
    download,
    goto_page,
    key,
    limit,
    main_text,
    pick,
    rerun,
    screenshot,
    upload,
    wait_idle,
    wait_text,
)

SEGMENT_ID = "rfm_champions"
CONTROL, VARIANTS = "C001-A", ("C001-B", "C001-C")
# Hand-set predictions (rate, low, high) and the "true" rates the results are drawn from.
PREDICTED = {"C001-A": (0.020, 0.014, 0.027), "C001-B": (0.030, 0.022, 0.039), "C001-C": (0.025, 0.018, 0.033)}
TRUE_RATE = {"C001-A": 0.02, "C001-B": 0.05, "C001-C": 0.02}
STRATEGY_NAME = "Champions SMS test"


def SEED(store, cfg) -> None:  # noqa: N802 (the harness looks for this name)
    from core.prediction.types import VariantPrediction
    from core.segments import get_segment, segment_members
    from core.segments.catalog import SegmentRef
    from core.strategy.plan import Plan, PlanSettings, build_segment_plan
    from core.strategy.records import save_strategy, set_status

    seg = get_segment(store, SEGMENT_ID)
    members = len(segment_members(store, seg))
    info = store.df(
        "SELECT variant_id, channel, copy_text FROM variants WHERE variant_id IN (?, ?, ?)", [CONTROL, *VARIANTS]
    ).set_index("variant_id").to_dict("index")
    c_rate = PREDICTED[CONTROL][0]
    preds = [
        VariantPrediction(
            variant_id=vid, segment_name=seg.name, rate=r, low=lo, high=hi, n_members=members,
            is_control=vid == CONTROL, lift_pts=None if vid == CONTROL else r - c_rate,
            lift_low=None if vid == CONTROL else lo - c_rate, lift_high=None if vid == CONTROL else hi - c_rate,
            model_version=None,
        )
        for vid, (r, lo, hi) in PREDICTED.items()
    ]
    settings = PlanSettings(mode="explore", holdout=0.2, floor=0.1, seed=11)
    plan = Plan(
        name=STRATEGY_NAME,
        settings=settings,
        segments=(build_segment_plan(SegmentRef(seg.segment_id, seg.version, seg.name), preds, members=members,
                                     avg_order_value=60.0, settings=settings, variant_info=info),),
        predictor_version=None,
    )
    record = save_strategy(store, plan, author="Mara (marketer)")
    set_status(store, record.strategy_id, "submitted", author="Mara (marketer)", comment="Ready for review")


def _results_from(assignments: list[dict[str, str]], strategy_id: str) -> str:
    """User-level results for the exported assignments: holdout users got the control copy."""
    rng = np.random.default_rng(5)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["user_id", "variant_id", "strategy_id", "sent_at", "converted", "revenue"])
    for row in assignments:
        vid = CONTROL if row["variant_id"] == "control" else row["variant_id"]
        converted = bool(rng.random() < TRUE_RATE[vid])
        writer.writerow([row["user_id"], vid, strategy_id, "2026-07-01 09:00:00", int(converted),
                         f"{rng.gamma(4, 15):.2f}" if converted else "0"])
    return out.getvalue()


def test_manager_approves_exports_and_reads_the_results(page, tmp_path):
    goto_page(page, "Strategy & Export")
    page.locator(f'{key("strategy.user")} input').fill("Sam (manager)")
    rerun(page, lambda: page.keyboard.press("Enter"))
    pick(page, "strategy.view", "Review, approve & export")
    wait_text(page, "submitted")
    assert STRATEGY_NAME in main_text(page)
    screenshot(page, "manager-1-review")

    page.locator(f'{key("strategy.comment")} textarea').fill("Approved: send Tuesday morning.")
    click(page, "strategy.to_approved")
    wait_text(page, "· approved")  # the view stays on the review after the approval's rerun
    click(page, "strategy.export", timeout_ms=limit(60_000))
    wait_text(page, "Exported version")
    assert_clean(page)
    screenshot(page, "manager-2-approved-exported")

    buttons = page.locator('[class*="st-key-strategy-dl-"]').filter(has_text="assignments.csv")
    assert buttons.count() == 1
    widget_key = next(c for c in buttons.first.get_attribute("class").split() if c.startswith("st-key-"))
    # Export files are named <strategy id>-v<version>-<part>.
    stem = buttons.first.inner_text().split("Download ")[-1].split("-assignments")[0].strip()
    strategy_id = re.sub(r"-v\d+$", "", stem)
    assignments = list(csv.DictReader(io.StringIO(
        download(page, widget_key.removeprefix("st-key-"), tmp_path).read_text(encoding="utf-8"))))
    assert len(assignments) > 100
    assert {r["variant_id"] for r in assignments} == {"control", *VARIANTS}

    results = tmp_path / "campaign_results.csv"
    results.write_text(_results_from(assignments, strategy_id), encoding="utf-8")
    goto_page(page, "Results & Learning")
    upload(page, "results.upload", results)
    wait_text(page, f"{len(assignments):,} rows read")
    click(page, "results.import", timeout_ms=limit(120_000))
    wait_text(page, f"Imported {len(assignments):,} of {len(assignments):,} rows", timeout_ms=limit(60_000))
    # The page reruns after the import; the trust section then has the measured strategy.
    chart = page.locator(f'{key("results.trust_scatter")} [data-testid="stPlotlyChart"], '
                         f'{key("results.trust_scatter")}.stPlotlyChart, {key("results.trust_scatter")} .js-plotly-plot')
    chart.first.wait_for(timeout=limit(60_000))
    wait_idle(page)
    assert_clean(page)

    text = main_text(page)
    assert "Strategy " + strategy_id in text and "3 arms matched" in text
    assert "Readout" in text
    # Predicted vs actual, with its title and axis labels.
    chart_text = page.locator(key("results.trust_scatter")).inner_text()
    assert "Predicted vs observed" in chart_text
    assert "Predicted conversion (%)" in chart_text and "Observed conversion (%)" in chart_text
    screenshot(page, "manager-3-readout")
