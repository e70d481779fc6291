"""``TokenStore``: the multi-vectors of an index's points, one set per row, flat in one buffer.

Row ``r`` (the index's point row) owns buffer rows ``start[r]:start[r] + length[r]``. New sets are
appended at the end of a growable buffer; replacing or deleting leaves unused buffer rows behind,
and a delete moves the last row into the hole (as the index moves its other per-row arrays). Before
a search or a snapshot, ``compact()`` gathers the sets in row order into a fresh buffer (one
vectorised copy), so ``data``/``offsets`` are the ``MultiVectors`` layout MaxSim works on.
"""

from __future__ import annotations

import numpy as np

from ..representations import MultiVectors


class TokenStore:
    """Multi-vector sets by row: ``put``, ``move``, ``pop``, then ``compact()`` -> ``(data, offsets)``."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._buffer = np.zeros((0, dim), dtype=np.float32)
        self._used = 0  # buffer rows written so far
        self._start = np.zeros(0, dtype=np.int64)
        self._length = np.zeros(0, dtype=np.int64)
        self._compact = True  # sets lie in row order with no gaps

    @classmethod
    def from_arrays(cls, data: np.ndarray, offsets: np.ndarray) -> TokenStore:
        """A store holding ``MultiVectors``-layout arrays (as a snapshot saved them)."""
        store = cls(int(data.shape[1]))
        store._buffer, store._used = np.array(data, dtype=np.float32), int(data.shape[0])
        store._start, store._length = offsets[:-1].astype(np.int64), np.diff(offsets).astype(np.int64)
        return store

    def __len__(self) -> int:
        return int(self._start.size)

    @property
    def nbytes(self) -> int:
        """Bytes of the live sets (float32 rows and int64 offsets)."""
        return int(self._length.sum()) * 4 * self.dim + 8 * (len(self) + 1)

    def put(self, rows: np.ndarray, vectors: MultiVectors, n_rows: int) -> None:
        """Store set ``i`` of ``vectors`` at row ``rows[i]``; ``n_rows`` rows exist afterwards."""
        if n_rows > len(self):
            grow = n_rows - len(self)
            self._start = np.concatenate([self._start, np.zeros(grow, dtype=np.int64)])
            self._length = np.concatenate([self._length, np.zeros(grow, dtype=np.int64)])
        total = vectors.data.shape[0]
        if self._used + total > self._buffer.shape[0]:
            capacity = max(self._used + total, 2 * self._buffer.shape[0], 1024)
            grown = np.empty((capacity, self.dim), dtype=np.float32)
            grown[: self._used] = self._buffer[: self._used]
            self._buffer = grown
        self._buffer[self._used : self._used + total] = vectors.data
        in_order = bool(np.array_equal(rows, np.arange(len(self) - len(rows), len(self)))) and n_rows == len(self)
        replaced = bool((self._length[rows] > 0).any())
        self._start[rows] = self._used + vectors.offsets[:-1]
        self._length[rows] = vectors.lengths
        self._used += total
        if replaced or not in_order:
            self._compact = False

    def move(self, source: int, target: int) -> None:
        """Row ``target`` takes the set of row ``source`` (a delete filling its hole with the last row)."""
        self._start[target], self._length[target] = self._start[source], self._length[source]
        self._compact = False

    def pop(self) -> None:
        """Drop the last row."""
        self._start, self._length = self._start[:-1], self._length[:-1]
        self._compact = False

    def compact(self) -> tuple[np.ndarray, np.ndarray]:
        """``(data (total, dim) float32, offsets (n + 1,) int64)`` in row order."""
        offsets = np.zeros(len(self) + 1, dtype=np.int64)
        np.cumsum(self._length, out=offsets[1:])
        if not self._compact or self._used != offsets[-1]:
            index = np.repeat(self._start - offsets[:-1], self._length) + np.arange(offsets[-1])
            self._buffer = self._buffer[index]
            self._used = int(offsets[-1])
            self._start = offsets[:-1].copy()
            self._compact = True
        return self._buffer[: self._used], offsets

    def take(self, rows: np.ndarray) -> MultiVectors:
        """The sets at ``rows`` as ``MultiVectors``."""
        data, offsets = self.compact()
        return MultiVectors(data, offsets).take(rows)
