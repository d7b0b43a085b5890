"""SHA-256 of a file, read in chunks: the one definition the importer, the model caches and the sample use."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK_BYTES = 8 << 20  # large reads: hashing runs at disk speed, memory stays flat for any file size


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
