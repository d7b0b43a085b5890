"""Benchmark copy generation: model load (GGUF and cache) and 8 variants x 48 tokens.

    .venv/bin/python benchmarks/bench_generate.py [--data-dir DIR] [--precisions fp32,bf16,int8]
        [--skip-baseline] [--skip-cold]

Each measurement runs in its own Python process, so load times include nothing
cached in memory and peak memory (max RSS) belongs to that measurement alone.
Rows:
- cold load: de-quantize the GGUF file, save the cache, load it (fresh data dir);
- cached load: verify hashes + load the saved safetensors, per precision; split into
  importing torch + transformers (``imports_s``, which the app does in the background at
  start) and the load after that (``load_after_imports_s``, what the first Generate waits for);
- batched 8x48: one ``generate`` call with ``num_return_sequences=8``, exactly 48
  new tokens each (stop tokens off), per precision;
- pipeline: ``generate_copy`` for an email-subject brief, 8 passing variants asked
  (stops at line end, guardrails, over-generation), per precision, with its pass rate;
- baseline: 8 sequential fp32 ``generate`` calls of 48 tokens (the naive way).
Prints a table, then one JSON line with every figure.
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

BRIEF = dict(product="Trail Running Shoes", channel="email_subject", offer_type="percent", offer_value=20,
             promo_code="RUN20", tone="friendly")
# The pipeline (and the quality read) also runs on two other channels and offers.
QUALITY_BRIEFS = (
    BRIEF,
    dict(product="Ceramic Pour-Over Coffee Set", channel="push", offer_type="free_shipping", tone="playful",
         category="Home & Kitchen"),
    dict(product="Wireless Earbuds", channel="sms", offer_type="amount", offer_value=15, promo_code="EAR15",
         tone="urgent", category="Electronics"),
)
KW = dict(temperature=0.8, top_p=0.92, top_k=50, repetition_penalty=1.1)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(task: str, data_dir: str, precision: str) -> dict:
    from core.config import AppConfig
    from core.generation.brief import Brief
    from core.generation.generate import generate_copy
    from core.generation.model import load_language_model
    from core.generation.prompt import build_prompt, house_examples
    from core.generation.settings import default_settings

    cfg = AppConfig(data_dir=Path(data_dir), db_path=":memory:", model=None)
    imports_s = 0.0
    if task == "load":
        # What the app's start-up warm-up (pages.common.start_model_runtime_warmup) takes off
        # the first generation: importing torch and transformers.
        from core.generation.model import warm_runtime

        imports_s = warm_runtime()
    start = time.perf_counter()
    lm = load_language_model(cfg, precision=precision)
    after_imports = time.perf_counter() - start
    out = {"task": task, "precision": lm.precision, "load_s": imports_s + after_imports}
    if task == "load":
        out.update(imports_s=imports_s, load_after_imports_s=after_imports)
        # A fresh process pays for importing torch + transformers once; the app does that once
        # per server process. The second load shows the cost of the model itself.
        start = time.perf_counter()
        load_language_model(cfg, precision=precision)
        out["reload_warm_imports_s"] = time.perf_counter() - start
        out["peak_rss_mb"] = _rss_mb()
        return out
    brief = Brief(**BRIEF)
    prompt = build_prompt(brief, "All customers", "", house_examples(brief))
    text = lm.render(prompt.messages)
    lm.sample(text, 2, max_new_tokens=4, seed=0, **KW)  # warm-up: first call allocates
    if task == "baseline":
        import torch

        enc = lm.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        start = time.perf_counter()
        with torch.inference_mode():
            for i in range(8):
                torch.manual_seed(i)
                lm.model.generate(**enc, do_sample=True, max_new_tokens=48, min_new_tokens=48,
                                  pad_token_id=lm.tokenizer.pad_token_id, **KW)
        out["wall_s"] = time.perf_counter() - start
    else:
        start = time.perf_counter()
        lm.sample(text, 8, max_new_tokens=48, min_new_tokens=48, seed=1, **KW)
        out["wall_s"] = time.perf_counter() - start
        settings = default_settings("email_subject", n_variants=8, seed=1)
        start = time.perf_counter()
        result = generate_copy(lm, prompt, brief, settings)
        out.update(pipeline_s=time.perf_counter() - start, kept=len(result.variants), generated=result.generated,
                   pass_rate=result.pass_rate, failures=result.failure_counts,
                   examples=[v.text for v in result.variants[:3]])
        # Quality read: 8 kept variants per brief on three channels; pass rate and every kept text.
        kept = generated = 0
        quality = []
        for spec in QUALITY_BRIEFS:
            qb = Brief(**spec)
            qp = build_prompt(qb, "All customers", "", house_examples(qb))
            start = time.perf_counter()
            r = generate_copy(lm, qp, qb, default_settings(qb.channel, n_variants=8, seed=1))
            kept, generated = kept + len(r.variants), generated + r.generated
            quality.append({"channel": qb.channel, "seconds": time.perf_counter() - start, "kept": len(r.variants),
                            "generated": r.generated, "failures": r.failure_counts,
                            "texts": [v.text for v in r.variants]})
        out.update(quality=quality, quality_pass_rate=kept / max(1, generated))
    out["tokens_per_s"] = 8 * 48 / out["wall_s"]
    out["peak_rss_mb"] = _rss_mb()
    return out


def run(task: str, data_dir: str, precision: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--worker", task, "--data-dir", data_dir,
                           "--precision", precision], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        raise SystemExit(f"{task}/{precision} failed:\n{proc.stderr[-3000:]}")
    figure = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"# {task} {precision}: {figure}", flush=True)  # partial results survive an interrupted run
    return figure


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker")
    parser.add_argument("--data-dir")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--precisions", default="fp32,bf16,int8")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--skip-cold", action="store_true", help="data dir already holds the converted model")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.data_dir, args.precision)))
        return
    data_dir = args.data_dir or tempfile.mkdtemp(prefix="copylift-bench-")
    figures: dict = {}
    if not args.skip_cold:
        figures["cold_load"] = run("load", data_dir, "fp32")
    for p in args.precisions.split(","):
        figures[f"cached_load_{p}"] = run("load", data_dir, p)
        figures[f"batched_{p}"] = run("batch", data_dir, p)
    if not args.skip_baseline:
        figures["baseline_sequential_fp32"] = run("baseline", data_dir, "fp32")
    print(f"{'measurement':32} {'precision':9} {'load s':>7} {'imports':>7} {'after':>7} {'reload':>7} {'8x48 s':>7} {'tok/s':>7} {'pipeline s':>10} "
          f"{'pass':>5} {'peak MB':>8}")
    for name, f in figures.items():
        print(f"{name:32} {f['precision']:9} {f['load_s']:7.2f} {f.get('imports_s', float('nan')):7.2f} "
              f"{f.get('load_after_imports_s', float('nan')):7.2f} {f.get('reload_warm_imports_s', float('nan')):7.2f} "
              f"{f.get('wall_s', float('nan')):7.2f} "
              f"{f.get('tokens_per_s', float('nan')):7.1f} {f.get('pipeline_s', float('nan')):10.2f} "
              f"{f.get('pass_rate', float('nan')):5.2f} {f['peak_rss_mb']:8.0f}")
    base = figures.get("baseline_sequential_fp32", {}).get("wall_s")
    for p in args.precisions.split(","):
        b = figures[f"batched_{p}"]
        if base:
            b["speedup_vs_baseline"] = base / b["wall_s"]
            print(f"batched {p}: {b['speedup_vs_baseline']:.1f}x faster than the sequential fp32 baseline")
        print(f"pipeline {p}: kept {b['kept']}/{b['generated']} ({b['failures']}); e.g. {b['examples']}")
        for q in b["quality"]:
            print(f"  quality {p} {q['channel']}: {q['kept']}/{q['generated']} kept in {q['seconds']:.1f} s "
                  f"({q['failures']})")
            for text in q["texts"]:
                print(f"    - {text}")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk not in ("examples", "quality")}
                      for k, v in figures.items()}))


if __name__ == "__main__":
    main()
