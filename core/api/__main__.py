"""Command line: ``python -m core.api --db PATH --port N`` serves; ``python -m core.api keys ...`` manages keys.

    python -m core.api --db data/copylift.duckdb --port 8000 [--host 127.0.0.1]
    python serve.py --db data/copylift.duckdb --port 8000 --dashboard-port 8501   # with the dashboard
    python -m core.api keys create --name "ESP" --scopes decide,events [--rate 200] [--db PATH]
    python -m core.api keys list [--db PATH]
    python -m core.api keys revoke KEY_ID [--db PATH]

The key commands open the database file; when a running service holds it
(DuckDB keeps other processes out), they send the same request to that
service through the admin token it left beside the file (``core.api.admin``),
and a revoked key is refused at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from core.cli import report_error
from core.errors import CopyLiftError


def _db_default() -> str:
    from core.config import load_config

    return load_config().db_path


def _keys(args: argparse.Namespace) -> int:
    from core.api.keys import create_key, list_keys, revoke_key
    from core.errors import StoreError
    from core.store import Store

    try:
        store = Store(args.db)
    except StoreError:  # a running service holds the file: ask it (see core.api.admin)
        return _keys_via_service(args)
    with store:
        if args.action == "create":
            key, text = create_key(store, args.name, args.scopes, args.rate)
            _print_created(key.key_id, key.name, sorted(key.scopes), key.rate_per_s, text)
        elif args.action == "list":
            frame = list_keys(store)
            print("no keys yet" if frame.empty else frame.to_string(index=False))
        else:
            revoke_key(store, args.key_id)
            print(f"Key {args.key_id} revoked.")
    return 0


def _print_created(key_id: str, name: str, scopes: list[str], rate: float, text: str) -> None:
    print(f"Created key {key_id} ({name}; scopes {','.join(scopes)}; {rate:g} requests/s).")
    print("The key is shown once; store it now:")
    print(text)


def _keys_via_service(args: argparse.Namespace) -> int:
    from core.api.admin import call

    if args.action == "create":
        out = call(args.db, "POST", "/v1/admin/keys", {"name": args.name, "scopes": args.scopes, "rate_per_s": args.rate})
        _print_created(out["key_id"], out["name"], out["scopes"], out["rate_per_s"], out["key"])
    elif args.action == "list":
        rows = call(args.db, "GET", "/v1/admin/keys")
        import pandas as pd

        print("no keys yet" if not rows else pd.DataFrame(rows).to_string(index=False))
    else:
        call(args.db, "POST", f"/v1/admin/keys/{args.key_id}/revoke")
        print(f"Key {args.key_id} revoked (the running service refuses it from now on).")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["keys"]:
        parser = argparse.ArgumentParser(prog="python -m core.api keys", description="Manage API keys.")
        parser.add_argument("--db", default=None, help="database file (default: COPYLIFT_DB or data/copylift.duckdb)")
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key (printed once)")
        create.add_argument("--name", required=True)
        create.add_argument("--scopes", required=True, help="comma list of decide, events, read")
        create.add_argument("--rate", type=float, default=200.0, help="requests per second allowed (default 200)")
        sub.add_parser("list", help="list keys (never their secrets)")
        revoke = sub.add_parser("revoke", help="revoke a key by its id")
        revoke.add_argument("key_id")
        args = parser.parse_args(argv[1:])
        args.db = args.db or _db_default()
        try:
            return _keys(args)
        except CopyLiftError as err:
            return report_error(err)
    args = serve_parser("python -m core.api").parse_args(argv)
    return run_serve(args)


def serve_parser(prog: str) -> argparse.ArgumentParser:
    """The serving options, shared with ``serve.py`` (which adds the dashboard)."""
    parser = argparse.ArgumentParser(prog=prog, description="Serve the CopyLift decision service.")
    parser.add_argument("--db", default=None, help="database file (default: COPYLIFT_DB or data/copylift.duckdb)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--update-every-conversions", type=int, default=50)
    parser.add_argument("--update-every-seconds", type=float, default=300.0)
    parser.add_argument("--retrain-after-conversions", type=int, default=500, help="0 turns background retrain off")
    parser.add_argument("--retrain-in-process", action="store_true",
                        help="retrain on a thread of this process instead of a child process (for comparison: "
                             "it competes with decisions for the interpreter)")
    return parser


def run_serve(args: argparse.Namespace, dashboard: Callable[[], None] | None = None) -> int:
    from core.api.learn import LearnSettings
    from core.api.server import serve

    learn = LearnSettings(every_conversions=args.update_every_conversions, every_seconds=args.update_every_seconds,
                          retrain_after_conversions=args.retrain_after_conversions)
    try:
        serve(args.db or _db_default(), args.host, args.port, learn=learn, dashboard=dashboard,
              retrain_in_process=args.retrain_in_process)
    except CopyLiftError as err:
        return report_error(err)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
