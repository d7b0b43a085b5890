"""Every registered page renders on the sample data without an exception; first start loads the sample."""

from __future__ import annotations

import pytest

from tests.conftest import APP, app_errors

PAGES = (
    "pages/data.py",
    "pages/segments.py",
    "pages/copy_lab.py",
    "pages/predict.py",
    "pages/strategy.py",
    "pages/results.py",
)


@pytest.fixture(autouse=True)
def full_error_details():
    """The app hides error details from users; a failing test should show them."""
    from streamlit import config

    before = config.get_option("client.showErrorDetails")
    config.set_option("client.showErrorDetails", "full")
    yield
    config.set_option("client.showErrorDetails", before)


@pytest.fixture(scope="module")
def registered_pages() -> list[str]:
    text = APP.read_text(encoding="utf-8")
    return [p for p in PAGES if f'"{p}"' in text]


def test_all_pages_are_registered(registered_pages):
    assert list(registered_pages) == list(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_sample_data(sample_app_env, open_page, page):
    at = open_page(page, timeout=90)  # asserts no exception on the frame's run and on the page's
    if page == "pages/data.py":
        assert not at.error, [e.value for e in at.error]


def test_first_start_loads_the_sample_into_an_empty_database(app_env, open_page):
    at = open_page(timeout=120)
    assert not at.exception, app_errors(at)
    from pages.common import get_config, get_store

    # The app's own cached store (a second connection to the file would be refused).
    assert get_config().db_path == str(app_env / "data" / "copylift.duckdb")
    assert get_store().count("users") == 5000
    assert get_store().count("events") > 250_000
    metrics = {m.label: m.value for m in at.metric}
    assert metrics.get("Users") == "5,000"


def test_reset_needs_confirmation_then_restores_the_sample(sample_app_env, open_page):
    at = open_page(timeout=90)
    # Simulate data drift: remove all views, as if someone had deleted them.
    from pages.common import get_store

    get_store().execute("DELETE FROM events WHERE event_type = 'view'")
    at.button(key="data.reset_submit").click().run()
    assert not at.exception, app_errors(at)
    assert any("confirmation" in w.value for w in at.warning)
    assert get_store().scalar("SELECT count(*) FROM events WHERE event_type = 'view'") == 0

    at.checkbox(key="data.reset_confirm").check()
    at.button(key="data.reset_submit").click().run()
    assert not at.exception, app_errors(at)
    assert any("Reset done" in s.value for s in at.success)
    assert get_store().scalar("SELECT count(*) FROM events WHERE event_type = 'view'") > 100_000
