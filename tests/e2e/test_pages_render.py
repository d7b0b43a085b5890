"""Every page opens in a real browser: a title, an icon in the navigation, no traceback."""

from __future__ import annotations

import pytest

from harness import assert_clean, goto_page, screenshot

PAGES = ["Data", "Segments", "Copy Lab", "Predict", "Strategy & Export", "Results & Learning"]


def test_navigation_lists_every_page_with_an_icon(page):
    links = page.locator('[data-testid="stSidebarNav"] a')
    texts = [t.strip() for t in links.all_inner_texts()]
    titles = [t.split("\n")[-1].strip() for t in texts]
    assert titles == PAGES
    # Each link carries an emoji icon (a Material icon would fetch a font from the internet).
    assert page.locator('[data-testid="stSidebarNav"] a [data-testid="stIconEmoji"]').count() == len(PAGES)


@pytest.mark.parametrize("title", PAGES)
def test_page_opens_without_errors(page, title):
    goto_page(page, title)
    heading = page.locator('[data-testid="stMainBlockContainer"] h1').first
    assert title.split(" ")[0] in heading.inner_text()
    assert_clean(page)
    screenshot(page, f"page-{title.split(' ')[0].lower()}")
