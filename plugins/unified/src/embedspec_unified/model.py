"""The trainable model in numpy: a flat embedding table read through lookups, and a task head.

``params`` is a dict of arrays: ``table`` ``(num_rows, chunk_dim)``; the head's ``w2`` ``(H,)`` and
``b2`` ``(1,)`` (``H`` = input dim for the logistic head), plus ``w1`` ``(D, H)`` and ``b1`` ``(H,)``
for the mlp head. Every function follows the dtype of ``params`` (float32 for training, float64 for
the finite-difference gradient check). The table gradient is sparse: ``(rows (u,), grads (u, chunk_dim))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .records import Ragged


@dataclass(frozen=True)
class Lookups:
    """Table rows of a batch of ``m`` records: per feature a ragged ``(L, k) int64`` and its pooling."""

    columns: Sequence[Ragged]
    pooling: Sequence[str]

    @property
    def m(self) -> int:
        return self.columns[0].n

    def take(self, sel: np.ndarray) -> Lookups:
        return Lookups([c.take(sel) for c in self.columns], self.pooling)


def init_params(
    num_rows: int, chunk_dim: int, dim: int, head: str, hidden: int, init_scale: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Random initial parameters (float32)."""
    params = {"table": rng.normal(0.0, init_scale, (num_rows, chunk_dim))}
    width = dim
    if head == "mlp":
        params["w1"] = rng.normal(0.0, np.sqrt(2.0 / dim), (dim, hidden))
        params["b1"] = np.zeros(hidden)
        width = hidden
    params["w2"] = rng.normal(0.0, np.sqrt(1.0 / width), width)
    params["b2"] = np.zeros(1)
    return {k: v.astype(np.float32) for k, v in params.items()}


def embed(table: np.ndarray, lookups: Lookups) -> np.ndarray:
    """``(m, dim)`` concatenated feature vectors; multi-valued features pooled (mean or sum)."""
    m, chunk_dim = lookups.m, table.shape[1]
    parts = []
    for col, pooling in zip(lookups.columns, lookups.pooling):
        k = col.values.shape[1]
        vecs = table[col.values].reshape(len(col.values), k * chunk_dim)
        if col.single:
            parts.append(vecs)
            continue
        counts = col.counts
        pooled = np.zeros((m, k * chunk_dim), dtype=table.dtype)
        full = counts > 0
        if full.any():
            pooled[full] = np.add.reduceat(vecs, col.offsets[:-1][full], axis=0)
        if pooling == "mean":
            pooled /= np.maximum(counts, 1)[:, None].astype(table.dtype)
        parts.append(pooled)
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def embed_backward(d_x: np.ndarray, lookups: Lookups, chunk_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of the table rows from ``d_x`` ``(m, dim)``: unique ``rows (u,)`` and ``grads (u, chunk_dim)``."""
    row_parts, grad_parts, col0 = [], [], 0
    for col, pooling in zip(lookups.columns, lookups.pooling):
        k = col.values.shape[1]
        d = d_x[:, col0 : col0 + k * chunk_dim]
        col0 += k * chunk_dim
        if not col.single:
            owners = col.owners()
            d = d[owners]
            if pooling == "mean":
                d = d / col.counts[owners][:, None].astype(d.dtype)
        row_parts.append(col.values.reshape(-1))
        grad_parts.append(d.reshape(-1, chunk_dim))
    return sum_rows(np.concatenate(row_parts), np.concatenate(grad_parts))


def sum_rows(rows: np.ndarray, grads: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``grads (M, c)`` of repeated ``rows (M,)``: unique rows ``(u,)`` and their sums ``(u, c)``."""
    if len(rows) == 0:
        return rows.astype(np.int64), grads
    order = np.argsort(rows)
    sorted_rows = rows[order]
    starts = np.concatenate([[0], np.flatnonzero(sorted_rows[1:] != sorted_rows[:-1]) + 1])
    return sorted_rows[starts], np.add.reduceat(grads[order], starts, axis=0)


def head_logits(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, Any]:
    """``(m,)`` logits of the head on ``x`` ``(m, dim)`` and what the backward pass needs."""
    if "w1" in params:
        z = x @ params["w1"] + params["b1"]
        h = np.maximum(z, 0)
        return h @ params["w2"] + params["b2"][0], (x, z, h)
    return x @ params["w2"] + params["b2"][0], (x, None, x)


def head_backward(params: dict[str, np.ndarray], cache: Any, d_logits: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Head gradients and ``d_x`` ``(m, dim)`` from ``d_logits`` ``(m,)``."""
    x, z, h = cache
    grads = {"w2": h.T @ d_logits, "b2": np.array([d_logits.sum()], dtype=d_logits.dtype)}
    d_h = np.outer(d_logits, params["w2"])
    if z is None:
        return grads, d_h
    d_z = d_h * (z > 0)
    grads["w1"] = x.T @ d_z
    grads["b1"] = d_z.sum(axis=0)
    return grads, d_z @ params["w1"].T


def log_loss_terms(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-record binary cross-entropy ``(m,)`` computed stably from logits."""
    return np.logaddexp(0.0, logits) - y * logits


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -logits))


def loss_and_grads(
    params: dict[str, np.ndarray], lookups: Lookups, y: np.ndarray, l2: float
) -> tuple[float, dict[str, Any]]:
    """Mean log-loss + ``l2 / 2 * (|touched rows|^2 + |head weights|^2)`` and its gradients.

    ``grads["table"]`` is sparse: ``(rows (u,), grads (u, chunk_dim))``.
    """
    table = params["table"]
    x = embed(table, lookups)
    logits, cache = head_logits(params, x)
    y = y.astype(logits.dtype)
    m = len(y)
    loss = float(log_loss_terms(logits, y).mean())
    d_logits = (sigmoid(logits) - y) / m
    grads, d_x = head_backward(params, cache, d_logits)
    rows, row_grads = embed_backward(d_x, lookups, table.shape[1])
    if l2:
        touched = table[rows]
        row_grads = row_grads + l2 * touched
        loss += 0.5 * l2 * float((touched**2).sum())
        for name in ("w1", "w2"):
            if name in params:
                grads[name] = grads[name] + l2 * params[name]
                loss += 0.5 * l2 * float((params[name] ** 2).sum())
    grads["table"] = (rows, row_grads)
    return loss, grads


def predict_logits(params: dict[str, np.ndarray], lookups: Lookups, batch_size: int = 8192) -> np.ndarray:
    """``(m,)`` logits, computed in batches."""
    out = []
    for start in range(0, lookups.m, batch_size):
        sel = np.arange(start, min(start + batch_size, lookups.m))
        x = embed(params["table"], lookups.take(sel))
        out.append(head_logits(params, x)[0])
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)
