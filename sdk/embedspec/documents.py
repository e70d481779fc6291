"""Documents on their way into an index, and the ids derived from their content.

A default id is a content hash (as content-addressed stores do): the first 128 bits of SHA-256 over
the document's canonical bytes, as 32 hex digits. Adding the same document again is idempotent, and
a document added without an id can never replace a different one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import numpy as np

from .protocols import PointId

_END = object()


#: The longest string id (ids travel in every hit and every payload filter).
MAX_ID_LENGTH = 4096


def check_id(pid: Any, position: int) -> PointId:
    """One id as ``int`` or ``str``; floats, bools, None, empty strings and absurdly large ints are rejected."""
    if isinstance(pid, np.integer):
        pid = int(pid)
    if isinstance(pid, bool) or not isinstance(pid, (int, str)):
        raise TypeError(f"id at position {position} is {type(pid).__name__} ({pid!r:.40}); ids are int or str")
    if isinstance(pid, str) and not pid:
        raise ValueError(f"id at position {position} is an empty string")
    if isinstance(pid, str) and len(pid) > MAX_ID_LENGTH:
        raise ValueError(f"id at position {position} is {len(pid):,} characters long; the limit is {MAX_ID_LENGTH:,}")
    if isinstance(pid, int) and not -(2**127) <= pid < 2**128:
        raise ValueError(f"id at position {position} is out of range; integer ids must be within -2**127..2**128")
    return pid


def check_ids(ids: Any) -> list[PointId]:
    """Ids as a list of ``int``/``str`` (see ``check_id``); a lone string is rejected."""
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be a list of ids, not a single {type(ids).__name__} ({ids!r:.40})")
    return [check_id(pid, i) for i, pid in enumerate(ids)]


def check_payload(payload: Any, position: int) -> None:
    """Payloads are JSON objects (or None); anything else is rejected naming its position."""
    if payload is None:
        return
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload at position {position} is {type(payload).__name__}; payloads are mappings or None")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"payload at position {position} is not JSON-serializable: {exc}") from None


@dataclass(frozen=True)
class Document:
    """One input to index: its content (text, record, image...), optional id and payload."""

    content: Any
    id: PointId | None = None
    payload: Mapping[str, Any] | None = None


def _canonical(content: Any) -> tuple[bytes, bytes]:
    """(kind tag, bytes) identifying ``content`` exactly; TypeError for what cannot be hashed."""
    if isinstance(content, str):
        return b"text", content.encode("utf-8", "surrogatepass")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return b"bytes", bytes(content)
    if isinstance(content, (Mapping, list, tuple)):
        try:
            text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"cannot derive a content id from this record ({exc}); pass ids=") from None
        return b"json", text.encode("utf-8", "surrogatepass")
    if isinstance(content, np.ndarray):
        arr = np.ascontiguousarray(content)
        return f"array:{arr.dtype.str}:{arr.shape}".encode(), arr.tobytes()
    tobytes = getattr(content, "tobytes", None)
    mode, size = getattr(content, "mode", None), getattr(content, "size", None)
    if callable(tobytes) and mode is not None and size is not None:  # a PIL image
        return f"image:{mode}:{tuple(size)}".encode(), tobytes()
    if hasattr(content, "__fspath__"):
        return b"path", str(content).encode("utf-8", "surrogatepass")
    raise TypeError(f"cannot derive a content id from a {type(content).__name__}; pass ids= explicitly")


def content_id(content: Any) -> str:
    """The stable id of ``content``: 32 hex digits of SHA-256 over its kind and canonical bytes."""
    kind, data = _canonical(content)
    digest = hashlib.sha256(kind + b"\0" + data).hexdigest()
    return digest[:32]


def as_documents(
    items: Iterable[Any],
    ids: Iterable[PointId] | None = None,
    payloads: Iterable[Mapping[str, Any] | None] | None = None,
) -> Iterator[Document]:
    """Zip items with their ids and payloads, refusing lengths that differ (nothing is dropped)."""
    for name, value in (("items", items), ("ids", ids), ("payloads", payloads)):
        if isinstance(value, (str, bytes)):
            raise TypeError(
                f"{name} must be a list (or any iterable) of values, not a single {type(value).__name__}: "
                f"wrap it as [{value!r:.40}]"
            )
        if isinstance(value, Mapping):
            raise TypeError(f"{name} must be a list (or any iterable), not a mapping")
    columns = [iter(items), iter(ids) if ids is not None else None, iter(payloads) if payloads is not None else None]
    present = [c for c in columns if c is not None]
    for position, row in enumerate(zip_longest(*present, fillvalue=_END)):
        if any(v is _END for v in row):
            names = [n for n, c in zip(("items", "ids", "payloads"), columns) if c is not None]
            short = [n for n, v in zip(names, row) if v is _END]
            raise ValueError(f"{', '.join(short)} ended after {position} values, before the others")
        values = iter(row)
        content = next(values)
        pid = next(values) if columns[1] is not None else None
        if columns[1] is not None and pid is None:
            raise TypeError(f"id at position {position} is NoneType (None); ids are int or str (omit ids= to "
                            "derive them from the content)")
        payload = next(values) if columns[2] is not None else None
        yield Document(content, pid, payload)
