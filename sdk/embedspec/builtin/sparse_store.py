"""Sparse vectors of the ``exact`` index: row-aligned storage, document frequencies, dot-product search.

``SparseRows`` keeps one sparse vector per point row of the index (the index's row numbers: rows are
appended, replaced, and a deleted row is filled by the last one, as the index does with its dense
vectors). Entries live in flat COO buffers (row, term, value) with each row's entries contiguous
(``start[r]:stop[r]``); replacing or deleting marks entries dead, and the buffers are compacted when
half of them are dead. Search builds, once per change, an inverted index (entries sorted by term:
``terms``, ``postings_ptr``, posting rows and values) and scores a block of queries by gathering the
postings of their terms and summing ``query value x [idf] x document value`` with one ``bincount``;
no Python loop per posting or per document.

With the ``idf`` modifier each query term's value is multiplied by Lucene's
``idf(t) = ln(1 + (N - df(t) + 0.5) / (df(t) + 0.5))`` over the ``N`` points held now (``df``: the
points whose vector has term ``t``), so BM25 stays exact after upserts and deletes. Only points
sharing at least one term with a query are hits (as in Qdrant).
"""

from __future__ import annotations

import numpy as np

from ..representations import SparseVectors

#: Query rows scored at once: bounds the dense ``(queries, points)`` score block.
SCORE_CELLS = 1 << 23


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(starts[i], stops[i])`` for all ``i`` (vectorised)."""
    lengths = stops - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return first + np.arange(total, dtype=np.int64)


def lucene_idf(n: int, df: np.ndarray) -> np.ndarray:
    return np.log1p((n - df + 0.5) / (df + 0.5))


class SparseRows:
    """The sparse vectors of one named vector of an index, one per point row (see the module docstring)."""

    def __init__(self, dim: int, modifier: str | None = None) -> None:
        self.dim, self.modifier = dim, modifier
        self._row = np.zeros(0, dtype=np.int64)  # -1: a dead entry
        self._term = np.zeros(0, dtype=np.int64)
        self._value = np.zeros(0, dtype=np.float32)
        self._used = 0
        self._dead = 0
        self._start = np.zeros(0, dtype=np.int64)  # per row: its entries' range in the buffers
        self._stop = np.zeros(0, dtype=np.int64)
        self._rows = 0
        self._inverted: tuple[np.ndarray, ...] | None = None

    # ---- state -------------------------------------------------------------------------------
    @classmethod
    def from_csr(cls, vectors: SparseVectors, modifier: str | None = None) -> SparseRows:
        out = cls(vectors.dim, modifier)
        out.set_rows(np.arange(len(vectors), dtype=np.int64), vectors)
        return out

    def to_csr(self) -> SparseVectors:
        """The rows in order, as CSR (what a snapshot stores)."""
        entries = _ranges(self._start[: self._rows], self._stop[: self._rows])
        indptr = np.zeros(self._rows + 1, dtype=np.int64)
        np.cumsum(self._stop[: self._rows] - self._start[: self._rows], out=indptr[1:])
        return SparseVectors(indptr, self._term[entries], self._value[entries], self.dim)

    def __len__(self) -> int:
        return self._rows

    @property
    def nnz(self) -> int:
        return self._used - self._dead

    @property
    def nbytes(self) -> int:
        """Bytes held for the live entries (term int64, value float32, row int64) and the row ranges."""
        return self.nnz * 20 + self._rows * 16

    def document_frequencies(self) -> tuple[np.ndarray, np.ndarray]:
        """``(terms, df)``: the terms held, sorted, and how many rows hold each."""
        terms, ptr = self._index()[:2]
        return terms, np.diff(ptr)

    # ---- writes ------------------------------------------------------------------------------
    def _reserve(self, extra: int, rows: int) -> None:
        need = self._used + extra
        if need > self._row.size:
            cap = max(need, 2 * self._row.size, 1024)
            for name, dtype in (("_row", np.int64), ("_term", np.int64), ("_value", np.float32)):
                grown = np.empty(cap, dtype=dtype)
                grown[: self._used] = getattr(self, name)[: self._used]
                setattr(self, name, grown)
        if rows > self._start.size:
            cap = max(rows, 2 * self._start.size, 64)
            for name in ("_start", "_stop"):
                grown = np.zeros(cap, dtype=np.int64)
                grown[: self._rows] = getattr(self, name)[: self._rows]
                setattr(self, name, grown)

    def _kill(self, rows: np.ndarray) -> None:
        entries = _ranges(self._start[rows], self._stop[rows])
        self._row[entries] = -1
        self._dead += entries.size
        self._start[rows] = self._stop[rows] = 0

    def set_rows(self, rows: np.ndarray, vectors: SparseVectors) -> None:
        """Write ``vectors`` at point rows ``rows`` (unique; new rows extend the store)."""
        rows = np.asarray(rows, dtype=np.int64)
        n_after = max(self._rows, int(rows.max()) + 1) if rows.size else self._rows
        self._reserve(vectors.indices.size, n_after)
        old = rows[rows < self._rows]
        if old.size:
            self._kill(old)
        lo = self._used
        hi = lo + vectors.indices.size
        self._row[lo:hi] = np.repeat(rows, vectors.nnz)
        self._term[lo:hi] = vectors.indices
        self._value[lo:hi] = vectors.values
        self._start[rows] = lo + vectors.indptr[:-1]
        self._stop[rows] = lo + vectors.indptr[1:]
        self._used, self._rows = hi, n_after
        self._changed()

    def remove(self, row: int, last: int) -> None:
        """Drop row ``row`` and move row ``last`` (the index's last row) into its place."""
        self._kill(np.array([row]))
        if row != last:
            lo, hi = self._start[last], self._stop[last]
            self._row[lo:hi] = row
            self._start[row], self._stop[row] = lo, hi
            self._start[last] = self._stop[last] = 0
        self._rows = last
        self._changed()

    def _changed(self) -> None:
        self._inverted = None
        if self._dead > 4096 and 2 * self._dead > self._used:
            self._compact()

    def _compact(self) -> None:
        csr = self.to_csr()
        fresh = SparseRows.from_csr(csr, self.modifier)
        self.__dict__.update(fresh.__dict__)

    # ---- search ------------------------------------------------------------------------------
    def _index(self) -> tuple[np.ndarray, ...]:
        """``(terms, postings_ptr, posting_rows, posting_values)``, the live entries sorted by term."""
        if self._inverted is None:
            live = np.flatnonzero(self._row[: self._used] >= 0)
            order = live[np.argsort(self._term[live], kind="stable")]
            sorted_terms = self._term[order]
            terms, first = np.unique(sorted_terms, return_index=True)
            ptr = np.append(first, sorted_terms.size).astype(np.int64)
            self._inverted = (terms, ptr, self._row[order], self._value[order].astype(np.float64))
        return self._inverted

    def idf(self, terms_at: np.ndarray) -> np.ndarray:
        """IDF of the terms at positions ``terms_at`` of the inverted index (Lucene's variant)."""
        ptr = self._index()[1]
        return lucene_idf(self._rows, (ptr[terms_at + 1] - ptr[terms_at]).astype(np.float64))

    def search(self, queries: SparseVectors, k: int, allowed: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows per query by (IDF-weighted) dot product: ``(rows (m, k'), scores (m, k'))``,
        best first, padded with row -1 / score -inf where fewer rows share a term with the query.
        ``allowed``: a boolean mask over rows (a filter), None for all."""
        m, n = len(queries), self._rows
        terms, ptr, post_rows, post_vals = self._index()
        k_eff = min(k, n)
        out_rows = np.full((m, k_eff), -1, dtype=np.int64)
        out_scores = np.full((m, k_eff), -np.inf, dtype=np.float32)
        if n == 0 or terms.size == 0 or k_eff == 0:
            return out_rows, out_scores
        # each query entry -> its term's posting range (absent terms: an empty range)
        pos = np.minimum(np.searchsorted(terms, queries.indices), terms.size - 1)
        present = terms[pos] == queries.indices
        weight = queries.values.astype(np.float64) * present
        if self.modifier == "idf":
            weight = weight * self.idf(pos)
        starts, stops = ptr[pos], np.where(present, ptr[pos + 1], ptr[pos])
        block = max(1, SCORE_CELLS // n)
        for q0 in range(0, m, block):
            q1 = min(q0 + block, m)
            e0, e1 = queries.indptr[q0], queries.indptr[q1]
            lengths = stops[e0:e1] - starts[e0:e1]
            postings = _ranges(starts[e0:e1], stops[e0:e1])
            entry_query = np.repeat(np.arange(q0, q1) - q0, np.diff(queries.indptr[q0 : q1 + 1]))
            cells = np.repeat(entry_query, lengths) * n + post_rows[postings]
            contrib = np.repeat(weight[e0:e1], lengths) * post_vals[postings]
            scores = np.bincount(cells, weights=contrib, minlength=(q1 - q0) * n).reshape(q1 - q0, n)
            matched = np.bincount(cells, minlength=(q1 - q0) * n).reshape(q1 - q0, n) > 0
            if allowed is not None:
                matched &= allowed[None, :]
            scores[~matched] = -np.inf
            if k_eff < n:
                part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
            else:
                part = np.broadcast_to(np.arange(n), scores.shape)
            vals = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-vals, axis=1, kind="stable")
            best = np.take_along_axis(part, order, axis=1)
            best_vals = np.take_along_axis(vals, order, axis=1)
            out_rows[q0:q1] = np.where(np.isfinite(best_vals), best, -1)
            out_scores[q0:q1] = best_vals
        return out_rows, out_scores
