"""The Results & Learning page: upload results -> readout -> retrain, driven with AppTest."""

from __future__ import annotations

import functools

import pytest

from core.store import Store
from tests.learning_world import TINY, aggregate_results_csv, build_world, exported_strategy


@pytest.fixture
def results_page(app_env, open_page, monkeypatch):
    """The page on a tiny shop (so training takes seconds) with one exported strategy."""
    import core.learning.retrain as learning

    # The page's retrain runs the real training code, with a very small model.
    monkeypatch.setattr(learning, "retrain", functools.partial(learning.retrain, settings=TINY))
    with Store(app_env / "data" / "copylift.duckdb") as store:
        build_world(store)
        sid = exported_strategy(store)
    return open_page("pages/results.py", timeout=180), sid


def test_upload_readout_and_retrain(results_page):
    at, sid = results_page
    assert any("No measured strategies yet" in i.value for i in at.info)
    at.file_uploader(key="results.upload").upload("results.csv", aggregate_results_csv(sid), "text/csv").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "4 rows read" in " ".join(m.value for m in at.markdown)
    at.button(key="results.import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # The unknown variant is imported and reported, not dropped.
    assert any("S-V9" in w.value for w in at.warning)
    # Readout: 7.0% vs 5.0% (+2.0 pts) and 5.125% vs 5.0%; the manager sentence names the winner.
    summary = " ".join(m.value for m in at.markdown)
    assert "Variant S-V1 beat control by +2.0 pts" in summary
    assert at.selectbox(key="results.strategy").value == sid
    # Trust section now has a measured strategy.
    assert any("Inside the predicted 90% interval" == m.label for m in at.metric)
    at.button(key="results.retrain").click().run()
    assert not at.exception, [e.value for e in at.exception]
    body = " ".join(m.value for m in at.markdown)
    assert "**Model version 1** (was None)" in body and "the old version is kept" in body
    metrics = at.dataframe[-1].value
    assert "held-out: share inside 90% interval" in set(metrics["metric"])
    assert any("Held out: the most recent" in c.value for c in at.caption)  # the rule is shown with the table
    # The drift line names its window.
    assert any("No sign of drift in the only measured strategy" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) >= 5  # trust scatter, reliability, coverage, lift, allocation (+ movement)


def test_allocation_can_be_saved_as_a_new_version(results_page):
    at, sid = results_page
    at.file_uploader(key="results.upload").upload("results.csv", aggregate_results_csv(sid), "text/csv").run()
    at.button(key="results.import").click().run()
    at.button(key="results.save_alloc").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # Version 5 marked the strategy measured when its results came in; the new allocation is version 6.
    assert any(f"Saved version 6 of {sid} (status: measured)" in s.value for s in at.success)


def test_results_preview_is_made_once_per_upload_not_on_every_rerun(results_page, monkeypatch):
    import core.ingest.importer as importer

    at, sid = results_page
    calls = []  # every preview stages all rows and ends in a "preview" report
    real = importer._build_report
    monkeypatch.setattr(importer, "_build_report", lambda *a, **k: calls.append(a[2]) or real(*a, **k))
    at.file_uploader(key="results.upload").upload("results.csv", aggregate_results_csv(sid), "text/csv").run()
    at.toggle(key="results.auto_retrain").set_value(True).run()  # any click reruns the page
    at.toggle(key="results.auto_retrain").set_value(False).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "4 rows read" in " ".join(m.value for m in at.markdown)
    assert calls.count("preview") == 1


def test_coverage_chart_has_a_bar_once_results_are_in(results_page):
    import json

    at, sid = results_page
    at.file_uploader(key="results.upload").upload("results.csv", aggregate_results_csv(sid), "text/csv").run()
    at.button(key="results.import").click().run()
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    cov = next(s for s in specs if "Coverage" in s["layout"]["title"]["text"])
    assert cov["layout"]["xaxis"]["type"] == "category"
    assert [t["x"] for t in cov["data"] if t["type"] == "bar"] == [["no model version"]]  # planned without a model


def test_results_with_ambiguous_dates_ask_the_order_as_on_the_data_page(results_page):
    at, sid = results_page
    lines = ["strategy_id,user_id,variant_id,campaign_id,sent_at,converted,revenue"]
    lines += [f"{sid},u{i:04d},{('S-CTL', 'S-V1', 'S-V2')[i % 3]},S-MAR,03/04/2026 09:{i:02d},{int(i % 7 == 0)},0"
              for i in range(30)]
    at.file_uploader(key="results.upload").upload("march.csv", ("\n".join(lines) + "\n").encode(), "text/csv").run()
    assert any("fits both day-first and month-first" in w.value for w in at.warning)
    at.radio(key="results.date_order").set_value("day first (D/M/Y)").run()
    at.button(key="results.import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Imported 30 of 30 rows" in s.value for s in at.success)
    from pages.common import get_store  # the app's own cached store

    assert str(get_store().scalar("SELECT min(sent_at) FROM exposures WHERE strategy_id = ?", [sid])) \
        == "2026-04-03 09:00:00"
    assert get_store().get_setting("import.day_first") is True
