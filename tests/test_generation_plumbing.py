"""Generation plumbing with a tiny random model and the real SmolLM2 tokenizer.

The tiny model writes nonsense, which is the point: these tests check the
batching, seeding, stopping, cleaning and bookkeeping around the model, not
the copy. A scripted model checks the keep/reject/merge logic exactly.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import AppConfig
from core.errors import GenerationError, IntegrityError, ModelUnavailable
from core.generation.brief import Brief
from core.generation.generate import generate_copy, run_generation
from core.generation.model import (
    LanguageModel, ModelSource, default_gguf, load_language_model, resolve_source, verify_manifest, write_manifest,
)
from core.generation.prompt import build_prompt, house_examples
from core.generation.settings import GenerationSettings

BRIEF = Brief(product="Trail Running Shoes", channel="email_subject", offer_type="percent", offer_value=20,
              promo_code="RUN20")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide Llama with random weights, saved with the real tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = default_gguf()
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                      tie_word_embeddings=True, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_lm(tiny_model_dir, tmp_path_factory) -> LanguageModel:
    import torch

    # One thread: a 32-wide model gains nothing from two, and spinning threads crawl on a busy CI box.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cfg = AppConfig(data_dir=tmp_path_factory.mktemp("data"), db_path=":memory:", model=str(tiny_model_dir))
    yield load_language_model(cfg, precision="fp32")
    torch.set_num_threads(threads)


def prompt_for(brief: Brief):
    return build_prompt(brief, "All customers", "1,000 customers.", house_examples(brief))


def test_loads_a_configured_folder_with_real_tokenizer(tiny_lm):
    assert tiny_lm.name == "tiny-llama" and tiny_lm.device == "cpu" and tiny_lm.languages is None
    text = tiny_lm.render(prompt_for(BRIEF).messages)
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
    newline = tiny_lm.tokenizer.encode("\n", add_special_tokens=False)[0]
    assert newline in tiny_lm.stop_ids


def test_sampling_is_batched_and_seeded(tiny_lm):
    text = tiny_lm.render(prompt_for(BRIEF).messages)
    kw = dict(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=8)
    first = tiny_lm.sample(text, 5, seed=7, **kw)
    again = tiny_lm.sample(text, 5, seed=7, **kw)
    other = tiny_lm.sample(text, 5, seed=8, **kw)
    assert len(first) == 5 and first == again and first != other
    assert all(isinstance(t, str) and isinstance(done, bool) for t, done in first)


def test_prompt_is_read_once_and_shared_by_every_sequence(tiny_lm, monkeypatch):
    """The prompt's cache is computed once per prompt text; each sequence then only reads new tokens."""
    text = tiny_lm.render(prompt_for(BRIEF).messages)
    width = len(tiny_lm.tokenizer(text, add_special_tokens=False)["input_ids"])
    kw = dict(temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=6, min_new_tokens=6)
    shapes: list[tuple[int, int]] = []
    forward = tiny_lm.model.forward

    def spy(*args, **kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        shapes.append(tuple(ids.shape))
        return forward(*args, **kwargs)

    tiny_lm._prefix = None
    monkeypatch.setattr(tiny_lm.model, "forward", spy)
    first = tiny_lm.sample(text, 4, seed=3, **kw)
    second = tiny_lm.sample(text, 4, seed=3, **kw)
    assert first == second
    prompt_reads = [s for s in shapes if s[1] > 1]
    assert prompt_reads == [(1, width - 1)]  # once, one row, all but the last prompt token
    assert all(s == (4, 1) for s in shapes if s[1] == 1)
    assert len(shapes) == 1 + 2 * 6
    # The shared cache is never grown by a batch: a third call still starts from the prompt alone.
    assert tiny_lm._prefix[1].get_seq_length() == width - 1


def test_generate_copy_is_deterministic_and_accounts_for_every_sample(tiny_lm):
    settings = GenerationSettings(n_variants=2, max_new_tokens=8, seed=11, temperature=1.0)
    seen = []
    a = generate_copy(tiny_lm, prompt_for(BRIEF), BRIEF, settings, progress=lambda f, m: seen.append((f, m)))
    b = generate_copy(tiny_lm, prompt_for(BRIEF), BRIEF, settings)
    assert [v.text for v in a.variants + a.rejected] == [v.text for v in b.variants + b.rejected]
    assert a.generated == len(a.variants) + len(a.rejected) + a.duplicates_merged
    assert seen and seen[-1][0] <= 1.0
    # Random weights write no usable copy: everything is rejected, with reasons counted.
    assert a.generated <= 4 * 2 + 4 and sum(a.failure_counts.values()) >= len(a.rejected)


def test_language_the_model_cannot_write_is_refused(tiny_lm):
    limited = LanguageModel(tiny_lm.model, tiny_lm.tokenizer, "SmolLM2-test", "cpu", "fp32", ("en",))
    french = replace(BRIEF, language="fr")
    with pytest.raises(GenerationError, match="French"):
        generate_copy(limited, prompt_for(french), french, GenerationSettings(n_variants=1))


class ScriptedModel(LanguageModel):
    """Returns prepared lines instead of sampling, to check what generate_copy keeps."""

    def __init__(self, base: LanguageModel, lines: list[str]) -> None:
        super().__init__(base.model, base.tokenizer, "scripted", "cpu", "fp32")
        self.lines = list(lines)
        self.calls: list[int] = []

    def sample(self, prompt_text, n, **kw):
        self.calls.append(n)
        out, self.lines = self.lines[:n], self.lines[n:]
        return [(t, True) for t in out] + [("", True)] * (n - len(out))


def test_keeps_passing_merges_duplicates_and_counts_failures(tiny_lm):
    lines = ["Subject: 20% off Trail Running Shoes", "15% off trail shoes", "20% off trail running shoes!",
             "Use SAVE50 now", "Your run, upgraded: 20% off with RUN20", "#run 20% off"] + \
            ["Lace up: 20% off Trail Running Shoes with code RUN20"] * 3
    lm = ScriptedModel(tiny_lm, lines)
    got = []
    result = generate_copy(lm, prompt_for(BRIEF), BRIEF, GenerationSettings(n_variants=3), on_variant=got.append)
    assert [v.text for v in result.variants] == [
        "20% off Trail Running Shoes", "Your run, upgraded: 20% off with RUN20",
        "Lace up: 20% off Trail Running Shoes with code RUN20"]
    assert [v.text for v in got] == [v.text for v in result.variants]  # streamed as soon as kept
    assert [v.duplicates for v in result.variants] == [1, 0, 2] and result.duplicates_merged == 3
    assert result.failure_counts["offer"] == 2 and result.failure_counts["hashtag"] == 1
    assert result.failure_counts["duplicate"] == 3
    assert lm.calls[0] >= 4 and all(c <= 16 for c in lm.calls)  # batched, over-generated
    assert json.loads(json.dumps(result.to_dict()))["variants"][0]["guardrails"]["passed"] is True


def test_gives_up_after_budget_with_a_note(tiny_lm):
    lm = ScriptedModel(tiny_lm, ["15% off"] * 100)
    result = generate_copy(lm, prompt_for(BRIEF), BRIEF, GenerationSettings(n_variants=2))
    assert result.variants == () and result.generated == 4 * 2 + 4 and "Only 0 of 2" in result.notes[0]


def test_run_generation_reads_customer_names_from_store(store, tiny_lm):
    store.execute("INSERT INTO users (user_id, first_name) VALUES ('u1', 'Beatrix')")
    lm = ScriptedModel(tiny_lm, ["Hi Beatrix, 20% off Trail Running Shoes", "{first_name}, 20% off your run"])
    result = run_generation(store, lm, BRIEF, GenerationSettings(n_variants=1))
    assert [v.text for v in result.variants] == ["{first_name}, 20% off your run"]
    assert result.failure_counts["personal_data"] == 1


def test_manifest_detects_tampering(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    (tmp_path / "config.json").write_text("{}")
    write_manifest(tmp_path, ModelSource("m", tmp_path, "m.gguf"))
    assert set(verify_manifest(tmp_path)["files"]) == {"model.safetensors", "config.json"}
    (tmp_path / "model.safetensors").write_bytes(b"evil weights")
    with pytest.raises(IntegrityError, match="does not match"):
        verify_manifest(tmp_path)
    (tmp_path / "copylift-manifest.json").unlink()
    with pytest.raises(IntegrityError, match="not written by CopyLift"):
        verify_manifest(tmp_path)


def test_bad_model_settings_give_clear_errors(tmp_path):
    with pytest.raises(ModelUnavailable, match="neither a .gguf file nor a folder"):
        resolve_source(str(tmp_path / "missing"))
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    cfg = AppConfig(data_dir=tmp_path / "data", db_path=":memory:", model=str(broken))
    with pytest.raises(ModelUnavailable, match="Could not read the model file"):
        load_language_model(cfg)
    assert resolve_source(None).gguf_file.endswith(".gguf")
