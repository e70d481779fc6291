"""A corpus file of JSON lines: checked whole before anything is written, then streamed.

Each line is a JSON object holding the text field(s), optionally an id field, and any other fields
(kept as the payload). ``check_jsonl`` reads the whole file once, with bounded memory per line, and
raises ``DatasetError`` naming the file and line of the first problem: invalid UTF-8 or JSON,
NaN/Infinity, a line over the size limit, text fields missing or not strings or empty, ids of the
wrong type, ids on some lines but not others, duplicate ids, or the same text with different
fields. ``read_jsonl`` then streams the documents. Without an id field, ids are content hashes
(``embedspec.documents.content_id``), so a second file never replaces the first file's documents.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .documents import Document, check_id, content_id
from .errors import DatasetError

#: Default bound on one line (a record), in bytes.
MAX_RECORD_BYTES = 8 * 2**20


@dataclass(frozen=True)
class CorpusSummary:
    """What ``check_jsonl`` found in a valid file."""

    records: int  # non-blank lines
    unique: int  # documents after dropping exact duplicates (same text and fields, no id)
    duplicates: int
    explicit_ids: bool  # ids come from the id field (else: derived from the content)


_JSON_TYPES = {"NoneType": "null", "bool": "a boolean", "int": "a number", "float": "a number", "list": "an array",
               "dict": "an object", "str": "a string"}


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type ("null", "a number", "an array"...)."""
    return _JSON_TYPES.get(type(value).__name__, type(value).__name__)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON (not a finite number)")


class _LineReader:
    """Lines of a file as (line number, bytes), refusing any longer than ``limit``."""

    def __init__(self, path: Path, limit: int) -> None:
        self.path, self.limit = path, limit

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        try:
            fh = self.path.open("rb")
        except OSError as exc:
            raise DatasetError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        with fh:
            lineno = 0
            while True:
                raw = fh.readline(self.limit + 1)
                if not raw:
                    return
                lineno += 1
                if len(raw) > self.limit and not raw.endswith(b"\n"):
                    raise DatasetError(
                        f"{self.path}:{lineno}: the line is longer than {self.limit:,} bytes "
                        "(raise --max-record-bytes if this record is meant to be this big)"
                    )
                if raw.strip():
                    yield lineno, raw


def _parse(path: Path, lineno: int, raw: bytes, text_fields: tuple[str, ...], id_field: str
           ) -> tuple[str, Any, dict[str, Any]]:
    """(text, id or None, payload) of one line; ``DatasetError`` naming the line otherwise."""
    where = f"{path}:{lineno}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{where}: not valid UTF-8 (byte {exc.start} of the line)") from None
    try:
        record = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{where}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except ValueError as exc:
        raise DatasetError(f"{where}: {exc}") from None
    except RecursionError:
        raise DatasetError(f"{where}: the JSON is nested too deeply") from None
    if not isinstance(record, dict):
        raise DatasetError(f"{where}: each line must be a JSON object, got {json_type(record)}")
    parts = []
    for name in text_fields:
        if name not in record:
            raise DatasetError(f"{where}: missing text field {name!r} (fields: {', '.join(map(repr, record)) or 'none'})")
        value = record[name]
        if not isinstance(value, str):
            raise DatasetError(f"{where}: text field {name!r} is {json_type(value)}, not a string")
        parts.append(value)
    text = " ".join(parts).strip()
    if not text:
        raise DatasetError(f"{where}: the text ({', '.join(map(repr, text_fields))}) is empty")
    pid = None
    if id_field in record:
        try:
            pid = check_id(record[id_field], 0)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{where}: field {id_field!r}: {str(exc).replace('id at position 0 is', 'the id is')}") from None
    payload = {k: v for k, v in record.items() if k != id_field}
    return text, pid, payload


def check_jsonl(path: str | Path, text_fields: tuple[str, ...] = ("text",), id_field: str = "id",
                max_record_bytes: int = MAX_RECORD_BYTES) -> CorpusSummary:
    """Validate the whole file (see the module docstring); nothing is encoded or written."""
    path = Path(path)
    seen: dict[Any, tuple[int, bytes]] = {}  # id (or content digest) -> (line, digest of the fields)
    explicit: bool | None = None
    records = duplicates = 0
    for lineno, raw in _LineReader(path, max_record_bytes):
        text, pid, payload = _parse(path, lineno, raw, text_fields, id_field)
        records += 1
        has_id = pid is not None
        if explicit is None:
            explicit = has_id
        elif has_id != explicit:
            first = next(iter(seen.values()))[0] if seen else 1
            which = "has" if has_id else "has no"
            raise DatasetError(
                f"{path}:{lineno}: this record {which} an {id_field!r} field but line {first} "
                f"{'has none' if has_id else 'has one'}: give every record an id, or none (ids are then "
                "derived from the content)"
            )
        fields = hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).digest()[:8]
        key = pid if has_id else bytes.fromhex(content_id(text))
        if key in seen:
            first_line, first_fields = seen[key]
            if not has_id and first_fields == fields:
                duplicates += 1  # the same document twice: indexed once
                continue
            if has_id:
                raise DatasetError(f"{path}:{lineno}: id {pid!r} already used on line {first_line}; ids must be unique")
            raise DatasetError(
                f"{path}:{lineno}: the same text as line {first_line} with different fields; without an "
                f"{id_field!r} field both would get the same content id: give the records ids"
            )
        seen[key] = (lineno, fields)
    if records == 0:
        raise DatasetError(f"{path}: no records (the file is empty)")
    return CorpusSummary(records, records - duplicates, duplicates, bool(explicit))


def read_jsonl(path: str | Path, text_fields: tuple[str, ...] = ("text",), id_field: str = "id",
               max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[Document]:
    """Stream the documents of a file ``check_jsonl`` accepted (content ids when it has no ids)."""
    path = Path(path)
    for lineno, raw in _LineReader(path, max_record_bytes):
        text, pid, payload = _parse(path, lineno, raw, text_fields, id_field)
        yield Document(text, pid, payload)
