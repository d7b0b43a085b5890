"""The Segments page through AppTest: pick a built-in, build and save a segment, profile and compare."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.segments import EVERYONE, SegmentRef, count_segment
from core.store import Store


@pytest.fixture
def page(sample_app_env, open_page) -> AppTest:
    return open_page("pages/segments.py", timeout=90)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _db(sample_app_env) -> Store:
    # Same configuration as the app's cached store: DuckDB shares the open database in-process.
    return Store(sample_app_env / "data" / "copylift.duckdb")


def test_pick_a_builtin_sets_the_session_segment(page):
    at = page
    assert at.session_state["segment"] == EVERYONE
    at.selectbox(key="seg.pick").set_value("rfm_champions").run()
    assert not at.exception, at.exception
    assert at.session_state["segment"] == SegmentRef("rfm_champions", 1, "Champions")
    shown = int(_metric(at, "Customers matching").replace(",", ""))
    assert shown > 0
    # the editor shows the built-in's two conditions
    assert len([s for s in at.selectbox if s.key.startswith("seg.feature.")]) == 2


def test_build_save_and_pick_a_segment(page, sample_app_env):
    at = page
    at.button(key="seg.add").click().run()
    feature = next(s for s in at.selectbox if s.key.startswith("seg.feature."))
    feature.set_value("views_30d").run()
    op = next(s for s in at.selectbox if s.key.startswith("seg.op."))
    op.set_value(">=").run()
    value = next(n for n in at.number_input if n.key.startswith("seg.value."))
    value.set_value(10).run()
    assert not at.exception, at.exception
    shown = int(_metric(at, "Customers matching").replace(",", ""))
    at.text_input(key="seg.name").input("Heavy browsers")
    at.text_area(key="seg.description").input("Ten or more views in 30 days")
    at.button(key="seg.save").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    state = at.session_state["segment"]
    assert state.name == "Heavy browsers" and state.version == 1
    assert at.selectbox(key="seg.pick").value == state.segment_id
    assert any("Saved 'Heavy browsers'" in s.value for s in at.success)

    # saving the same name again as a new segment is refused with a message, and nothing is written
    at.selectbox(key="seg.pick").set_value(None).run()
    at.button(key="seg.add").click().run()
    at.text_input(key="seg.name").input("heavy BROWSERS")
    at.button(key="seg.save").click().run()
    assert any("already exists" in e.value for e in at.error)
    with _db(sample_app_env) as store:
        assert store.count("segments") == 1
        rules = [{"feature": "views_30d", "operator": ">=", "value": 10}]
        assert count_segment(store, rules) == shown


def test_profile_and_compare_render_charts(page):
    at = page
    at.selectbox(key="seg.pick").set_value("cart_abandoners").run()
    at.toggle(key="seg.profile").set_value(True).run()
    assert not at.exception, at.exception
    assert len([c for c in at.get("plotly_chart")]) == 6
    at.multiselect(key="seg.compare").set_value(["cart_abandoners", "reviewers", "rfm_champions"]).run()
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 8


def test_saving_without_a_name_shows_an_error(page):
    at = page
    at.selectbox(key="seg.pick").set_value("reviewers").run()
    at.text_input(key="seg.name").input("   ")
    at.button(key="seg.save").click().run()
    assert any("needs a name" in e.value for e in at.error)
    # "All customers" has no conditions: saving it is refused with a message
    at.selectbox(key="seg.pick").set_value(None).run()
    at.text_input(key="seg.name").input("Everyone")
    at.button(key="seg.save").click().run()
    assert any("no conditions" in e.value for e in at.error)
    assert not at.exception
