"""Look at an uploaded file before reading it: size, hash, encoding, separator, header.

DuckDB reads UTF-8 only, and its sniffer guesses dates and types we do not
trust, so this module decides the encoding (transcoding legacy 8-bit text to a
UTF-8 temporary file in chunks), the separator and the header names itself.
Gzip-compressed files (recognised by their magic bytes, whatever their name)
are decompressed to a temporary file first, counting bytes so that the upload
limit holds for the uncompressed text too (a small "gzip bomb" is stopped).
Every problem it finds is a ``ValidationError`` whose message names the
problem and what to do about it.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer

from core.errors import ValidationError
from core.hashing import file_sha256

SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
LEGACY_ENCODINGS = ("cp1252", "latin-1", "mac_roman")
ENCODING_CHOICES = ("utf-8", *LEGACY_ENCODINGS)
_CHUNK = 1 << 20
_SAMPLE = 1 << 21
LOW_CONFIDENCE = 0.75
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class SourceFile:
    """A file to import: the name the analyst knows it by and where its bytes are."""

    name: str
    path: Path


@dataclass(frozen=True)
class Sniffed:
    """What a file looks like: decoded path, encoding, separator and header."""

    name: str
    original_path: Path
    path: Path  # UTF-8 text DuckDB can read (the original or a transcoded copy)
    size_bytes: int
    sha256: str
    encoding: str
    encoding_confidence: float
    encoding_note: str
    delimiter: str
    columns: tuple[str, ...]
    compression: str | None = None  # "gzip" when the upload was compressed
    newlines: int = -1  # LF bytes in the text (-1: not counted); with ``final_newline``, tells
    final_newline: bool = True  # whether every record is one line (line number = record + 1)


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes (the name does not matter)."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC


def gunzip_limited(path: Path, out_dir: Path, limit_mb: int, name: str) -> Path:
    """Decompress a gzip file in chunks into ``out_dir``, stopping once it passes ``limit_mb``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkstemp(suffix=".csv", dir=out_dir)[1])
    limit, total = limit_mb * 1024 * 1024, 0
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            for chunk in iter(lambda: src.read(_CHUNK), b""):
                total += len(chunk)
                if total > limit:
                    raise ValidationError(
                        f"{name} is gzip-compressed and unpacks to more than the upload limit of {limit_mb} MB "
                        f"(stopped after {limit_mb} MB; {path.stat().st_size / 1024 / 1024:.1f} MB compressed). "
                        "Split the file, or raise the limit (COPYLIFT_UPLOAD_LIMIT_MB) and try again."
                    )
                dst.write(chunk)
    except (OSError, EOFError, zlib.error) as err:
        out.unlink(missing_ok=True)
        raise ValidationError(
            f"{name} looks gzip-compressed but cannot be unpacked ({err}); the download may be cut short. "
            "Compress the CSV again (or upload it uncompressed)."
        ) from err
    except ValidationError:
        out.unlink(missing_ok=True)
        raise
    return out


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    return file_sha256(path)


@dataclass(frozen=True)
class ByteScan:
    """What one pass over a file's bytes found."""

    sha256: str
    utf8: bool
    newlines: int
    final_newline: bool


def scan_bytes(path: Path, *, hash_bytes: bool = True) -> ByteScan:
    """Hash, UTF-8 check and line count in one pass (the file is read once, not three times).

    The LF count holds for the transcoded copy of a legacy 8-bit file too: byte 0x0A is a line
    feed in Windows-1252, Latin-1 and Mac Roman, and never part of a multi-byte UTF-8 character.
    """
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    utf8, newlines, last = True, 0, b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            if hash_bytes:
                digest.update(chunk)
            newlines += chunk.count(b"\n")
            last = chunk[-1:]
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
    if utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8 = False
    return ByteScan(digest.hexdigest() if hash_bytes else "", utf8, newlines, last == b"\n")


def _is_utf8(path: Path) -> bool:
    return scan_bytes(path, hash_bytes=False).utf8


def _non_ascii_sample(path: Path) -> bytes:
    """Lines holding non-ASCII bytes (up to ~2 MB): what tells legacy encodings apart."""
    keep: list[bytes] = []
    size = 0
    with open(path, "rb") as fh:
        for line in fh:
            if any(b > 127 for b in line):
                keep.append(line)
                size += len(line)
                if size > _SAMPLE:
                    break
    return b"".join(keep)


def detect_encoding(path: Path, utf8: bool | None = None) -> tuple[str, float, str]:
    """Return ``(encoding, confidence 0..1, note)`` for a file.

    UTF-8 (with or without a byte-order mark) is checked exactly by decoding
    the whole file. Otherwise charset-normalizer ranks Windows-1252, Latin-1
    and Mac Roman on the lines that hold non-ASCII bytes.
    """
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ValidationError(
            "The file is UTF-16 text, which CopyLift does not read. Save it as CSV UTF-8 and upload it again."
        )
    if _is_utf8(path) if utf8 is None else utf8:
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", 1.0, "UTF-8 with byte-order mark"
        return "utf-8", 1.0, "UTF-8"
    sample = _non_ascii_sample(path)
    matches = list(charset_normalizer.from_bytes(sample, cp_isolation=["cp1252", "latin_1", "mac_roman"]))
    if not matches:
        return "cp1252", 0.3, (
            "The text is not UTF-8 and no 8-bit encoding fits it well; read as Windows-1252. "
            "Check the preview and choose the encoding if letters look wrong."
        )
    best = matches[0]
    encoding = {"latin_1": "latin-1", "mac_roman": "mac_roman"}.get(best.encoding, best.encoding)
    confidence = max(0.0, 1.0 - float(best.chaos))
    # Rivals that decode the same bytes to different text, almost as plausibly.
    rivals = [
        m for m in matches[1:] if m.chaos - best.chaos < 0.05 and str(m) != str(best)
    ]
    if rivals:
        confidence = min(confidence, 0.6)
    if encoding == "cp1252" and not any(0x80 <= b <= 0x9F for b in sample):
        # Without bytes 0x80-0x9F the two decode identically; Latin-1 is the plainer name.
        encoding = "latin-1"
    names = {"cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)", "mac_roman": "Mac Roman"}
    note = f"{names.get(encoding, encoding)} (not UTF-8), converted to UTF-8"
    if confidence < LOW_CONFIDENCE:
        others = ", ".join(names.get(m.encoding, m.encoding) for m in rivals) or "another 8-bit encoding"
        note += (
            f"; low confidence ({confidence:.0%}): it could also be {others}. "
            "Check the preview and choose the encoding if letters look wrong."
        )
    return encoding, confidence, note


def transcode_to_utf8(path: Path, encoding: str, out_dir: Path) -> Path:
    """Write a UTF-8 copy of a legacy-encoded file, chunk by chunk."""
    out_dir.mkdir(parents=True, exist_ok=True)
    out = Path(tempfile.mkstemp(suffix=".csv", dir=out_dir)[1])
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    with open(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(decoder.decode(chunk))
        dst.write(decoder.decode(b"", final=True))
    return out


def _head_text(path: Path, limit: int = 1 << 16) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(limit)
    return raw.decode("utf-8-sig", errors="replace")


def _parse_head(text: str, sep: str, max_rows: int = 60) -> list[list[str]]:
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the last line of a chunk may be cut in half
    reader = csv.reader(io.StringIO("".join(lines)), delimiter=sep, quotechar='"')
    rows: list[list[str]] = []
    try:
        for row in reader:
            if row:
                rows.append(row)
            if len(rows) >= max_rows:
                break
    except csv.Error:
        pass
    return rows


def detect_separator(text: str) -> str:
    """Pick the separator that splits the first rows into the most, equally wide, columns."""
    best, best_score = ",", -1.0
    for sep in SEPARATORS:
        rows = _parse_head(text, sep)
        if not rows:
            continue
        widths = [len(r) for r in rows]
        header_width = widths[0]
        if header_width < 2 and (len(widths) == 1 or max(widths[1:]) < 2):
            continue
        body = widths[1:] or widths
        consistent = sum(1 for w in body if w == max(header_width, 2)) / len(body)
        score = consistent * 10 + min(header_width, 50) / 50
        if score > best_score:
            best, best_score = sep, score
    return best


def check_header(columns: list[str], body_widths: list[int], sep: str, name: str) -> tuple[str, ...]:
    """Clean header names and refuse headers we cannot trust."""
    if len(columns) == 1 and sep in columns[0] and body_widths and max(body_widths) > 1:
        raise ValidationError(
            f"{name}: the header row is one quoted field ({columns[0][:80]!r}) while the data rows have "
            f"{max(body_widths)} columns. The header was quoted as a whole when the file was saved; "
            "remove the quotes around the first line (or re-export the file) and upload it again."
        )
    cleaned = [c.strip().lstrip("\ufeff") for c in columns]
    cleaned = [c if c else f"column_{i + 1}" for i, c in enumerate(cleaned)]
    seen: dict[str, int] = {}
    dupes = []
    for c in cleaned:
        key = c.lower()
        seen[key] = seen.get(key, 0) + 1
        if seen[key] == 2:
            dupes.append(c)
    if dupes:
        raise ValidationError(
            f"{name}: the header has duplicate column names ({', '.join(repr(d) for d in dupes)}), so CopyLift "
            "cannot tell which one to use. Rename or delete the duplicate column and upload the file again."
        )
    return tuple(cleaned)


def _check_size(source: SourceFile, path: Path, limit_mb: int) -> int:
    if not path.exists():
        raise ValidationError(f"{source.name}: file not found at {path}.")
    size = path.stat().st_size
    if size > limit_mb * 1024 * 1024:
        raise ValidationError(
            f"{source.name} is {size / 1024 / 1024:.0f} MB, over the upload limit of {limit_mb} MB. "
            "Split the file, or raise the limit (COPYLIFT_UPLOAD_LIMIT_MB) and try again."
        )
    return size


def _check_not_empty(source: SourceFile, path: Path, size_text: int) -> None:
    if size_text == 0 or not _head_text(path, 4096).strip():
        raise ValidationError(f"{source.name} is empty: there is no header and no data. Export the file again.")


def _layout(source: SourceFile, readable: Path) -> tuple[str, tuple[str, ...]]:
    """Separator and checked header names, from the first 64 KiB of the UTF-8 text."""
    text = _head_text(readable)
    sep = detect_separator(text)
    rows = _parse_head(text, sep)
    if not rows:
        raise ValidationError(f"{source.name} has no readable header row.")
    columns = check_header(rows[0], [len(r) for r in rows[1:]], sep, source.name)
    if len(rows) == 1 and not _has_second_record(readable, sep):
        raise ValidationError(
            f"{source.name} has a header ({len(columns)} columns) but no data rows. Export the file again "
            "with its data."
        )
    return sep, columns


def sniff(source: SourceFile, work_dir: Path, *, encoding: str | None = None, limit_mb: int = 200) -> Sniffed:
    """Inspect one file: size limit, hash, encoding (transcoding if needed), separator, header."""
    path = Path(source.path)
    size = _check_size(source, path, limit_mb)
    original, compression = path, None
    if size and is_gzip(path):
        path, compression = gunzip_limited(path, work_dir, limit_mb, source.name), "gzip"
        size_text = path.stat().st_size
    else:
        size_text = size
    _check_not_empty(source, path, size_text)
    scan = scan_bytes(path, hash_bytes=compression is None)
    if encoding:
        enc = encoding.lower().replace("_", "-") if encoding.lower() != "mac_roman" else "mac_roman"
        try:
            codecs.lookup(enc)
        except LookupError as err:
            raise ValidationError(f"unknown encoding {encoding!r}; choose one of {', '.join(ENCODING_CHOICES)}") from err
        confidence, note = 1.0, f"{enc} (chosen by you)"
        if enc in ("utf-8", "utf-8-sig", "utf8") and not scan.utf8:
            raise ValidationError(f"{source.name} is not valid UTF-8; choose one of {', '.join(LEGACY_ENCODINGS)}.")
    else:
        enc, confidence, note = detect_encoding(path, scan.utf8)
    readable = path if enc in ("utf-8", "utf-8-sig", "utf8") else transcode_to_utf8(path, enc, work_dir)
    sep, columns = _layout(source, readable)
    if compression:
        note = f"{note}; gzip-compressed ({size / 1e6:.1f} MB, {size_text / 1e6:.1f} MB unpacked)"
    return Sniffed(
        name=source.name,
        original_path=original,
        path=readable,
        size_bytes=size,
        sha256=file_hash(original) if compression else scan.sha256,
        encoding=enc,
        encoding_confidence=confidence,
        encoding_note=note,
        delimiter=sep,
        columns=columns,
        compression=compression,
        newlines=scan.newlines,
        final_newline=scan.final_newline,
    )


def sniff_head(source: SourceFile, *, encoding: str | None = None, limit_mb: int = 200) -> Sniffed | None:
    """What ``sniff`` will say about a plain UTF-8 file, from its first 64 KiB only.

    The file can be read (by Arrow or DuckDB) with this while ``sniff`` hashes the whole file, checks
    that all of it is UTF-8 and counts its lines; the caller compares the two and reads the
    file again in the rare case that they differ (say, a Latin-1 letter on line 900,000).
    None when the full look must come first: a gzip file, a legacy encoding (chosen or
    found in the head), or anything ``sniff`` would refuse (it then says why).
    The hash is empty and the line count unknown (-1).
    """
    path = Path(source.path)
    if encoding and encoding.lower().replace("_", "-") not in ("utf-8", "utf-8-sig", "utf8"):
        return None
    try:
        size = _check_size(source, path, limit_mb)
        if not size or is_gzip(path):
            return None
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
        # A character cut at the end is fine; UTF-16 (and any other non-UTF-8 head) fails here.
        codecs.getincrementaldecoder("utf-8")().decode(head)
        _check_not_empty(source, path, size)
        sep, columns = _layout(source, path)
    except (ValidationError, UnicodeDecodeError, OSError):
        return None
    bom = head.startswith(codecs.BOM_UTF8)
    return Sniffed(
        name=source.name, original_path=path, path=path, size_bytes=size, sha256="",
        encoding="utf-8-sig" if bom else "utf-8", encoding_confidence=1.0,
        encoding_note="UTF-8 with byte-order mark" if bom else "UTF-8", delimiter=sep, columns=columns,
    )


def _has_second_record(path: Path, sep: str) -> bool:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        count = 0
        for row in reader:
            if row and any(cell.strip() for cell in row):
                count += 1
                if count >= 2:
                    return True
    return False


def record_start_lines(path: Path, sep: str) -> list[int]:
    """Physical start line of every record (index 0 is the header).

    DuckDB numbers records, not lines; quoted fields with line breaks make the
    two differ, and analysts look rows up by line in their editor.
    """
    starts: list[int] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep, quotechar='"')
        previous = 0
        for row in reader:
            if row:
                starts.append(previous + 1)
            previous = reader.line_num
    return starts
