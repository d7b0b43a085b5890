"""The Copy Lab page through AppTest, with the model factory patched to a scripted model."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from core.errors import ModelUnavailable
from core.generation.working_set import list_working_set
from core.store import Store


class FakeModel:
    """Stands in for LanguageModel: same interface, scripted lines, no weights."""

    name = "fake-lm"
    label = "fake-lm (fp32, cpu)"
    languages = ("en",)
    kind = "base"

    def __init__(self, lines):
        self.lines = list(lines)

    def render(self, messages):
        return "\n".join(f"<{m['role']}> {m['content']}" for m in messages)

    def completion(self, text):
        return "<bos>" + text

    def sample(self, prompt_text, n, **kw):
        return [(self.lines[i % len(self.lines)], True) for i in range(n)]


LINES = ["Light steps on every trail", "Grip that holds on", "15% off everything", "Click www.evil.example now"]
KEPT = ["Light steps on every trail. 20% off Trail *Running* Shoes with code RUN20. Shop now",
        "20% off Trail *Running* Shoes with code RUN20! Grip that holds on. Take a look"]


@pytest.fixture
def page(sample_app_env, open_page, monkeypatch):
    import pages.common

    monkeypatch.setattr(pages.common, "get_language_model", lambda model=None: FakeModel(LINES))
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
    at.radio(key="copy.channel").set_value("push").run()
    _generate(at, "Trail *Running* Shoes")
    state = at.session_state["copy.result"]
    assert state["texts"] == KEPT  # the hooks, with the brief's facts written by CopyLift
    shown = " ".join(m.value for m in at.markdown)
    assert "\\*Running\\*" in shown and " *Running* " not in shown  # model and user text rendered literally
    assert any("The exact prompt" in e.label for e in at.expander)
    assert any(c.value.startswith("<bos>") and "Trail *Running* Shoes" in c.value for c in at.code)
    assert "Your shop" in shown  # no shop configured: the previews never borrow the sample shop's name
    at.button(key="copy.add.1").click().run()
    assert not at.exception, at.exception
    with Store(sample_app_env / "data" / "copylift.duckdb") as store:
        ws = list_working_set(store)
    assert ws["copy_text"].tolist() == [KEPT[1]] and ws["model_name"].tolist() == ["fake-lm"]


def test_chinese_is_offered_only_for_a_model_that_writes_it(page):
    at = page
    assert at.selectbox(key="copy.model").value == "gemma3"
    assert at.selectbox(key="copy.language.gemma3").options == ["English", "Chinese (简体中文)"]
    at.selectbox(key="copy.model").set_value("smollm2").run()
    assert at.selectbox(key="copy.language.smollm2").options == ["English"]


def test_regenerate_replaces_one_variant_with_a_new_seed(page, monkeypatch):
    import pages.common

    at = page
    _generate(at, "Trail Running Shoes")
    seeds = []

    class Recording(FakeModel):
        def sample(self, prompt_text, n, **kw):
            seeds.append(kw["seed"])
            return [("Fresh legs every morning", True)] * n

    monkeypatch.setattr(pages.common, "get_language_model", lambda model=None: Recording(LINES))
    at.button(key="copy.regen.0").click().run()
    assert not at.exception, at.exception
    assert at.session_state["copy.result"]["texts"][0].startswith("Fresh legs every morning")
    assert seeds and seeds[0] == 42 + 1_000_003


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

    def broken(model=None):
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
