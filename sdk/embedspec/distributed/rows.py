"""Documents as Arrow rows for Ray Data: ``id``, ``content`` (text) and ``payload`` (JSON text).

``document_rows`` turns a batch of the input (JSON lines read by ``ray.data.read_text``, or records
from Parquet, CSV or any dataset) into those rows with the same rules as ``embedspec index``
in-process: the text fields joined by a space, the id from the id field or else the content hash
(``embedspec.documents.content_id``), every other field kept as the payload. Payloads travel as
JSON text so that records of different shapes never meet in one Arrow schema.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..corpus import _parse, json_type
from ..documents import check_id, content_id
from ..errors import DatasetError

#: Columns of a document batch.
ID, CONTENT, PAYLOAD = "id", "content", "payload"


def _plain(value: Any) -> Any:
    """A record value as JSON can hold it (NaN from CSV's empty cells becomes null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return _plain(value.tolist())
    return value


def _record_document(record: dict[str, Any], text_fields: tuple[str, ...], id_field: str) -> tuple[str, Any, dict]:
    """(text, id or None, payload) of one record, or ``DatasetError`` saying what is wrong with it."""
    label = f"record {record.get(id_field)!r}" if record.get(id_field) is not None else "a record"
    parts = []
    for name in text_fields:
        if name not in record:
            raise DatasetError(f"{label}: missing text field {name!r} (fields: {', '.join(map(repr, record))})")
        value = record[name]
        if not isinstance(value, str):
            raise DatasetError(f"{label}: text field {name!r} is {json_type(value)}, not a string")
        parts.append(value)
    text = " ".join(parts).strip()
    if not text:
        raise DatasetError(f"{label}: the text ({', '.join(map(repr, text_fields))}) is empty")
    pid = record.get(id_field)
    if pid is not None:
        try:
            pid = check_id(_plain(pid), 0)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{label}: field {id_field!r}: {exc}") from None
    payload = {k: _plain(v) for k, v in record.items() if k != id_field}
    return text, pid, payload


def document_rows(batch: Any, *, kind: str, text_fields: tuple[str, ...] = ("text",), id_field: str = "id",
                  source: str = "<input>") -> Any:
    """A ``pyarrow.Table`` of (id, content, payload) for one input batch (``kind``: "lines" or "records")."""
    import pyarrow as pa

    ids: list[Any] = []
    contents: list[str] = []
    payloads: list[str] = []
    if kind == "lines":
        rows = [(line.encode("utf-8", "surrogatepass"),) for line in batch.column("text").to_pylist()]
    elif kind == "records":
        rows = [(record,) for record in batch.to_pylist()]
    else:
        raise ValueError(f"kind must be 'lines' or 'records', not {kind!r}")
    for (row,) in rows:
        if kind == "lines":
            if not row.strip():
                continue
            text, pid, payload = _parse(Path(source), 0, row, text_fields, id_field)
        else:
            text, pid, payload = _record_document(row, text_fields, id_field)
        ids.append(content_id(text) if pid is None else pid)
        contents.append(text)
        payloads.append(json.dumps(payload, ensure_ascii=False, allow_nan=False))
    return pa.table({ID: id_column(ids), CONTENT: pa.array(contents, pa.string()),
                     PAYLOAD: pa.array(payloads, pa.string())})


def id_column(ids: list[Any]) -> Any:
    """Ids as one Arrow column: all strings (``string``) or all integers (``int64``)."""
    import pyarrow as pa

    if all(isinstance(i, str) for i in ids):
        return pa.array(ids, pa.string())
    if all(isinstance(i, int) for i in ids):
        if any(not -(2**63) <= i < 2**63 for i in ids):
            raise DatasetError("integer ids must fit in 64 bits for Ray ingestion")
        return pa.array(ids, pa.int64())
    raise DatasetError("ids must be all strings or all integers for Ray ingestion (one Arrow column)")


def drop_ids(batch: Any, present: frozenset[Any]) -> tuple[Any, int]:
    """``batch`` without the rows whose id is in ``present``, and how many were dropped."""
    import pyarrow as pa

    if not present:
        return batch, 0
    keep = [pid not in present for pid in batch.column(ID).to_pylist()]
    dropped = len(keep) - sum(keep)
    return (batch.filter(pa.array(keep, pa.bool_())) if dropped else batch), dropped


def payloads_of(batch: Any) -> list[Any]:
    """The payload mappings of a batch (JSON text back to dicts)."""
    return [None if p is None else json.loads(p) for p in batch.column(PAYLOAD).to_pylist()]
