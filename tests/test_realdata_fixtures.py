"""The real export files in tests/fixtures/realdata are the originals, byte for byte: their row counts,
BOMs, CRLF line ends and missing final newline are what the import tests check."""

from __future__ import annotations

import hashlib

from tests.conftest import REALDATA


def _listed() -> dict[str, str]:
    lines = (REALDATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


def test_every_fixture_file_is_listed_and_unchanged():
    listed = _listed()
    present = sorted(p.relative_to(REALDATA).as_posix() for p in REALDATA.glob("*/*") if p.is_file())
    assert present == sorted(listed)  # no file missing, none added without its checksum
    changed = [n for n, digest in listed.items()
               if hashlib.sha256((REALDATA / n).read_bytes()).hexdigest() != digest]
    assert not changed, f"changed since copied (re-saved or line endings converted?): {changed}"


def test_the_quirks_the_readme_names_survive_the_checkout():
    uci2 = (REALDATA / "online_retail/online_retail_II_header_head98_xq2005.csv").read_bytes()
    assert uci2.startswith(b"\xef\xbb\xbf") and not uci2.endswith(b"\n")  # BOM, no final newline
    assert b"\r\n" in (REALDATA / "online_retail/uci_online_retail_random_sample_jerryaoverton.csv").read_bytes()
    alexa = (REALDATA / "reviews/amazon_alexa.tsv").read_bytes()
    assert alexa.startswith(b"\xef\xbb\xbf") and b"\r\n" in alexa
