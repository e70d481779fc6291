"""64-bit hashing of categorical values and salted bucketing (numpy ``uint64``).

Each distinct value is hashed once with BLAKE2b into a ``uint64`` *fingerprint*; a lookup row is
then ``splitmix64(fingerprint ^ salt) % rows`` with one salt per (seed, feature, probe), so every
feature and every probe of the multi-probe lookup gets an independent hash function. Python's
salted ``hash()`` is never used: rows are the same in every process.

Values that compare equal in Python hash the same (``1 == 1.0 == True``); ``"1"`` and ``1`` differ.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np
from embedspec.builtin.hashing import splitmix64

__all__ = ["fingerprint", "is_categorical", "salt", "bucket", "splitmix64"]

_SCALARS = (str, bytes, bool, int, float, type(None), np.bool_, np.integer, np.floating, np.str_, np.bytes_)


def is_categorical(value: Any) -> bool:
    """Whether ``value`` can be a categorical value (str, bytes, bool, int, float, None or their numpy scalars)."""
    return isinstance(value, _SCALARS)


def _key(value: Any) -> bytes:
    """Canonical bytes of a categorical value (equal values give equal bytes)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return b"s" + value.encode("utf-8", "surrogatepass")
    if isinstance(value, bytes):
        return b"y" + value
    if value is None:
        return b"n"
    if isinstance(value, float):
        if math.isnan(value):
            return b"fnan"
        if value.is_integer():
            value = int(value)
        else:
            return b"f" + repr(value).encode()
    return b"i" + str(int(value)).encode()  # bool and int


def fingerprint(value: Any) -> int:
    """The 64-bit BLAKE2b fingerprint of one categorical value."""
    return int.from_bytes(hashlib.blake2b(_key(value), digest_size=8).digest(), "little")


def salt(seed: int, *parts: str | int) -> np.uint64:
    """The salt of one hash function, e.g. ``salt(seed, "user_id", 2)`` for probe 2 of ``user_id``."""
    text = ":".join(str(p) for p in (seed, *parts))
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8, person=b"embedspec-ue").digest(), "little"))


def bucket(fingerprints: np.ndarray, salt_value: np.uint64, rows: int) -> np.ndarray:
    """Rows in ``[0, rows)`` of ``(L,) uint64`` fingerprints under one salted hash; ``(L,) int64``."""
    mixed = splitmix64(np.asarray(fingerprints, dtype=np.uint64) ^ np.uint64(salt_value))
    return (mixed % np.uint64(rows)).astype(np.int64)
