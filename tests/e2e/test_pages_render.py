"""Every page opens in a real browser: a title, an emoji icon in the navigation, no traceback."""

from __future__ import annotations

from harness import exceptions, goto_page, key, rerun, wait_text

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


HOSTILE_NAME = '<img src=x onerror="window.__xss=1"><b>Bold</b>'


def test_html_in_brand_rules_renders_as_text(page):
    """A brand voice named and described with HTML/JS is saved, selected and shown as literal text, never run."""
    goto_page(page, "Copy Lab")
    page.locator('[data-testid="stExpander"] summary').filter(has_text="Brand voices").first.click()
    page.locator(f"{key('copy.voice_name')} input").fill(HOSTILE_NAME)
    page.locator(f"{key('copy.voice_dont')} textarea").fill("<script>window.__xss=2</script>")
    rerun(page, page.get_by_role("button", name="Save brand voice").click)
    # The save reruns the page twice (st.rerun); its confirmation shows the name as typed.
    wait_text(page, "Saved brand voice")
    assert HOSTILE_NAME in page.locator('[data-testid="stAlert"]').filter(has_text="Saved brand voice").inner_text()
    # The new voice is the selected one, its label the literal text.
    box = page.locator(f"{key('copy.voice')} [role='combobox']").first
    assert box.input_value() == HOSTILE_NAME
    # Typing opens the list (a bare click on a closed select was once swallowed on a busy box).
    box.click()
    box.fill("Bold")
    page.get_by_role("option", name=HOSTILE_NAME).first.wait_for()
    page.keyboard.press("Escape")
    assert page.evaluate("() => window.__xss === undefined")
    assert page.locator('[data-testid="stMain"] img[src="x"]').count() == 0
    assert page.locator('[data-testid="stMain"] b').filter(has_text="Bold").count() == 0
    assert not exceptions(page)
