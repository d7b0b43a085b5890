"""Command line: ``python -m core.ingest FILE [FILE...] --db PATH [--format NAME] [--mapping NAME] [--dry-run]``.

Runs the same ``run_import`` as the Data page and prints its report as JSON.
Olist tables given together are one import; other files are imported one by
one. Exit status: 0 when every import succeeded (or was already done), 1 on a
fatal error (the database is unchanged for that import), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.cli import open_store
from core.errors import CopyLiftError
from core.ingest.context import ImportOptions
from core.ingest.formats import olist
from core.ingest.importer import run_import
from core.ingest.mapping import load_mapping
from core.ingest.sniff import SourceFile, is_gzip


def _groups(paths: list[Path], fmt: str | None) -> list[list[Path]]:
    """Olist tables travel together (they join); every other file is its own import."""
    if fmt and fmt != "olist":
        return [[p] for p in paths]
    import csv
    import gzip


    olist_files: list[Path] = []
    others: list[Path] = []
    for p in paths:
        try:
            opener = gzip.open if is_gzip(p) else open
            with opener(p, "rt", encoding="utf-8-sig", errors="replace", newline="") as fh:
                header = {h.strip().lower() for h in next(csv.reader(fh), [])}
        except (OSError, EOFError):
            header = set()
        (olist_files if olist.role(header) else others).append(p)
    groups = [[p] for p in others]
    if olist_files:
        groups.insert(0, olist_files)
    return groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m core.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--db", required=True, help="DuckDB database file")
    parser.add_argument("--format", help="skip detection (e.g. online_retail, shopify_orders, olist, reviews)")
    parser.add_argument("--mapping", help="name of a saved column mapping (generic import)")
    parser.add_argument("--encoding", help="force the text encoding (utf-8, cp1252, latin-1, mac_roman)")
    order = parser.add_mutually_exclusive_group()
    order.add_argument("--day-first", dest="day_first", action="store_true", default=None)
    order.add_argument("--month-first", dest="day_first", action="store_false")
    parser.add_argument("--dry-run", action="store_true", help="report what would be imported; write nothing")
    parser.add_argument("--user", default=None, help="recorded as imported_by")
    parser.add_argument("--upload-limit-mb", type=int, default=None)
    args = parser.parse_args(argv)

    reports, status = [], 0
    with open_store(args.db) as store:
        try:
            mapping = load_mapping(store, args.mapping) if args.mapping else None
        except CopyLiftError as err:
            print(json.dumps({"status": "error", "error": str(err)}, indent=2))
            return 1
        options = ImportOptions(format=args.format, encoding=args.encoding, day_first=args.day_first,
                                mapping=mapping, imported_by=args.user or "cli")
        for group in _groups(args.files, args.format):
            files = [SourceFile(p.name, p) for p in group]
            try:
                report = run_import(store, files, options, dry_run=args.dry_run, limit_mb=args.upload_limit_mb)
                reports.append(report.to_json())
            except CopyLiftError as err:
                status = 1
                reports.append({"status": "error", "files": [p.name for p in group], "error": str(err),
                                "problems": getattr(err, "problems", [])})
    print(json.dumps(reports[0] if len(reports) == 1 else reports, indent=2, default=str))
    return status


if __name__ == "__main__":
    sys.exit(main())
