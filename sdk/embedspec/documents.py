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
