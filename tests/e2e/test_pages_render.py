"""Every page opens in a real browser: a title, an emoji icon in the navigation, no traceback."""

from __future__ import annotations

from harness import exceptions, goto_page

PAGES = ["Data", "Segments", "Copy Lab", "Predict", "Strategy & Export", "Results & Learning"]


def test_navigation_lists_every_page_with_an_icon(page):
    texts = page.locator('[data-testid="stSidebarNav"] a').all_inner_texts()
    assert [t.split("\n")[-1].strip() for t in texts] == PAGES
    # Emoji icons: a Material icon would make the browser fetch a font from the internet.
    assert page.locator('[data-testid="stSidebarNav"] a [data-testid="stIconEmoji"]').count() == len(PAGES)


def test_every_page_opens_without_errors(page):
    # One tab walks all pages (a new tab per page would cost a first load each).
    problems = []
    for title in PAGES:
        goto_page(page, title)
        heading = page.locator('[data-testid="stMain"] h1').first
        if not heading.count() or title.split(" ")[0] not in heading.inner_text():
            problems.append(f"{title}: no page title")
        if exceptions(page):
            problems.append(f"{title}: exception shown: {exceptions(page)[0][:200]}")
        if "Traceback (most recent call last)" in page.locator('[data-testid="stMain"]').inner_text():
            problems.append(f"{title}: traceback text shown")
    assert not problems, "\n".join(problems)
