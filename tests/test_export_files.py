"""Exports: formula injection neutralized, stable user assignment, manifest contents, atomic writes."""

from __future__ import annotations

import csv
import io
import json

import pytest
from openpyxl import load_workbook

from core.errors import ValidationError
from core.segments.catalog import SegmentRef
from core.strategy.export import assign_users, build_export, export_strategy, snapshot_segment, write_atomic
from core.strategy.plan import Plan, PlanSettings, build_segment_plan
from core.strategy.records import save_strategy, set_status
from tests.strategy_helpers import pred

EVIL = {
    "ctrl": '=HYPERLINK("http://evil.example","click")',
    "v1": "+cmd|' /C calc'!A0",
    "v2": "-2+3 @SUM(A1) deal",
}
USERS = [f"u{i:04d}" for i in range(2000)]


def _insert_variants(store, texts):
    for vid, text in texts.items():
        store.execute(
            "INSERT INTO variants (variant_id, channel, copy_text, origin, model_name, seed, settings_json, is_control) "
            "VALUES (?, 'email_subject', ?, 'generated', 'SmolLM2-135M-Instruct', 42, ?, ?)",
            [vid, text, json.dumps({"temperature": 0.8, "top_p": 0.9, "seed": 42, "model_revision": "abc123"}),
             vid == "ctrl"],
        )


def _approved(store, texts=EVIL, seed=11):
    _insert_variants(store, texts)
    info = {vid: {"channel": "email_subject", "copy_text": t} for vid, t in texts.items()}
    settings = PlanSettings(mode="explore", floor=0.05, seed=seed, draws=2000)
    preds = [pred("ctrl", 0.02, 0.018, 0.022, is_control=True), pred("v1", 0.03, 0.025, 0.035),
             pred("v2", 0.025, 0.02, 0.03)]
    seg = build_segment_plan(SegmentRef("seg-a", 2, "Seg A"), preds, members=len(USERS), avg_order_value=50.0,
                             settings=settings, variant_info=info, excluded_user_ids=["u0000", "u0001"])
    rec = save_strategy(store, Plan("Evil", settings, (seg,), predictor_version=3), author="mia")
    set_status(store, rec.strategy_id, "submitted", author="mia")
    set_status(store, rec.strategy_id, "approved", author="boss", comment="ok")
    return rec.strategy_id


def _snap():
    return {"Seg A": snapshot_segment("seg-a", 2, "Seg A", USERS, rules=[{"field": "recency_days", "op": "<=", "value": 30}],
                                      description="recent buyers")}


def _files(bundle, suffix):
    return next(data for name, data in bundle.files.items() if name.endswith(suffix))


def test_csv_and_xlsx_neutralize_formula_text(store, tmp_path):
    sid = _approved(store, {**EVIL, "v2": "\tTab start", "ctrl": "\rCR start"})
    _, bundle, _ = export_strategy(store, sid, _snap(), {"Seg A": USERS}, author="mia")
    rows = list(csv.DictReader(io.StringIO(_files(bundle, "-plan.csv").decode(), newline="")))
    texts = [r["copy_text"] for r in rows]
    assert len(rows) == 3
    for text in texts:
        assert text.startswith("'"), text
    assert texts[1] == "'" + EVIL["v1"]
    wb = load_workbook(io.BytesIO(_files(bundle, ".xlsx")))
    cells = [c for row in wb["plan"].iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert wb.sheetnames == ["plan", "manifest", "assignments"]
    assert wb["assignments"].max_row == len(USERS) - 2 + 1  # header + everyone not excluded
    xtexts = [r[7] for r in wb["plan"].iter_rows(min_row=2, values_only=True)]
    assert all(t.startswith("'") for t in xtexts)
    # JSON keeps the text exactly as written (send tools need the real copy)
    rows_json = json.loads(_files(bundle, "-plan.json"))["rows"]
    assert rows_json[1]["copy_text"] == EVIL["v1"]


def test_user_assignment_is_stable_across_reexport(store):
    sid = _approved(store)
    rec1, b1, _ = export_strategy(store, sid, _snap(), {"Seg A": USERS}, author="mia")
    rec2, b2, _ = export_strategy(store, sid, _snap(), {"Seg A": list(reversed(USERS))}, author="mia")
    assert rec2.version == rec1.version + 1
    a1 = {r["user_id"]: r["variant_id"] for r in csv.DictReader(io.StringIO(_files(b1, "-assignments.csv").decode()))}
    a2 = {r["user_id"]: r["variant_id"] for r in csv.DictReader(io.StringIO(_files(b2, "-assignments.csv").decode()))}
    assert a1 == a2 and len(a1) == len(USERS) - 2 and "u0000" not in a1
    # shares come out near the plan's (2,000 users: within a few points)
    seg = rec1.plan.segments[0]
    counts = {k: list(a1.values()).count(k) / len(a1) for k in set(a1.values())}
    assert counts["control"] == pytest.approx(0.10, abs=0.03)
    for arm in seg.variants:
        assert counts.get(arm.variant_id, 0) == pytest.approx(arm.share, abs=0.04)


def test_assignment_changes_with_strategy_id(store):
    sid = _approved(store)
    rec = export_strategy(store, sid, _snap(), {"Seg A": USERS}, author="mia")[0]
    other = type(rec)(**{**rec.__dict__, "strategy_id": "stg-other"})
    a, b = assign_users(rec, {"Seg A": USERS}), assign_users(other, {"Seg A": USERS})
    assert (a["variant_id"] != b["variant_id"]).mean() > 0.2


def test_manifest_has_everything_to_reproduce(store, tmp_path):
    sid = _approved(store)
    rec, bundle, paths = export_strategy(store, sid, _snap(), {"Seg A": USERS}, author="mia", out_dir=tmp_path)
    manifest = json.loads(_files(bundle, "-manifest.json"))
    assert manifest["strategy"]["strategy_id"] == sid and manifest["strategy"]["version"] == rec.version
    assert manifest["approval"]["approver"] == "boss" and manifest["approval"]["comment"] == "ok"
    seg = manifest["segments"][0]
    assert seg["size_at_export"] == 2000 and len(seg["snapshot_hash"]) == 64
    assert seg["definition"]["rules"][0]["field"] == "recency_days"
    v1 = manifest["variants"]["v1"]
    assert v1["model_name"] == "SmolLM2-135M-Instruct" and v1["model_version"] == "abc123"
    assert v1["generation"] == {"temperature": 0.8, "top_p": 0.9, "seed": 42}
    assert manifest["predictor_version"] == 3 and manifest["allocation"]["seed"] == 11
    assert manifest["exported_by"] == "mia" and manifest["exported_at"]
    assert set(manifest["files"]) == {f"{sid}-v{rec.version}-plan.csv", f"{sid}-v{rec.version}-assignments.csv"}
    assert sorted(p.name for p in paths) == sorted(bundle.files)
    assert not list(tmp_path.glob(".*.tmp"))
    assert (tmp_path / f"{sid}-v{rec.version}-manifest.json").read_bytes() == _files(bundle, "-manifest.json")


def test_only_approved_strategies_export(store):
    _insert_variants(store, {"x": "hi"})
    sid = _approved(store)
    set_status(store, sid, "exported")
    from core.strategy.records import load_strategy

    draft = save_strategy(store, load_strategy(store, sid).plan)
    with pytest.raises(ValidationError, match="approve"):
        export_strategy(store, draft.strategy_id, _snap(), {"Seg A": USERS}, author="mia")
    with pytest.raises(ValidationError, match="only an approved"):
        build_export(store, draft, _snap(), {"Seg A": USERS})


def test_write_atomic_replaces_whole_file(tmp_path):
    target = tmp_path / "out" / "plan.csv"
    write_atomic(target, b"old")
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in target.parent.iterdir()] == ["plan.csv"]


def test_neutralize_frame_touches_text_only():
    import pandas as pd

    from core.strategy.export import neutralize_frame

    frame = pd.DataFrame({
        "text": ["=1+1", "fine", None, "-x", "@y"],
        "mixed": pd.Series(["+x", -1, None, "ok", 2.5], dtype=object),
        "number": [-1.0, 2.0, 3.0, -4.0, 5.0],
    })
    out = neutralize_frame(frame)
    assert out["text"].tolist()[:2] == ["'=1+1", "fine"] and out["text"].tolist()[3:] == ["'-x", "'@y"]
    assert out["mixed"].tolist()[:2] == ["'+x", -1]
    assert out["number"].tolist() == frame["number"].tolist()
