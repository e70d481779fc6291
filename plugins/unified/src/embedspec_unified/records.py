"""Records (dicts feature -> value or list of values) checked and turned into ragged fingerprint columns.

Every error names the record position and the feature. A multi-valued feature takes a list, tuple,
set or 1-D array of values (a lone scalar counts as a one-value list; an empty list pools to zeros);
a single-valued feature takes one categorical value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from .config import FeatureConfig
from .errors import RecordError, RecordValueTypeError
from .hashing import fingerprint, is_categorical

_MULTI = (list, tuple, set, frozenset, np.ndarray)
_CACHE_LIMIT = 1_000_000


@dataclass(frozen=True)
class Ragged:
    """Values of ``n`` records: record ``i`` owns ``values[offsets[i]:offsets[i + 1]]``.

    ``single`` says every record has exactly one value (then ``values[i]`` belongs to record ``i``).
    """

    values: np.ndarray  # (L, ...) any dtype
    offsets: np.ndarray  # (n + 1,) int64, non-decreasing, offsets[0] == 0
    single: bool = field(default=False)

    @classmethod
    def of(cls, values: np.ndarray, offsets: np.ndarray) -> Ragged:
        single = len(values) == len(offsets) - 1 and bool(np.all(np.diff(offsets) == 1))
        return cls(values, offsets, single)

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """``(n,) int64`` number of values per record."""
        return np.diff(self.offsets)

    def owners(self) -> np.ndarray:
        """``(L,) int64`` record index of each value."""
        return np.repeat(np.arange(self.n), self.counts)

    def take(self, sel: np.ndarray) -> Ragged:
        """The records ``sel`` (``(m,) int64``), in that order."""
        if self.single:
            return Ragged(self.values[sel], np.arange(len(sel) + 1, dtype=np.int64), True)
        counts = self.counts[sel]
        offsets = np.zeros(len(sel) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        starts = np.repeat(self.offsets[:-1][sel] - offsets[:-1], counts)
        return Ragged.of(self.values[starts + np.arange(offsets[-1])], offsets)

    def map(self, values: np.ndarray) -> Ragged:
        """The same raggedness with new per-value ``values`` (first axis of length L)."""
        return Ragged(values, self.offsets, self.single)


def parse_records(
    records: Sequence[Any],
    features: Mapping[str, FeatureConfig],
    cache: dict[Any, int] | None = None,
) -> dict[str, Ragged]:
    """Check ``records`` and return, per feature, the ``uint64`` fingerprints of its values.

    ``cache`` maps values to fingerprints across calls (cleared past a million entries).
    """
    if isinstance(records, (Mapping, str, bytes)):
        raise TypeError("records must be a sequence of records (dicts), not a single " + type(records).__name__)
    records = list(records)
    if not records:
        raise RecordError("got an empty list of records: pass at least one record")
    wanted = set(features)
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise RecordError(
                f"record at position {i} is {type(rec).__name__}, not a mapping of feature -> value",
                position=i,
            )
        if rec.keys() != wanted:
            _diagnose_keys(rec, wanted, features, i)
    if cache is None:
        cache = {}
    elif len(cache) > _CACHE_LIMIT:
        cache.clear()
    return {
        name: _column(records, name, spec.multivalued, cache) for name, spec in features.items()
    }


def _diagnose_keys(rec: Mapping[str, Any], wanted: set[str], features: Mapping[str, Any], i: int) -> None:
    unknown = [k for k in rec if k not in wanted]
    if unknown:
        raise RecordError(
            f"record at position {i} has unknown feature {unknown[0]!r}; "
            f"the expected features are {', '.join(repr(f) for f in features)}",
            position=i,
            feature=str(unknown[0]),
        )
    missing = [f for f in features if f not in rec]
    raise RecordError(
        f"record at position {i} is missing feature {missing[0]!r} "
        f"(every record needs all expected features; use an empty list for a multi-valued one)",
        position=i,
        feature=missing[0],
    )


def _bad_value(i: int, name: str, value: Any, inside: bool = False) -> RecordValueTypeError:
    where = "a value inside" if inside else "the value of"
    return RecordValueTypeError(
        f"record at position {i}: {where} feature {name!r} is {type(value).__name__} ({value!r:.60}); "
        "categorical values are str, int, float, bool, bytes or None",
        position=i,
        feature=name,
    )


def _fp(value: Any, i: int, name: str, cache: dict[Any, int], inside: bool = False) -> int:
    try:
        h = cache.get(value)
    except TypeError:  # unhashable: list, dict, set...
        raise _bad_value(i, name, value, inside) from None
    if h is None:
        if not is_categorical(value):
            raise _bad_value(i, name, value, inside)
        h = fingerprint(value)
        cache[value] = h
    return h


def _fingerprints_fast(values: list[Any], cache: dict[Any, int]) -> np.ndarray | None:
    """``(L,) uint64`` fingerprints when every value is a hashable categorical value, else None."""
    try:
        new = [v for v in set(values) if v not in cache]
    except TypeError:  # an unhashable value: the slow path finds and names it
        return None
    if not all(is_categorical(v) for v in new):
        return None
    for v in new:
        cache[v] = fingerprint(v)
    return np.fromiter(map(cache.__getitem__, values), dtype=np.uint64, count=len(values))


def _column(records: list[Mapping[str, Any]], name: str, multivalued: bool, cache: dict[Any, int]) -> Ragged:
    n = len(records)
    values = [rec[name] for rec in records]
    if not multivalued:
        fps = _fingerprints_fast(values, cache)
        if fps is None:
            fps = np.empty(n, dtype=np.uint64)
            for i, value in enumerate(values):
                if isinstance(value, _MULTI):
                    raise RecordValueTypeError(
                        f"record at position {i}: feature {name!r} holds a {type(value).__name__} but is "
                        "single-valued (set multivalued: true in its config to pool several values)",
                        position=i,
                        feature=name,
                    )
                fps[i] = _fp(value, i, name, cache)
        return Ragged(fps, np.arange(n + 1, dtype=np.int64), True)
    offsets = np.zeros(n + 1, dtype=np.int64)
    if all(type(v) is list for v in values):  # the common case: lists of scalars
        flat = list(chain.from_iterable(values))
        np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=n), out=offsets[1:])
        fps = _fingerprints_fast(flat, cache)
        if fps is not None:
            return Ragged.of(fps, offsets)
    return _multi_column_checked(values, name, cache)


def _multi_column_checked(values: list[Any], name: str, cache: dict[Any, int]) -> Ragged:
    flat: list[int] = []
    counts = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        if isinstance(value, _MULTI):
            items = value.tolist() if isinstance(value, np.ndarray) else value
            if isinstance(value, np.ndarray) and value.ndim != 1:
                raise _bad_value(i, name, value)
            if isinstance(value, (set, frozenset)):
                items = sorted(items, key=repr)  # deterministic order (pooling ignores it anyway)
            counts[i] = len(items)
            flat.extend(_fp(v, i, name, cache, inside=True) for v in items)
        else:
            counts[i] = 1
            flat.append(_fp(value, i, name, cache))
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Ragged.of(np.array(flat, dtype=np.uint64), offsets)
