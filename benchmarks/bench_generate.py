"""Benchmark copy generation: model loads, hook decoding against HF generate and llama.cpp, 8 kept variants.

    .venv/bin/python benchmarks/bench_generate.py [--data-dir DIR] [--models gemma3,smollm2]
        [--precisions auto,fp32,bf16] [--threads 1] [--skip-peer]

Each measurement runs in its own Python process (load times include nothing cached in memory,
peak memory belongs to that measurement). Rows, per model:
- ``load``: verify hashes + load the converted cache (converting first when the data dir has none),
  with ``auto`` the fp32/bf16 x threads timing CopyLift does at load (its choice is shown);
- ``hf_generate``: transformers ``generate``, 8 sequences x 16 new tokens (stop tokens off) from the
  hook prompt, the shared prompt read per call: the baseline;
- ``copylift_decode``: CopyLift's decode loop, same 8 x 16 tokens (prompt cache, top-k-first sampling);
- ``pipeline``: ``generate_copy`` until 8 variants pass every guardrail, for 4 briefs (email, push,
  SMS, banner; plus two Chinese for Gemma), mean seconds per English brief: the figure the 3 s target
  is about (each brief's own seconds are printed too);
- ``llama_cpp``: llama-cpp-python (``make bench-peer``) on the same GGUF file and prompt, 8 sequential
  16-token completions (its prompt cache reused between them), same thread count: the peer.
Prints a table with ratios to the baseline and the peer, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PIPELINE_BRIEFS = (
    dict(product="Trail Running Shoes", channel="email_subject", offer_type="percent", offer_value=20,
         promo_code="RUN20", tone="friendly", category="Outdoor"),
    dict(product="Ceramic Pour-Over Coffee Set", channel="push", offer_type="free_shipping", tone="playful",
         category="Home & Kitchen"),
    dict(product="Wireless Earbuds", channel="sms", offer_type="amount", offer_value=15, promo_code="EAR15",
         tone="urgent", category="Electronics"),
    dict(product="Rain Jacket", channel="banner", offer_type="percent", offer_value=30, tone="premium",
         category="Apparel"),
)
# Two Chinese briefs: the first of a process reads the Chinese prompt and builds its token subset.
ZH_BRIEFS = (dict(product="跑鞋", channel="sms", offer_type="percent", offer_value=20, promo_code="RUN20",
                  language="zh", category="运动户外"),
             dict(product="无线耳机", channel="push", offer_type="amount", offer_value=50, min_spend=300,
                  language="zh", category="数码"))
KW = dict(temperature=0.8, top_p=0.92, top_k=50, repetition_penalty=1.1)
TOKENS = 16


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _prompt(lm) -> str:
    from core.generation.brief import Brief
    from core.generation.hooks import build_hook_prompt, render_hook_prompt

    return render_hook_prompt(lm, build_hook_prompt(Brief(**PIPELINE_BRIEFS[0])))


def worker(task: str, model: str, data_dir: str, precision: str, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    from core.config import AppConfig
    from core.generation.model import load_language_model, warm_runtime

    cfg = AppConfig(data_dir=Path(data_dir), db_path=":memory:", model=model)
    if task == "peer":
        return peer(cfg, model, threads)
    imports_s = warm_runtime()
    start = time.perf_counter()
    lm = load_language_model(cfg, precision=precision)
    if precision != "auto":
        torch.set_num_threads(threads)
    out = {"task": task, "model": lm.name, "precision": lm.precision, "threads": torch.get_num_threads(),
           "imports_s": imports_s, "load_s": time.perf_counter() - start, "runtime": lm.runtime}
    text = _prompt(lm)
    lm.sample(text, 2, max_new_tokens=2, seed=0, **KW)  # warm-up: first call allocates, fills the prompt cache
    if task == "hf_generate":
        enc = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        start = time.perf_counter()
        with torch.inference_mode():
            torch.manual_seed(1)
            lm.model.generate(**enc, do_sample=True, max_new_tokens=TOKENS, min_new_tokens=TOKENS,
                              num_return_sequences=8, pad_token_id=lm.tokenizer.pad_token_id, **KW)
        out["wall_s"] = time.perf_counter() - start
    elif task == "copylift_decode":
        lm._prefix.__init__()  # read the prompt inside the timing, as generate does
        start = time.perf_counter()
        lm.sample(text, 8, max_new_tokens=TOKENS, min_new_tokens=TOKENS, seed=1, **KW)
        out["wall_s"] = time.perf_counter() - start
    elif task == "pipeline":
        out.update(pipeline(lm))
    out["peak_rss_mb"] = _rss_mb()
    return out


def pipeline(lm) -> dict:
    from core.generation.brief import Brief
    from core.generation.generate import generate_copy
    from core.generation.sense import CopyContext
    from core.generation.settings import default_settings

    specs = list(PIPELINE_BRIEFS) + (list(ZH_BRIEFS) if lm.languages is None or "zh" in lm.languages else [])
    rows = []
    for spec in specs:
        brief = Brief(**spec)
        start = time.perf_counter()
        r = generate_copy(lm, brief, default_settings(brief.channel, n_variants=8, seed=1),
                          context=CopyContext(shop_name="Larkmoor"))
        rows.append({"channel": brief.channel, "language": brief.language, "seconds": time.perf_counter() - start,
                     "kept": len(r.variants), "generated": r.generated, "rounds": r.rounds,
                     "examples": [v.text for v in r.variants[:2]]})
    en = [r for r in rows if r["language"] == "en"]
    return {"briefs": rows, "wall_s": sum(r["seconds"] for r in en) / len(en),
            "pass_rate": sum(r["kept"] for r in rows) / max(1, sum(r["generated"] for r in rows))}


def peer(cfg, model: str, threads: int) -> dict:
    """llama.cpp on the same GGUF file and prompt: 8 sequential 16-token completions."""
    from core.generation.sources import resolve_source

    try:
        from llama_cpp import Llama
    except ImportError:
        return {"task": "peer", "skipped": "llama-cpp-python is not installed (make bench-peer)"}
    source = resolve_source(model, cfg.model_cache_dir)
    start = time.perf_counter()
    llm = Llama(model_path=str(source.path / source.gguf_file), n_threads=threads, n_ctx=1024, verbose=False, seed=1)
    load_s = time.perf_counter() - start
    from transformers import AutoTokenizer

    from core.generation.model import ensure_converted

    tok = AutoTokenizer.from_pretrained(ensure_converted(cfg, source), local_files_only=True)

    class _Shim:  # what _prompt needs from a LanguageModel
        kind = source.kind or "chat"
        tokenizer = tok

        def completion(self, text: str) -> str:
            return text  # llama.cpp adds <bos> itself

        def render(self, messages):
            return tok.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)

    text = _prompt(_Shim())
    llm.create_completion(text, max_tokens=2, temperature=KW["temperature"])  # warm-up, fills its prompt cache
    start = time.perf_counter()
    for i in range(8):
        llm.create_completion(text, max_tokens=TOKENS, temperature=KW["temperature"], top_p=KW["top_p"],
                              top_k=KW["top_k"], repeat_penalty=KW["repetition_penalty"], seed=i, stop=[])
    wall = time.perf_counter() - start
    return {"task": "peer", "model": source.name, "precision": "gguf", "threads": threads, "load_s": load_s,
            "wall_s": wall, "peak_rss_mb": _rss_mb()}


def run(task: str, model: str, data_dir: str, precision: str, threads: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", task, "--models", model, "--data-dir", data_dir,
                           "--precision", precision, "--threads", str(threads)], capture_output=True, text=True,
                          cwd=ROOT)
    if proc.returncode and task == "peer":
        # The peer is someone else's native build: a crash is reported as a row, not the end of the run.
        return {"task": task, "skipped": f"llama-cpp-python exited with status {proc.returncode}: "
                f"{(proc.stderr.strip().splitlines() or [''])[-1][:200]}"}
    if proc.returncode:
        raise SystemExit(f"{task}/{model}/{precision} failed:\n{proc.stderr[-3000:]}")
    figure = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"# {task} {model} {precision}: {json.dumps(figure, ensure_ascii=False)}", flush=True)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--data-dir")
    parser.add_argument("--models", default="gemma3,smollm2")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--precisions", default="auto")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.models, args.data_dir, args.precision, args.threads),
                         ensure_ascii=False))
        return
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="copylift-bench-")
    figures: dict[str, dict] = {}
    for model in args.models.split(","):
        for p in args.precisions.split(","):
            for task in ("hf_generate", "copylift_decode", "pipeline"):
                figures[f"{model}/{task}/{p}"] = run(task, model, data_dir, p, args.threads)
        if not args.skip_peer:
            figures[f"{model}/llama_cpp"] = run("peer", model, data_dir, "gguf", args.threads)
    print(f"\n{'row':34} {'prec':5} {'thr':>3} {'load s':>7} {'wall s':>7} {'vs HF':>6} {'vs llama.cpp':>12} {'pass':>5} "
          f"{'peak MB':>8}")
    for name, f in figures.items():
        if "skipped" in f:
            print(f"{name:34} skipped: {f['skipped']}")
            continue
        model = name.split("/")[0]
        base = figures.get(f"{model}/hf_generate/{name.split('/')[-1]}", {}).get("wall_s")
        peer_s = figures.get(f"{model}/llama_cpp", {}).get("wall_s")
        vs_hf = f"{f['wall_s'] / base:6.2f}" if base and "decode" in name else "     -"
        vs_peer = f"{f['wall_s'] / peer_s:12.2f}" if peer_s and "decode" in name else "           -"
        print(f"{name:34} {f['precision']:5} {f['threads']:3d} {f['load_s']:7.2f} {f['wall_s']:7.2f} {vs_hf} {vs_peer} "
              f"{f.get('pass_rate', float('nan')):5.2f} {f['peak_rss_mb']:8.0f}")
        for b in f.get("briefs", []):
            print(f"    {b['channel']:14} {b['language']} {b['seconds']:5.2f} s, kept {b['kept']}/{b['generated']} "
                  f"in {b['rounds']} round(s): {b['examples'][:1]}")
    print("(wall s: 8 x 16 hook tokens for hf_generate / copylift_decode / llama_cpp; "
          "mean seconds per English brief for 8 kept variants for pipeline)")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "briefs"} for k, v in figures.items()},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
