"""Run the decision service with uvicorn, alone or in one process with the dashboard.

DuckDB 2.0 lets one process hold a database file open for writing, and while
it does, no other process can open the file at all, not even read-only
(measured; see the README). Inside one process any number of threads share it.
So "the dashboard and the service side by side on one database" means one
process: ``serve.py`` (``make serve``) runs Streamlit in the main thread and
the service on a thread beside it, both on the same DuckDB database instance.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator

import uvicorn

from core.api.admin import write_admin_file
from core.api.app import create_app
from core.api.learn import LearnSettings
from core.api.service import Service, ServiceSettings
from core.store import Store


class _Server(uvicorn.Server):
    """uvicorn's server, except that SIGTERM/SIGINT end ``run()`` normally instead of being re-raised.

    uvicorn re-raises the signal after its graceful shutdown, which kills the
    process before the writer thread is joined and the database is closed.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        original = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def build_server(store: Store, host: str, port: int, settings: ServiceSettings, cfg=None,
                 retrain_in_process: bool = False) -> tuple[uvicorn.Server, Service]:
    retrain_fn = None
    if retrain_in_process:
        from core.learning.retrain import retrain as retrain_fn
    service = Service(store, cfg, settings, retrain_fn=retrain_fn).start()
    config = uvicorn.Config(create_app(service), host=host, port=port, loop="uvloop", http="httptools",
                            log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    return _Server(config), service


def serve(db: str, host: str = "127.0.0.1", port: int = 8000, *, learn: LearnSettings | None = None,
          dashboard: Callable[[], None] | None = None, retrain_in_process: bool = False) -> None:
    """Serve until stopped (Ctrl-C / SIGTERM).

    ``dashboard`` (given by ``serve.py``; ``core`` never imports Streamlit) runs the
    dashboard in the main thread of this process while the service runs beside it.
    """
    from core.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    os.environ["COPYLIFT_DB"] = str(db)  # the dashboard's get_store() opens the same file, hence the same instance
    cfg = load_config()
    store = Store(db)
    server, service = build_server(store, host, port, ServiceSettings(learn=learn or LearnSettings()), cfg,
                                   retrain_in_process)
    logging.getLogger("copylift.api").info("decision service on http://%s:%s (docs at /docs), database %s",
                                           host, port, db)
    admin = write_admin_file(db, f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}",
                             service.admin_token)
    try:
        if dashboard is None:
            server.run()
            return
        thread = threading.Thread(target=server.run, name="copylift-api-server", daemon=True)
        thread.start()
        dashboard()
    finally:
        admin.unlink(missing_ok=True)
        server.should_exit = True
        service.close()
        store.close()
