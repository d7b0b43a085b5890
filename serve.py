"""The dashboard and the decision service in one process, on one database (``make serve``).

DuckDB lets one process open a database file for writing and then keeps every
other process out, so the service (``core.api``) and the Streamlit dashboard
share a process: Streamlit runs in the main thread, the service on a thread
beside it, both on one DuckDB instance. This file lives beside ``app.py``
because ``core`` never imports Streamlit.

    python serve.py [--db PATH] [--port 8000] [--dashboard-port 8501] [--host 127.0.0.1]
"""

from __future__ import annotations

from pathlib import Path

from core.api.__main__ import run_serve, serve_parser

APP = Path(__file__).resolve().parent / "app.py"


def run_dashboard(host: str, port: int) -> None:
    from streamlit.web import bootstrap

    flags = {"server_headless": True, "server_address": host, "server_port": port,
             "browser_gatherUsageStats": False, "server_fileWatcherType": "none"}
    bootstrap.load_config_options(flags)  # what `streamlit run --server.port ...` does before run()
    bootstrap.run(str(APP), False, [], flags)


def main(argv: list[str] | None = None) -> int:
    parser = serve_parser("python serve.py")
    parser.add_argument("--dashboard-port", type=int, default=8501)
    args = parser.parse_args(argv)
    return run_serve(args, dashboard=lambda: run_dashboard(args.host, args.dashboard_port))


if __name__ == "__main__":
    raise SystemExit(main())
