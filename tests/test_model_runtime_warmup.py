"""The app imports the model runtime in the background at start, once per process, unless turned off."""

from __future__ import annotations

import sys

from core.config import load_config
from core.generation.model import warm_runtime


def test_config_turns_the_warmup_on_by_default_and_off_by_env(tmp_path):
    base = {"COPYLIFT_DATA_DIR": str(tmp_path)}
    assert load_config(env=base).warm_model_runtime is True
    for off in ("0", "false", "No", "off"):
        assert load_config(env=base | {"COPYLIFT_WARM_MODEL_RUNTIME": off}).warm_model_runtime is False
    assert load_config(env=base | {"COPYLIFT_WARM_MODEL_RUNTIME": "1"}).warm_model_runtime is True


def test_warm_runtime_imports_what_a_model_load_needs():
    seconds = warm_runtime()
    assert seconds >= 0
    for module in ("torch", "transformers.models.llama.modeling_llama"):
        assert module in sys.modules


def _warmup_thread():
    from pages.common import start_model_runtime_warmup

    return start_model_runtime_warmup()  # the cached value of the app's own call


def test_app_start_runs_the_warmup_thread_once(open_page):
    at = open_page(timeout=60)
    assert not at.exception
    thread = _warmup_thread()
    assert thread is not None and thread.name == "copylift-warm-model-runtime"
    thread.join(timeout=120)
    assert not thread.is_alive()
    at.run()  # another rerun starts no second thread
    assert _warmup_thread() is thread


def test_warmup_off_starts_nothing(open_page, monkeypatch):
    monkeypatch.setenv("COPYLIFT_WARM_MODEL_RUNTIME", "0")
    at = open_page(timeout=60)
    assert not at.exception
    assert _warmup_thread() is None
