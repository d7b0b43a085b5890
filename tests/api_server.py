"""Start ``python -m core.api`` as a real process on a free loopback port (shared by server tests and the benchmark)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(db: str | Path, port: int | None = None, *extra: str, timeout: float = 60.0,
                  log: Path | None = None, with_dashboard: bool = False) -> tuple[subprocess.Popen, str]:
    """The server process and its base URL, once ``/health`` answers (``serve.py`` when ``with_dashboard``)."""
    port = port or free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = open(log, "ab") if log else subprocess.DEVNULL
    entry = ["serve.py"] if with_dashboard else ["-m", "core.api"]
    proc = subprocess.Popen([sys.executable, *entry, "--db", str(db), "--port", str(port), *extra],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode} before answering")
        try:
            if httpx.get(url + "/health", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"the service did not answer on {url} within {timeout:.0f} s")


def stop_service(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
