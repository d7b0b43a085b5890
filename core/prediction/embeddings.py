"""Sentence vectors of copy from the bundled language model, cached by text hash.

A text's vector is the mean over its tokens of one middle layer's hidden states of
SmolLM2-135M (layer 16 of 30: in by-test cross-validation on the Upworthy headline archive
it ranked within-test pairs better than the last layer or earlier ones, 0.72 vs 0.70 / 0.69
on decided pairs with the n-grams; only the layers up to it are run). Vectors are stored as
float16 in ``<model cache>/text_vectors/<sha256>.npy`` and read back from there, so a text
is encoded once: scoring a known text costs a file read, and fresh and cached vectors are
the same bytes (repeatable predictions).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from core.config import AppConfig, load_config
from core.errors import PredictionError

LAYER = 16
MAX_TOKENS = 48
BATCH = 64
MODEL_LABEL = f"SmolLM2-135M layer {LAYER} mean-pooled"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


TEXT_VECTOR_MODEL = "smollm2"  # bundled key in core.generation.sources


class TextEncoder:
    """Encodes texts with the language model's first ``LAYER`` layers (loaded on first need)."""

    def __init__(self, cfg: AppConfig | None = None) -> None:
        self.cfg = cfg or load_config()
        self.folder = Path(self.cfg.model_cache_dir) / "text_vectors"
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        if self._model is not None:
            return
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from core.generation.model import ensure_converted
            from core.generation.sources import resolve_source

            # The vectors are SmolLM2's (the layer and pooling were measured on it), whichever model
            # writes the copy: the Copy Lab's default may be another bundled model.
            folder = ensure_converted(self.cfg, resolve_source(TEXT_VECTOR_MODEL))
            tok = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, local_files_only=True,
                                                         use_safetensors=True, trust_remote_code=False)
        except (ImportError, OSError, ValueError, KeyError, RuntimeError) as err:
            raise PredictionError(f"the language model for text vectors could not be loaded ({err}); "
                                  "train without text vectors (text_embeddings=False) or run `make setup`") from err
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        tok.padding_side = "right"
        base = model.model
        # Later layers are never read: don't run them. One layer past LAYER is kept because the
        # model's last hidden state comes out normalized, and the measured vectors were not.
        base.layers = base.layers[:LAYER + 1]
        self._model, self._tokenizer = base.eval(), tok

    def _compute(self, texts: list[str]) -> np.ndarray:
        import torch

        self._load()
        out = np.zeros((len(texts), self._model.config.hidden_size), dtype=np.float16)
        # Sorted by length so a batch pads little; the order is fixed by the texts alone.
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), texts[i]))
        with torch.inference_mode():
            for s in range(0, len(order), BATCH):
                idx = order[s:s + BATCH]
                batch = self._tokenizer([texts[i] or " " for i in idx], return_tensors="pt", padding=True,
                                        truncation=True, max_length=MAX_TOKENS)
                hidden = self._model(**batch, output_hidden_states=True).hidden_states[LAYER]
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
                out[idx] = pooled.numpy().astype(np.float16)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """float32 vectors (one row per text), computed once per distinct text and cached on disk."""
        uniq = sorted(set(texts))
        keys = {t: text_key(t) for t in uniq}
        vecs: dict[str, np.ndarray] = {}
        for t in uniq:
            path = self.folder / keys[t][:2] / f"{keys[t]}.npy"
            if path.exists():
                try:
                    vecs[t] = np.load(path, allow_pickle=False)
                except (OSError, ValueError):
                    pass  # a damaged cache entry is recomputed
        todo = [t for t in uniq if t not in vecs]
        if todo:
            fresh = self._compute(todo)
            for t, v in zip(todo, fresh):
                vecs[t] = v
                path = self.folder / keys[t][:2] / f"{keys[t]}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
                with open(tmp, "wb") as fh:
                    np.save(fh, v, allow_pickle=False)
                os.replace(tmp, path)
        return np.stack([vecs[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, 576), np.float32)
