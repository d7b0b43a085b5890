"""Command line: generate copy variants for a brief file, as JSON on stdout.

    python -m core.generation --brief BRIEF.json [--segment NAME] [--db PATH]
        [--n 8] [--temperature T] [--top-p P] [--seed S] [--precision auto] [--model gemma3|smollm2]

The brief file is a JSON object with the fields of ``Brief`` (``brand_voice``
may name a saved profile). Same code path as the Copy Lab page. Errors are
printed as one line on stderr with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import load_config
from core.errors import CopyLiftError, NotFoundError, ValidationError
from core.generation.brand import get_brand_voice
from core.generation.brief import Brief
from core.generation.generate import run_generation
from core.generation.model import PRECISIONS, load_language_model
from core.generation.settings import default_settings
from core.segments import EVERYONE, SegmentRef, list_segments
from core.store import Store


def _read_brief(path: Path, store: Store) -> Brief:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValidationError(f"cannot read the brief file {path}: {err.strerror}") from err
    except json.JSONDecodeError as err:
        raise ValidationError(f"{path} line {err.lineno}: not valid JSON ({err.msg})") from err
    if isinstance(raw, dict) and isinstance(raw.get("brand_voice"), str):
        raw = {**raw, "brand_voice": get_brand_voice(store, raw["brand_voice"])}
    return Brief.from_dict(raw)


def _segment_ref(store: Store, name: str | None) -> SegmentRef:
    if not name:
        return EVERYONE
    for seg in list_segments(store):
        if seg.name == name or seg.segment_id == name:
            return seg.ref
    raise NotFoundError(f"no segment named {name!r}; see the Segments page for the names")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.generation", description=__doc__.splitlines()[0])
    parser.add_argument("--brief", type=Path, required=True, help="brief JSON file")
    parser.add_argument("--segment", help="segment name or id (default: all customers)")
    parser.add_argument("--db", help="database file (default: the configured one)")
    parser.add_argument("--n", type=int, default=None, help="number of variants (1-20)")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--top-p", type=float, dest="top_p")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--precision", choices=PRECISIONS, default="auto")
    parser.add_argument("--model", help="bundled model (gemma3, smollm2), .gguf file or folder (default: configured)")
    args = parser.parse_args(argv)
    cfg = load_config()
    try:
        with Store(args.db or cfg.db_path) as store:
            brief = _read_brief(args.brief, store)
            settings = default_settings(brief.channel, n_variants=args.n, temperature=args.temperature,
                                        top_p=args.top_p, seed=args.seed)
            ref = _segment_ref(store, args.segment)
            lm = load_language_model(cfg, precision=args.precision, model=args.model,
                                     progress=lambda f, m: print(m, file=sys.stderr))
            result = run_generation(store, lm, brief, settings, ref, shop_name=cfg.shop_name)
    except CopyLiftError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = result.to_dict()
    out["model"] = lm.label
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
