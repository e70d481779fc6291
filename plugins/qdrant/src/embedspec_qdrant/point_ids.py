"""embedspec ids (int or str) <-> Qdrant point ids (unsigned 64-bit int or UUID).

Non-negative ints below 2**64 are Qdrant ids as they are. Any other id (a string, a negative int)
becomes a deterministic UUIDv5 of its type and value, and the original id is kept in the payload
under ``RESERVED_ID_KEY``, which searches strip from the payloads they return.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from embedspec.protocols import PointId

RESERVED_ID_KEY = "_embedspec_id"
#: Fixed namespace: the same string id maps to the same UUID in every process and version.
ID_NAMESPACE = uuid.UUID("5b0c8f3e-4a4d-5e55-9c7a-656d62656473")
_U64 = 2**64


def is_native_id(pid: PointId) -> bool:
    return isinstance(pid, int) and not isinstance(pid, bool) and 0 <= pid < _U64


def to_qdrant_id(pid: PointId) -> int | str:
    """The Qdrant id of ``pid``: the int itself, or a UUIDv5 string."""
    if is_native_id(pid):
        return int(pid)
    return str(uuid.uuid5(ID_NAMESPACE, f"{type(pid).__name__}:{pid}"))


def to_qdrant_payload(pid: PointId, payload: Mapping[str, Any] | None, position: int) -> dict[str, Any]:
    """The payload stored for ``pid``: a copy of ``payload`` plus the original id where needed.

    ``BaseIndex.upsert`` has already checked that payloads are JSON objects."""
    out = dict(payload or {})
    if RESERVED_ID_KEY in out:
        raise ValueError(
            f"payload at position {position} uses the reserved key {RESERVED_ID_KEY!r} (it keeps the original id)"
        )
    for key in out:
        if not isinstance(key, str):
            raise TypeError(f"payload at position {position} has a non-string key {key!r}")
    if not is_native_id(pid):
        out[RESERVED_ID_KEY] = pid
    return out


def from_qdrant(qid: Any, payload: Mapping[str, Any] | None) -> tuple[PointId, dict[str, Any] | None]:
    """``(embedspec id, user payload or None)`` of a stored point."""
    user = dict(payload or {})
    original = user.pop(RESERVED_ID_KEY, None)
    if original is not None:
        pid: PointId = original
    elif isinstance(qid, int):
        pid = qid
    else:
        pid = str(qid)
    return pid, (user or None)


def to_qdrant_ids(ids: Sequence[PointId]) -> list[int | str]:
    return [to_qdrant_id(pid) for pid in ids]
