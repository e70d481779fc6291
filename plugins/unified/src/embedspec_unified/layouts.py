"""Where each (feature, probe) looks up its rows: the one difference between the three encoders.

All three keep ONE flat table of shape ``(num_rows, chunk_dim)``; a feature with ``num_chunks = k``
reads ``k`` rows per value and concatenates them. The layouts differ in how rows are chosen:

- ``UnifiedLayout`` (Coleman et al., 2023, feature multiplexing): every feature and every probe hashes
  into the whole shared table with its own salt ``(seed, feature, probe)``.
- ``PerFeatureLayout``: each feature owns a slice of the budget, a hashed table of
  ``buckets[f]`` rows of width ``k * chunk_dim`` (stored as ``k`` consecutive flat rows per bucket).
  The budget is split at fit time by water-filling on the training cardinalities.
- ``HashingTrickLayout``: one shared table of width ``max_k * chunk_dim``, ONE probe per value and
  no per-feature salt: equal values of different features share a row; a feature with ``k`` chunks
  reads the first ``k`` chunks of the row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .config import FeatureConfig
from .hashing import bucket, salt


class UnifiedLayout:
    kind = "unified"

    def __init__(self, features: Mapping[str, FeatureConfig], rows: int, seed: int) -> None:
        self.num_rows = rows
        self._salts = {
            name: [salt(seed, name, c) for c in range(spec.num_chunks)] for name, spec in features.items()
        }

    def rows(self, name: str, fingerprints: np.ndarray) -> np.ndarray:
        """``(L, k) int64`` table rows of the ``(L,)`` fingerprints of feature ``name``."""
        return np.stack([bucket(fingerprints, s, self.num_rows) for s in self._salts[name]], axis=1)


class PerFeatureLayout:
    kind = "per-feature"

    def __init__(self, features: Mapping[str, FeatureConfig], buckets: Sequence[int], seed: int) -> None:
        self.buckets = [int(b) for b in buckets]
        self._chunks = {name: spec.num_chunks for name, spec in features.items()}
        sizes = [b * spec.num_chunks for b, spec in zip(self.buckets, features.values())]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._start = dict(zip(features, starts[:-1].tolist()))
        self._bucket_of = dict(zip(features, self.buckets))
        self._salts = {name: salt(seed, name, 0) for name in features}
        self.num_rows = int(starts[-1])

    def rows(self, name: str, fingerprints: np.ndarray) -> np.ndarray:
        k = self._chunks[name]
        b = bucket(fingerprints, self._salts[name], self._bucket_of[name])
        return self._start[name] + b[:, None] * k + np.arange(k)


class HashingTrickLayout:
    kind = "hashing-trick"

    def __init__(self, features: Mapping[str, FeatureConfig], rows: int, seed: int) -> None:
        self._width = max(spec.num_chunks for spec in features.values())
        self._chunks = {name: spec.num_chunks for name, spec in features.items()}
        self._buckets = rows // self._width
        if self._buckets < 1:
            raise ValueError(
                f"hashing-trick needs rows >= the largest num_chunks ({self._width}); got rows={rows}"
            )
        self._salt = salt(seed, "hashing-trick")
        self.num_rows = self._buckets * self._width

    def rows(self, name: str, fingerprints: np.ndarray) -> np.ndarray:
        b = bucket(fingerprints, self._salt, self._buckets)
        return b[:, None] * self._width + np.arange(self._chunks[name])


def allocate_buckets(budget: int, cardinalities: Sequence[int], chunks: Sequence[int]) -> list[int]:
    """Buckets per feature so that ``sum(buckets[f] * chunks[f]) <= budget`` flat rows.

    Every feature gets one bucket; the rest is shared by the feature's need, one bucket per distinct
    training value (``cardinality * chunks`` rows). When the budget covers every need, it is shared
    in proportion to the needs (every table gets the same load factor). Otherwise it is water-filled:
    features needing less than an equal share get their need (small vocabularies such as gender are
    served in full), the others split what remains in proportion to their needs.
    """
    base = sum(chunks)
    if budget < base:
        raise ValueError(
            f"per-feature-embedding needs rows >= the sum of num_chunks ({base}) for one bucket per "
            f"feature; got rows={budget}"
        )
    needs = np.array([max(c - 1, 0) * k for c, k in zip(cardinalities, chunks)], dtype=np.float64)
    spare = float(budget - base)
    alloc = np.zeros(len(needs))
    if needs.sum() <= spare:
        if needs.sum() > 0:
            alloc = spare * needs / needs.sum()
    else:
        active = list(range(len(needs)))
        while active:
            share = spare / len(active)
            small = [f for f in active if needs[f] <= share]
            if not small:  # the big features split the rest in proportion to their needs
                alloc[active] = spare * needs[active] / needs[active].sum()
                break
            for f in small:
                alloc[f] = needs[f]
                spare -= needs[f]
            active = [f for f in active if f not in small]
    return [1 + int(a // k) for a, k in zip(alloc, chunks)]
