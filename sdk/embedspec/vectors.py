"""Vectors as the components exchange them: ``(n, dim) float32`` arrays, checked and normalized."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .errors import DimensionMismatchError


def as_matrix(X: Any, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Return ``X`` as a C-contiguous ``(n, d) float32`` array; reject NaN/inf and wrong shapes."""
    arr = np.asarray(X, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim); got shape {arr.shape}")
    if dim is not None and arr.shape[0] and arr.shape[1] != dim:
        raise DimensionMismatchError(f"{name} have dimension {arr.shape[1]}, expected {dim}")
    if arr.size and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name} contain NaN or infinite values (first at row {bad[0]}, column {bad[1]})")
    return np.ascontiguousarray(arr)


def l2_normalize(X: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.maximum(norms, eps)).astype(np.float32, copy=False)


def batched(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
