"""Key administration while the service runs: a local admin token beside the database file.

While the service holds the database, the keys CLI cannot open it (DuckDB's
lock). So the service writes ``<database>.api-admin`` (mode 0600: its URL and a
random token) when it starts and removes it when it stops; the CLI, finding
the database locked, sends the same create/list/revoke to the running service
with that token. Whoever can read that file can already open the database, so
the token grants nothing the file system did not.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from core.errors import NotFoundError, StoreError, ValidationError

SUFFIX = ".api-admin"


def admin_file(db: str | Path) -> Path:
    return Path(str(db) + SUFFIX)


def write_admin_file(db: str | Path, url: str, token: str) -> Path:
    path = admin_file(db)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"url": url, "token": token}, fh)
    return path


def call(db: str | Path, method: str, path: str, body: dict | None = None) -> dict | list:
    """Send one admin request to the service that holds ``db``."""
    file = admin_file(db)
    if not file.exists():
        raise StoreError(f"the database {db} is in use by another process and no running decision service "
                         f"left {file.name} beside it; stop that process and try again")
    info = json.loads(file.read_text())
    req = urllib.request.Request(info["url"] + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"X-Admin-Token": info["token"], "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as err:
        detail = json.loads(err.read() or b"{}").get("detail", str(err))
        raise (NotFoundError if err.code == 404 else ValidationError)(str(detail)) from err
    except urllib.error.URLError as err:
        raise StoreError(f"the decision service at {info['url']} did not answer ({err.reason})") from err
