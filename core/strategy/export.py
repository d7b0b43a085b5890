"""Export an approved strategy as files a send tool can use and a later analysis can trust.

Exports are built as bytes (for ``st.download_button``) and, when written to
disk, written atomically (temp file + ``os.replace``). Each export holds the
plan (one row per segment x arm: copy text, channel, share, predicted rate and
interval, expected conversions), a manifest with everything needed to
reproduce it (segment rules, size and snapshot hash at export time, language
model and generation settings, predictor version, strategy id/version, approver,
timestamps) and a user-level assignment file whose arms are random, seeded and
stable: a user's arm depends only on the strategy id, the plan seed and the
user id, so a re-export gives everyone the same arm. Text cells that a
spreadsheet would run as a formula are neutralized in CSV and XLSX.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import StoreError, ValidationError
from core.formula_cells import FORMULA_PREFIXES, neutralize
from core.store import Store
from core.strategy.plan import CONTROL_ARM, SegmentPlan
from core.strategy.records import StrategyRecord, approval_of, load_strategy, set_status

EXPORT_FORMAT = "copylift-strategy-export/1"
EXPORTABLE = ("approved", "exported", "measured")
XLSX_MAX_ASSIGNMENTS = 100_000
# Content types of the files an export holds, by extension (for downloads).
EXPORT_MIME = {"csv": "text/csv", "json": "application/json",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
# Keys of a variant's settings_json worth lifting to the top of its manifest entry.
GENERATION_KEYS = ("temperature", "top_p", "top_k", "seed", "max_new_tokens", "repetition_penalty", "do_sample")
MODEL_VERSION_KEYS = ("model_version", "model_revision", "model_sha256", "model_hash")


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text cell (and column name) neutralized."""
    out = frame.copy()
    for col in out.columns:
        values = out[col]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            # Vectorized: a per-cell map costs seconds on a million-row assignment file.
            risky = values.astype("string").str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if values.dtype == object:  # mixed column: numbers (e.g. -2) are not formulas
                risky &= values.map(type).eq(str)
            if risky.any():
                out[col] = values.where(~risky, "'" + values[risky].astype(str))
    out.columns = [neutralize(str(c)) for c in out.columns]
    return out


# -- segment snapshots -------------------------------------------------------------
@dataclass(frozen=True)
class SegmentSnapshot:
    """A segment as it was at export time: its rules, its size and a hash of its members."""

    segment_id: str | None
    version: int | None
    name: str
    description: str | None
    rules: Any
    size: int
    snapshot_hash: str


def snapshot_hash(user_ids: Iterable[str]) -> str:
    """sha256 over the sorted, de-duplicated member ids: equal hashes mean equal memberships."""
    digest = hashlib.sha256()
    for uid in sorted({str(u) for u in user_ids}):
        digest.update(uid.encode("utf-8") + b"\n")
    return digest.hexdigest()


def snapshot_segment(
    segment_id: str | None, version: int | None, name: str, user_ids: Sequence[str],
    rules: Any = None, description: str | None = None,
) -> SegmentSnapshot:
    ids = [str(u) for u in user_ids]
    return SegmentSnapshot(segment_id, version, name, description, rules, len(set(ids)), snapshot_hash(ids))


# -- plan rows and provenance --------------------------------------------------------
def plan_rows(record: StrategyRecord) -> pd.DataFrame:
    """One row per segment x arm, the table a send tool and the results matcher read."""
    rows = []
    for seg in record.plan.segments:
        for arm in seg.arms:
            rows.append({
                "strategy_id": record.strategy_id, "strategy_version": record.version,
                "segment_id": seg.segment.segment_id or "", "segment": seg.segment.name,
                "arm": "control" if arm.is_control else "treatment", "variant_id": arm.variant_id,
                "channel": arm.channel or "", "copy_text": arm.copy_text or "",
                "share": round(arm.share, 6), "expected_sends": arm.sends,
                "predicted_rate": arm.rate, "rate_low": arm.low, "rate_high": arm.high,
                "expected_conversions": arm.conversions, "conversions_low": arm.conversions_low,
                "conversions_high": arm.conversions_high, "expected_revenue": arm.revenue,
                "do_not_send": seg.do_not_send,
            })
    return pd.DataFrame(rows)


def variant_provenance(store: Store, variant_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """How each variant was made: origin, language model, generation settings, seed."""
    ids = sorted({v for v in variant_ids if v and v != CONTROL_ARM})
    if not ids:
        return {}
    frame = store.df(
        "SELECT variant_id, channel, origin, model_name, seed, settings_json, created_at FROM variants "
        "WHERE variant_id IN (SELECT unnest(?::VARCHAR[]))",
        [ids],
    )
    out: dict[str, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        try:
            settings = json.loads(row.settings_json) if isinstance(row.settings_json, str) and row.settings_json else {}
        except json.JSONDecodeError:
            settings = {"unreadable_settings_json": row.settings_json}
        entry = {
            "channel": row.channel, "origin": row.origin,
            "model_name": row.model_name if isinstance(row.model_name, str) else settings.get("model_name"),
            "model_version": next((settings[k] for k in MODEL_VERSION_KEYS if k in settings), None),
            "seed": None if pd.isna(row.seed) else int(row.seed),
            "generation": {k: settings[k] for k in GENERATION_KEYS if k in settings},
            "settings": settings, "created_at": str(row.created_at),
        }
        if entry["seed"] is None and "seed" in settings:
            entry["seed"] = settings["seed"]
        out[row.variant_id] = entry
    for vid in ids:
        out.setdefault(vid, {"missing": "variant is no longer in the database"})
    return out


def build_manifest(
    record: StrategyRecord,
    snapshots: Mapping[str, SegmentSnapshot],
    provenance: Mapping[str, Any],
    approval: Mapping[str, Any] | None,
    *,
    exported_by: str | None,
    exported_at: str,
    files: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Everything needed to reproduce and audit the export, as a JSON-ready dict."""
    plan = record.plan
    segments = []
    for seg in plan.segments:
        snap = snapshots.get(seg.segment.name)
        segments.append({
            "segment_id": seg.segment.segment_id, "segment_version": seg.segment.version, "name": seg.segment.name,
            "definition": None if snap is None else {"description": snap.description, "rules": snap.rules},
            "size_at_export": None if snap is None else snap.size,
            "snapshot_hash": None if snap is None else snap.snapshot_hash,
            "size_at_plan": seg.members, "audience_at_plan": seg.audience,
            "excluded_by_frequency_guard": len(seg.excluded_user_ids),
            "avg_order_value": seg.avg_order_value, "control_variant_id": seg.control_variant_id,
            "do_not_send": seg.do_not_send, "reason": seg.reason,
        })
    models = sorted({p.get("model_name") for p in provenance.values() if p.get("model_name")})
    return {
        "format": EXPORT_FORMAT,
        "strategy": {
            "strategy_id": record.strategy_id, "version": record.version, "name": record.name,
            "status": record.status, "version_created_at": str(record.created_at),
            "plan_created_at": plan.created_at,
        },
        "approval": dict(approval) if approval else None,
        "exported_at": exported_at, "exported_by": exported_by,
        "allocation": asdict(plan.settings),
        "predictor_version": plan.predictor_version,
        "language_models": models,
        "segments": segments,
        "variants": dict(provenance),
        "assignment": {
            "method": "u = first 8 bytes of sha256('strategy_id|seed|user_id') / 2^64; arms take consecutive "
                      "share intervals, control first, then variants in plan order",
            "seed": plan.settings.seed,
        },
        "files": dict(files or {}),
    }


# -- user-level assignment -------------------------------------------------------------
def stable_uniform(strategy_id: str, seed: int, user_ids: Sequence[str]) -> np.ndarray:
    """A uniform number in [0, 1) per user that depends only on (strategy id, seed, user id)."""
    prefix = f"{strategy_id}|{seed}|".encode()
    return np.fromiter(
        (int.from_bytes(hashlib.sha256(prefix + str(u).encode("utf-8")).digest()[:8], "big") / 2**64 for u in user_ids),
        dtype=float, count=len(user_ids),
    )


def _assign_segment(strategy_id: str, seed: int, seg: SegmentPlan, user_ids: Sequence[str]) -> pd.DataFrame:
    excluded = set(seg.excluded_user_ids)
    ids = [u for u in dict.fromkeys(str(u) for u in user_ids) if u not in excluded]
    u = stable_uniform(strategy_id, seed, ids)
    edges = np.cumsum([arm.share for arm in seg.arms])
    edges[-1] = 1.0  # guard against float drift leaving u near 1 unassigned
    idx = np.searchsorted(edges, u, side="right")
    labels = np.array([CONTROL_ARM] + [a.variant_id for a in seg.variants], dtype=object)
    return pd.DataFrame({
        "user_id": ids, "segment": seg.segment.name,
        "variant_id": labels[idx], "arm": np.where(idx == 0, "control", "treatment"),
    })


def assign_users(record: StrategyRecord, members: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """User id -> variant id or 'control', per segment; a user in two segments keeps the first."""
    frames = []
    for seg in record.plan.segments:
        if seg.segment.name not in members:
            raise ValidationError(f"no member list given for segment {seg.segment.name!r}")
        frames.append(_assign_segment(record.strategy_id, record.plan.settings.seed, seg, members[seg.segment.name]))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["user_id", "segment", "variant_id", "arm"])
    return out.drop_duplicates("user_id", keep="first").reset_index(drop=True)


# -- encoders --------------------------------------------------------------------------
def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (RFC 4180 line ends) with formula-like text neutralized.

    CRLF line ends make the writer quote any cell holding a bare CR or LF, so
    copy text with line breaks cannot split a row.
    """
    return neutralize_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return str(value)


def to_json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default).encode("utf-8")


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return json.loads(frame.to_json(orient="records"))


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _flatten(v, f"{prefix}.{k}" if prefix else str(k))]
    if isinstance(obj, list):
        return [kv for i, v in enumerate(obj) for kv in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, obj if obj is None or isinstance(obj, (int, float, bool)) else str(obj))]


def to_xlsx_bytes(sheets: Mapping[str, pd.DataFrame]) -> bytes:
    """An XLSX workbook, one sheet per frame; text is neutralized (openpyxl runs '=...' as a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    wb = Workbook(write_only=True)
    for name, frame in sheets.items():
        ws = wb.create_sheet(title=name[:31])
        ws.append([neutralize(str(c)) for c in frame.columns])
        for row in frame.itertuples(index=False):
            cells = []
            for v in row:
                if isinstance(v, str):
                    v = ILLEGAL_CHARACTERS_RE.sub("", neutralize(v))
                elif isinstance(v, float) and np.isnan(v):
                    v = None
                elif isinstance(v, np.generic):
                    v = v.item()
                cells.append(v)
            ws.append(cells)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# -- bundle --------------------------------------------------------------------------
@dataclass(frozen=True)
class ExportBundle:
    """The files of one export, by file name, as bytes."""

    strategy_id: str
    version: int
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def stem(self) -> str:
        return f"{self.strategy_id}-v{self.version}"


def build_export(
    store: Store,
    record: StrategyRecord,
    snapshots: Mapping[str, SegmentSnapshot],
    members: Mapping[str, Sequence[str]],
    *,
    exported_by: str | None = None,
    exported_at: str | None = None,
) -> ExportBundle:
    """Build plan CSV/JSON/XLSX, assignments CSV and the manifest for one strategy version."""
    if record.status not in EXPORTABLE:
        raise ValidationError(f"strategy {record.strategy_id} is '{record.status}'; only an approved strategy can be exported")
    exported_at = exported_at or datetime.now(UTC).isoformat(timespec="seconds")
    rows = plan_rows(record)
    assignments = assign_users(record, members)
    provenance = variant_provenance(store, rows["variant_id"].tolist())
    approval = approval_of(store, record.strategy_id)
    stem = f"{record.strategy_id}-v{record.version}"
    data = {f"{stem}-plan.csv": to_csv_bytes(rows), f"{stem}-assignments.csv": to_csv_bytes(assignments)}
    hashes = {name: hashlib.sha256(b).hexdigest() for name, b in data.items()}
    manifest = build_manifest(
        record, snapshots, provenance, approval, exported_by=exported_by, exported_at=exported_at, files=hashes
    )
    data[f"{stem}-manifest.json"] = to_json_bytes(manifest)
    data[f"{stem}-plan.json"] = to_json_bytes({"manifest": manifest, "rows": _records(rows)})
    manifest_sheet = pd.DataFrame(_flatten(manifest), columns=["key", "value"])
    sheets = {"plan": rows, "manifest": manifest_sheet}
    if len(assignments) <= XLSX_MAX_ASSIGNMENTS:  # openpyxl needs ~20 s per million rows; the CSV has them all
        sheets["assignments"] = assignments
    data[f"{stem}.xlsx"] = to_xlsx_bytes(sheets)
    return ExportBundle(record.strategy_id, record.version, data)


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise StoreError(f"could not write {path}: {err}; check the export folder is writable") from err
    return path


def write_bundle(bundle: ExportBundle, out_dir: str | Path) -> list[Path]:
    """Write every file of the bundle atomically under ``out_dir``."""
    return [write_atomic(Path(out_dir) / name, data) for name, data in bundle.files.items()]


def export_strategy(
    store: Store,
    strategy_id: str,
    snapshots: Mapping[str, SegmentSnapshot],
    members: Mapping[str, Sequence[str]],
    *,
    author: str | None,
    out_dir: str | Path | None = None,
) -> tuple[StrategyRecord, ExportBundle, list[Path]]:
    """Mark an approved strategy exported (a new version), build its files and write them if asked."""
    current = load_strategy(store, strategy_id)
    if current.status not in EXPORTABLE:
        raise ValidationError(f"strategy {strategy_id} is '{current.status}'; a manager must approve it before export")
    record = current
    if current.status in ("approved", "exported"):
        record = set_status(store, strategy_id, "exported", author=author, comment="exported")
    bundle = build_export(store, record, snapshots, members, exported_by=author)
    paths = write_bundle(bundle, out_dir) if out_dir is not None else []
    return record, bundle, paths
