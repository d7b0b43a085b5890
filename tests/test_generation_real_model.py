"""The real default model (SmolLM2-135M GGUF) converts once, loads from its cache and writes usable copy."""

from __future__ import annotations

import pytest

from core.config import AppConfig
from core.generation.brief import Brief
from core.generation.generate import run_generation
from core.generation.guardrails import check_copy
from core.generation.model import cache_folder, load_language_model, resolve_source, verify_manifest
from core.generation.settings import default_settings


@pytest.mark.slow
def test_real_model_writes_email_subjects_that_pass_the_rules(tmp_path_factory):
    import torch

    # One thread: on a shared, busy CI box two spinning threads made this 10x slower (speed is benchmarked, not tested).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _write_real_copy(tmp_path_factory)
    finally:
        torch.set_num_threads(threads)


def _write_real_copy(tmp_path_factory):
    cfg = AppConfig(data_dir=tmp_path_factory.mktemp("model_data"), db_path=":memory:", model=None)
    steps = []
    lm = load_language_model(cfg, progress=lambda f, m: steps.append(m))
    folder = cache_folder(cfg, resolve_source(None))
    assert any("De-quantizing" in s for s in steps)
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(verify_manifest(folder)["files"])

    brief = Brief(product="Trail Running Shoes", channel="email_subject", offer_type="percent", offer_value=20,
                  promo_code="RUN20", tone="friendly")
    result = run_generation(None, lm, brief, default_settings("email_subject", n_variants=3, seed=3))
    assert result.variants, (result.failure_counts, [v.text for v in result.rejected][:5])
    for variant in result.variants:
        assert len(variant.text) <= 60
        assert check_copy(variant.text, brief).clean
    # Rejections are explained, never silent.
    assert sum(result.failure_counts.values()) >= len(result.rejected)
