"""The house rules the layout depends on: ``core`` works without Streamlit, steps import only downward."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"
# Product steps in page order: a step may import the steps before it, never the ones after it.
STEPS = ("ingest", "segments", "generation", "prediction", "strategy", "learning")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_no_core_module_imports_streamlit():
    offenders = [str(p.relative_to(ROOT)) for p in CORE.rglob("*.py")
                 if any(n == "streamlit" or n.startswith("streamlit.") for n in _imports(p))]
    assert offenders == []


def test_product_code_never_imports_the_sample_wing():
    # The sample shop is a synthetic world for demos and checks; the app loads its files through core.ingest.sample.
    sources = [p for p in [*CORE.rglob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py"]
               if "sample" not in p.relative_to(ROOT).parts[1:2]]
    offenders = [f"{p.relative_to(ROOT)}: {n}" for p in sources for n in _imports(p)
                 if n == "core.sample" or n.startswith("core.sample.")]
    assert offenders == []


def test_steps_import_only_earlier_steps():
    offenders = []
    for i, step in enumerate(STEPS):
        later = STEPS[i + 1:]
        for path in (CORE / step).rglob("*.py"):
            for name in _imports(path):
                parts = name.split(".")
                if len(parts) > 1 and parts[0] == "core" and parts[1] in later:
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []
