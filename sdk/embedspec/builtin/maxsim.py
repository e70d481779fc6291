"""MaxSim (late interaction) scores in numpy: no Python loop per document.

``MaxSim(Q, D) = sum over query vectors q of max over document vectors d of q . d``. A block of
queries is scored against a block of documents with one matrix product of all their query vectors
against all the documents' vectors, ``np.maximum.reduceat`` over the documents' offsets (best
document vector per query vector) and ``np.add.reduceat`` over the queries' offsets (the sum).
Blocks are cut at document boundaries so the ``(query vectors, document vectors)`` product stays
under ``SCORE_ELEMENTS`` floats whatever the index size.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..representations import MultiVectors
from .similarity import top_k

#: Floats in one ``(query vectors, document vectors)`` product block (64 MiB).
SCORE_ELEMENTS = 1 << 24
#: Queries scored together (their vectors are stacked into one matrix).
QUERY_BLOCK = 64


def maxsim_block(q_data: np.ndarray, q_offsets: np.ndarray, d_data: np.ndarray, d_offsets: np.ndarray) -> np.ndarray:
    """``(m, n) float32`` MaxSim of ``m`` queries (``q_data (Tq, d)``, ``q_offsets (m + 1,)``) against
    ``n`` documents (``d_data (Td, d)``, ``d_offsets (n + 1,)``, both starting at 0); every set non-empty."""
    sims = q_data @ d_data.T  # (Tq, Td)
    best = np.maximum.reduceat(sims, d_offsets[:-1], axis=1)  # (Tq, n)
    return np.add.reduceat(best, q_offsets[:-1], axis=0).astype(np.float32, copy=False)  # (m, n)


def document_blocks(offsets: np.ndarray, query_rows: int, elements: int = SCORE_ELEMENTS) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` document ranges whose vectors times ``query_rows`` stay under ``elements``
    (at least one document per block)."""
    budget = max(1, elements // max(1, query_rows))
    n = len(offsets) - 1
    start = 0
    while start < n:
        stop = int(np.searchsorted(offsets, offsets[start] + budget, side="right")) - 1
        stop = min(max(stop, start + 1), n)
        yield start, stop
        start = stop


def maxsim_scores(queries: MultiVectors, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """``(m, n) float32`` MaxSim of every query against every stored set (``data``/``offsets``)."""
    n = len(offsets) - 1
    out = np.empty((len(queries), n), dtype=np.float32)
    for q0 in range(0, len(queries), QUERY_BLOCK):
        qb = queries.take(np.arange(q0, min(q0 + QUERY_BLOCK, len(queries))))
        for start, stop in document_blocks(offsets, qb.data.shape[0]):
            lo, hi = offsets[start], offsets[stop]
            out[q0 : q0 + len(qb), start:stop] = maxsim_block(qb.data, qb.offsets, data[lo:hi],
                                                               offsets[start : stop + 1] - lo)
    return out


def maxsim_top_k(queries: MultiVectors, data: np.ndarray, offsets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best stored sets per query by MaxSim: ``(m, k')`` indexes and scores, best first."""
    m, n = len(queries), len(offsets) - 1
    k_eff = min(k, n)
    out_idx = np.zeros((m, k_eff), dtype=np.int64)
    out_val = np.zeros((m, k_eff), dtype=np.float32)
    for q0 in range(0, m, QUERY_BLOCK):
        qb = queries.take(np.arange(q0, min(q0 + QUERY_BLOCK, m)))
        best_idx = np.zeros((len(qb), 0), dtype=np.int64)
        best_val = np.zeros((len(qb), 0), dtype=np.float32)
        for start, stop in document_blocks(offsets, qb.data.shape[0]):
            lo, hi = offsets[start], offsets[stop]
            scores = maxsim_block(qb.data, qb.offsets, data[lo:hi], offsets[start : stop + 1] - lo)
            idx, val = top_k(scores, k_eff)
            cand_idx = np.concatenate([best_idx, idx + start], axis=1)
            sel, best_val = top_k(np.concatenate([best_val, val], axis=1), k_eff)
            best_idx = np.take_along_axis(cand_idx, sel, axis=1)
        out_idx[q0 : q0 + len(qb)], out_val[q0 : q0 + len(qb)] = best_idx, best_val
    return out_idx, out_val


def gather_sets(data: np.ndarray, offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stored sets at ``rows`` (in that order) as ``(data, offsets)`` starting at 0."""
    starts, lengths = offsets[rows], offsets[rows + 1] - offsets[rows]
    new_offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    index = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return data[index], new_offsets


def maxsim_rescore(queries: MultiVectors, data: np.ndarray, offsets: np.ndarray, candidates: np.ndarray,
                   k: int) -> tuple[np.ndarray, np.ndarray]:
    """Re-rank ``candidates (m, c)`` (stored set indexes) of each query by exact MaxSim; the best ``k``
    per query, best first: ``(m, min(k, c))`` indexes and scores. One product per query, none per set."""
    m, c = candidates.shape
    k_eff = min(k, c)
    out_idx = np.zeros((m, k_eff), dtype=np.int64)
    out_val = np.zeros((m, k_eff), dtype=np.float32)
    for i in range(m):
        q = queries[i]
        cand_data, cand_offsets = gather_sets(data, offsets, candidates[i])
        scores = maxsim_block(q, np.array([0, q.shape[0]]), cand_data, cand_offsets)  # (1, c)
        sel, val = top_k(scores, k_eff)
        out_idx[i], out_val[i] = candidates[i][sel[0]], val[0]
    return out_idx, out_val
