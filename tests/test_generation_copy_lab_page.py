"""The Copy Lab page through AppTest, with the model factory patched to a scripted model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import ModelUnavailable
from core.store import Store
from core.generation.working_set import list_working_set

class FakeModel:
    """Stands in for LanguageModel: same interface, scripted lines, no weights."""

    name = "fake-lm"
    label = "fake-lm (fp32, cpu)"
    languages = ("en",)

    def __init__(self, lines):
        self.lines = list(lines)

    def render(self, messages):
        return "\n".join(f"<{m['role']}> {m['content']}" for m in messages)

    def sample(self, prompt_text, n, **kw):
        return [(self.lines[i % len(self.lines)], True) for i in range(n)]


LINES = ["{first_name}, 20% off {product} starts now", "Your next run: 20% off with code RUN20",
         "15% off everything", "Click www.evil.example for 20% off"]


@pytest.fixture
def page(sample_app_env, open_page, monkeypatch):
    import pages.common

    monkeypatch.setattr(pages.common, "get_language_model", lambda: FakeModel(LINES))
    return open_page("pages/copy_lab.py", timeout=90)


def _generate(at: AppTest, product: str) -> None:
    at.text_input(key="copy.product_text").input(product)
    at.selectbox(key="copy.offer_type").set_value("percent")
    at.number_input(key="copy.offer_value").set_value(20.0)
    at.text_input(key="copy.code").input("RUN20")
    at.number_input(key="copy.n_variants").set_value(2)
    next(b for b in at.button if b.label == "Generate").click().run()
    assert not at.exception, at.exception


def test_generate_review_and_keep_a_variant(page, sample_app_env):
    at = page
    _generate(at, "Trail <b>Running</b> Shoes")
    state = at.session_state["copy.result"]
    assert state["texts"] == LINES[:2]
    shown = " ".join(m.value for m in at.markdown)
    assert "\\<b\\>" in shown and "<b>Running" not in shown  # model and user text rendered literally
    assert any("The exact prompt" in e.label for e in at.expander)
    assert any("Trail <b>Running</b> Shoes" in c.value for c in at.code)
    at.button(key="copy.add.1").click().run()
    assert not at.exception, at.exception
    with Store(sample_app_env / "data" / "copylift.duckdb") as store:
        ws = list_working_set(store)
    assert ws["copy_text"].tolist() == [LINES[1]] and ws["model_name"].tolist() == ["fake-lm"]


def test_edit_that_breaks_the_offer_needs_a_reason(page):
    at = page
    _generate(at, "Trail Running Shoes")
    edit = next(t for t in at.text_input if t.key.startswith("copy.edit.0"))
    edit.input("50% off today").run()
    assert any("says 50%" in c.value for c in at.caption)
    at.button(key="copy.add.0").click().run()
    assert at.error and "override reason" in at.error[0].value
    at.text_input(key="copy.reason.0").input("approved by the legal team").run()
    at.button(key="copy.add.0").click().run()
    assert not at.exception, at.exception
    assert at.dataframe  # the working set now shows a row


def test_missing_model_shows_a_message_not_a_traceback(sample_app_env, open_page, monkeypatch):
    import pages.common

    def broken():
        raise ModelUnavailable("The default language model is not installed. Run `make setup`.")

    monkeypatch.setattr(pages.common, "get_language_model", broken)
    at = open_page("pages/copy_lab.py", timeout=90)
    _generate(at, "Trail Running Shoes")
    assert any("make setup" in e.value for e in at.error)


def test_a_saved_brand_voice_is_selected_and_its_name_shown_literally(page):
    at = page
    name = "<b>Loud</b> *voice*"
    at.text_input(key="copy.voice_name").input(name)
    at.text_area(key="copy.voice_banned").input("cheap")
    next(b for b in at.button if b.label == "Save brand voice").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="copy.voice").value == name
    assert name in at.selectbox(key="copy.voice").options
    saved = [s.value for s in at.success if "Saved brand voice" in s.value]
    assert saved and "\\<b\\>Loud\\</b\\> \\*voice\\*" in saved[0]  # escaped: renders as the literal name
