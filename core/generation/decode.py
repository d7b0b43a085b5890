"""The decode loop behind ``LanguageModel.sample``: a shared prompt cache, batched sampling, early stop.

Hooks are 5-20 tokens, so per-step overhead matters more than the matrix work. Three things make
8 kept variants fast on a small CPU:

- the prompt's key/value cache is computed once and reused (``PrefixCache``): every sequence of a
  batch, every round of one generation and, for the few-shot part that every brief of a channel
  shares, every later brief;
- one batched forward pass per token for all sequences still writing: a sequence leaves the batch
  when it writes a stop token (the end of the hook line), and decoding stops when none is left;
- for a large vocabulary (Gemma's 262k tokens) only the output rows of tokens a hook can use are
  scored (``VocabSubset``);
- sampling filters the top-k first and applies top-p inside those k: transformers' top-p warper sorts
  the whole vocabulary, which for Gemma's 262k tokens cost more per step than the model itself.

``measure_runtime`` times a few decode steps per precision and thread count at load, so the choice
(bf16 or fp32, one thread or two) comes from this machine under its current load, not from CPU flags.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass

MIN_SHARED_PREFIX = 32  # a shorter common start is not worth cropping a cache for


@dataclass(frozen=True)
class SamplingParams:
    temperature: float
    top_p: float
    top_k: int
    repetition_penalty: float
    max_new_tokens: int
    min_new_tokens: int = 2


class PrefixCache:
    """The key/value cache of the last prompt (minus its last token), reusable by prompts that share its start."""

    def __init__(self) -> None:
        self.ids: tuple[int, ...] = ()
        self.cache = None

    def get(self, model, input_ids):
        """A fresh copy of the cache for ``input_ids[:, :-1]`` (None when the model's cache cannot be shared)."""
        import torch

        key = tuple(input_ids[0, :-1].tolist())
        if self.cache is not None and self.ids == key:
            return copy.deepcopy(self.cache)
        shared = 0
        for a, b in zip(self.ids, key):
            if a != b:
                break
            shared += 1
        try:
            with torch.inference_mode():
                if self.cache is not None and shared >= MIN_SHARED_PREFIX and getattr(self.cache, "is_croppable", False):
                    cache = copy.deepcopy(self.cache)
                    # transformers 5: crop(-k) removes the last k tokens
                    cache.crop(shared - cache.get_seq_length())
                    model(input_ids=input_ids[:, shared:-1], cache=cache, use_cache=True, logits_to_keep=1)
                else:
                    cache = _cache_of(model(input_ids=input_ids[:, :-1], use_cache=True, logits_to_keep=1))
            if cache is None or not hasattr(cache, "batch_repeat_interleave"):
                return None
        except (RuntimeError, ValueError, TypeError, IndexError):
            self.ids, self.cache = (), None  # a model whose cache cannot be cropped or shared: read it whole
            return None
        self.ids, self.cache = key, cache
        return copy.deepcopy(cache)


def _filter_and_sample(logits, params: SamplingParams, generator):
    """Sample one token per row: temperature, then top-k, then top-p within the k."""
    import torch

    logits = logits / max(params.temperature, 1e-4)
    k = params.top_k if params.top_k > 0 else logits.shape[-1]
    values, index = torch.topk(logits, min(k, logits.shape[-1]), dim=-1)
    probs = torch.softmax(values, dim=-1)
    if params.top_p < 1.0:
        before = torch.cumsum(probs, dim=-1) - probs
        probs = probs.masked_fill(before > params.top_p, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    pick = torch.multinomial(probs, 1, generator=generator)
    return index.gather(-1, pick).squeeze(-1)


@dataclass(frozen=True)
class VocabSubset:
    """The tokens a hook may use, with their rows of the output layer.

    Gemma's 262k-token output layer is most of a decode step's work. A hook in English needs
    letters, spaces and punctuation; one in Chinese needs Chinese characters and punctuation; the
    stop tokens end it. Scoring only those rows cuts the step's cost, and a hook cannot contain a
    digit, a currency sign or a code at all (facts are written by code).
    """

    ids: object  # LongTensor of token ids (the columns)
    weight: object  # (len(ids), hidden) rows of the output layer
    softcap: float | None = None


def _cache_of(out):
    cache = getattr(out, "cache", None)
    return cache if cache is not None else getattr(out, "past_key_values", None)


def _step(model, step_ids, cache, subset: VocabSubset | None):
    """One forward step: (cache, float logits of the last position over the columns)."""
    if subset is None:
        out = model(input_ids=step_ids, cache=cache, use_cache=True, logits_to_keep=1)
        return _cache_of(out), out.logits[:, -1, :].float()
    out = model.model(input_ids=step_ids, cache=cache, use_cache=True)
    logits = (out.last_hidden_state[:, -1, :] @ subset.weight.T).float()
    if subset.softcap:
        logits = subset.softcap * (logits / subset.softcap).tanh()
    return _cache_of(out), logits


def decode(model, input_ids, n: int, params: SamplingParams, stop_ids: list[int], seed: int,
           prefix: PrefixCache | None = None, pad_id: int = 0,
           subset: VocabSubset | None = None) -> list[tuple[list[int], bool]]:
    """``n`` continuations of one prompt: (token ids before the first stop token, finished) pairs."""
    import torch

    device = input_ids.device
    generator = torch.Generator(device=device).manual_seed(seed)
    cache = prefix.get(model, input_ids) if prefix is not None and input_ids.shape[1] > 1 else None
    columns = subset.ids if subset is not None else None
    with torch.inference_mode():
        if cache is not None:
            cache.batch_repeat_interleave(n)
            step_ids = input_ids[:, -1:].repeat(n, 1)
        else:
            step_ids = input_ids.repeat(n, 1)
        stop = torch.tensor(stop_ids, device=device)
        # Stop tokens as columns of the logits (positions in the subset when there is one).
        stop_cols = stop if columns is None else torch.isin(columns, stop).nonzero().flatten()
        done = torch.zeros(n, dtype=torch.bool, device=device)
        active = torch.arange(n, device=device)  # rows still writing; finished rows leave the batch
        picked_cols: list = []  # per step, the column each row picked (for the repetition penalty)
        tokens: list = []
        for step in range(params.max_new_tokens):
            cache, logits = _step(model, step_ids, cache, subset)
            if step < params.min_new_tokens:
                logits[:, stop_cols] = float("-inf")
            if params.repetition_penalty != 1.0 and picked_cols:
                seen = torch.stack(picked_cols, dim=1)[active]
                picked = logits.gather(1, seen)
                picked = torch.where(picked > 0, picked / params.repetition_penalty, picked * params.repetition_penalty)
                logits.scatter_(1, seen, picked)
            col = _filter_and_sample(logits, params, generator)
            token = col if columns is None else columns[col]
            full_token = torch.full((n,), pad_id, dtype=token.dtype, device=device)
            full_token[active] = token
            full_col = torch.zeros(n, dtype=col.dtype, device=device)
            full_col[active] = col
            tokens.append(full_token)
            picked_cols.append(full_col)
            finished = torch.isin(token, stop)
            done[active[finished]] = True
            if bool(done.all()):
                break
            if bool(finished.any()) and len(active) - int(finished.sum()) >= 1:
                keep = (~finished).nonzero().flatten()
                try:
                    cache.batch_select_indices(keep)
                    active, token = active[keep], token[keep]
                except (AttributeError, RuntimeError, IndexError):
                    pass  # a cache that cannot drop rows: finished rows keep stepping on, their output ignored
            step_ids = token.unsqueeze(-1)
    rows = torch.stack(tokens, dim=1).tolist() if tokens else [[] for _ in range(n)]
    stops = set(stop_ids)
    results = []
    for row in rows:
        cut = next((i for i, t in enumerate(row) if t in stops), None)
        results.append((row if cut is None else row[:cut], cut is not None))
    return results


SUBSET_MIN_VOCAB = 100_000  # below this the output layer is cheap enough to score whole
_SCRIPT = {
    "en": re.compile(r"^[A-Za-z ,.!?'’&:;-]+$"),
    "zh": re.compile(r"^[\u3400-\u9fff，。！？、：；“”‘’… ]+$"),
}


def vocab_subset(model, tokenizer, language: str, stop_ids: list[int]) -> VocabSubset | None:
    """The output rows a hook in ``language`` can use (None: score the whole vocabulary)."""
    import torch

    head = getattr(model, "lm_head", None)
    if head is None or getattr(model, "model", None) is None or len(tokenizer) < SUBSET_MIN_VOCAB:
        return None
    rule = _SCRIPT.get(language)
    if rule is None:
        return None
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    keep = {i for i, piece in enumerate(pieces) if piece and rule.match(piece.replace("▁", " ").replace("Ġ", " "))}
    if language == "en":
        # Gemma's vocabulary holds the words of many Latin-script languages (140k of its 262k tokens
        # pass the script test); an English hook needs short pieces and English words (81k).
        from core.generation.sense import english_words

        known = english_words()
        keep = {i for i in keep if len(w := pieces[i].replace("▁", " ").replace("Ġ", " ").strip(" ,.!?'’&:;-").lower()) <= 3
                or w in known}
    keep |= set(stop_ids)
    ids = torch.tensor(sorted(i for i in keep if i < head.weight.shape[0]), dtype=torch.long)
    softcap = getattr(model.config, "final_logit_softcapping", None)
    return VocabSubset(ids, head.weight.detach()[ids].clone(), softcap)


def _time_steps(model, n: int = 8, prompt_len: int = 48, steps: int = 4) -> float:
    """Seconds for ``steps`` batched decode steps after a short prompt (the shape of hook writing)."""
    import torch

    ids = torch.full((1, prompt_len), 100, dtype=torch.long)
    with torch.inference_mode():
        cache = _cache_of(model(input_ids=ids, use_cache=True, logits_to_keep=1))
        cache.batch_repeat_interleave(n)
        step = torch.full((n, 1), 101, dtype=torch.long)
        model(input_ids=step, cache=cache, use_cache=True, logits_to_keep=1)  # warm-up
        start = time.perf_counter()
        for _ in range(steps):
            model(input_ids=step, cache=cache, use_cache=True, logits_to_keep=1)
        return time.perf_counter() - start


def measure_runtime(model, threads: tuple[int, ...] = (1, 2)) -> tuple[object, str, int, dict[str, float]]:
    """Try fp32 and bf16 with each thread count; return (fastest model, precision, threads, timings).

    ``model`` is fp32; the bf16 copy is made here and only the winner is kept. Two threads win on a
    quiet machine and lose badly (5-20x) when another process keeps a core busy, which is why this is
    measured at load time rather than fixed.
    """
    import torch

    before = torch.get_num_threads()
    timings: dict[str, float] = {}
    candidates = {"fp32": model}
    try:
        candidates["bf16"] = copy.deepcopy(model).to(torch.bfloat16)
    except (RuntimeError, TypeError):
        pass
    for precision, m in candidates.items():
        for t in threads:
            torch.set_num_threads(t)
            try:
                timings[f"{precision}/{t}"] = _time_steps(m)
            except (RuntimeError, ValueError, TypeError, AttributeError):
                continue
    if not timings:
        torch.set_num_threads(before)
        return model, "fp32", before, {}
    best = min(timings, key=timings.get)
    precision, t = best.split("/")
    torch.set_num_threads(int(t))
    return candidates[precision], precision, int(t), timings
