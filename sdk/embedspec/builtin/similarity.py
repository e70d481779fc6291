"""Metric scores and block-wise top-k selection shared by the built-in index and quantizers.

Scores follow the project convention, higher is better: cosine and dot as they are, euclidean as
the negated distance. Cosine expects rows that are already L2-normalized (the caller normalizes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..base import as_matrix, l2_normalize
from ..protocols import Metric

METRICS: tuple[str, ...] = ("cosine", "dot", "euclidean")
#: Rows scored at once: bounds the ``(queries, rows)`` score block in memory.
ROW_BLOCK = 32768
#: Queries scored at once.
QUERY_BLOCK = 256


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(METRICS)}")


def prepare_queries(queries: object, metric: str, check_dim: Callable[[int, str], None]) -> np.ndarray:
    """Validated ``(m, d) float32`` queries for a quantizer's ``similarity`` (L2-normalized for cosine)."""
    check_metric(metric)
    out = as_matrix(queries, name="queries")
    check_dim(out.shape[1], "queries")
    return l2_normalize(out) if metric == "cosine" else out


def pairwise_scores(
    queries: np.ndarray, X: np.ndarray, metric: Metric, x_sqnorms: np.ndarray | None = None
) -> np.ndarray:
    """``(m, n) float32`` scores of queries ``(m, d)`` against rows ``X (n, d)``."""
    dots = queries @ X.T
    if metric != "euclidean":
        return dots.astype(np.float32, copy=False)
    if x_sqnorms is None:
        x_sqnorms = np.einsum("ij,ij->i", X, X)
    q_sq = np.einsum("ij,ij->i", queries, queries)
    sq = q_sq[:, None] - 2.0 * dots + x_sqnorms[None, :]
    return (-np.sqrt(np.maximum(sq, 0.0))).astype(np.float32, copy=False)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the column indexes and scores of the ``k`` best, sorted best first: ``(m, k')``."""
    n = scores.shape[1]
    k = min(k, n)
    if k == 0:
        empty = np.zeros((scores.shape[0], 0))
        return empty.astype(np.int64), empty.astype(np.float32)
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def blockwise_top_k(
    score_block: Callable[[np.ndarray, int, int], np.ndarray],
    queries: np.ndarray,
    n_rows: int,
    k: int,
    *,
    row_block: int = ROW_BLOCK,
    query_block: int = QUERY_BLOCK,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` over ``n_rows`` rows scored block by block; rows scored ``-inf`` are excluded later.

    ``score_block(queries, start, stop)`` returns ``(m, stop - start)`` scores. Returns row indexes
    ``(m, k')`` and scores ``(m, k')`` with ``k' = min(k, n_rows)``, best first.
    """
    m = queries.shape[0]
    k_eff = min(k, n_rows)
    out_idx = np.zeros((m, k_eff), dtype=np.int64)
    out_val = np.full((m, k_eff), -np.inf, dtype=np.float32)
    for q0 in range(0, m, query_block):
        qb = queries[q0 : q0 + query_block]
        best_idx = np.zeros((qb.shape[0], 0), dtype=np.int64)
        best_val = np.zeros((qb.shape[0], 0), dtype=np.float32)
        for r0 in range(0, n_rows, row_block):
            r1 = min(r0 + row_block, n_rows)
            idx, val = top_k(score_block(qb, r0, r1), k_eff)
            cand_idx = np.concatenate([best_idx, idx + r0], axis=1)
            cand_val = np.concatenate([best_val, val], axis=1)
            sel, best_val = top_k(cand_val, k_eff)
            best_idx = np.take_along_axis(cand_idx, sel, axis=1)
        out_idx[q0 : q0 + qb.shape[0]] = best_idx
        out_val[q0 : q0 + qb.shape[0]] = best_val
    return out_idx, out_val


def rescore_top_k(queries: np.ndarray, vectors: np.ndarray, cand: np.ndarray, k: int,
                  metric: Metric) -> tuple[np.ndarray, np.ndarray]:
    """Exact float scores of candidate rows ``cand (m, c)`` of ``vectors``; the best ``k`` per query,
    best first: ``(m, min(k, c))`` row indexes and scores."""
    idx_parts, score_parts = [], []
    for q0 in range(0, len(queries), QUERY_BLOCK):  # bounds the (queries, c, dim) gather
        qb, cb = queries[q0 : q0 + QUERY_BLOCK], cand[q0 : q0 + QUERY_BLOCK]
        vecs = vectors[cb]
        exact = np.einsum("md,mcd->mc", qb, vecs)
        if metric == "euclidean":
            sq = np.einsum("md,md->m", qb, qb)[:, None] - 2 * exact + np.einsum("mcd,mcd->mc", vecs, vecs)
            exact = -np.sqrt(np.maximum(sq, 0.0))
        order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
        idx_parts.append(np.take_along_axis(cb, order, axis=1))
        score_parts.append(np.take_along_axis(exact, order, axis=1).astype(np.float32))
    return np.concatenate(idx_parts), np.concatenate(score_parts)
