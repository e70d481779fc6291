"""Pooling token states into one vector per input (numpy, no per-token Python loops)."""

from __future__ import annotations

import numpy as np

from ..common.card import Pooling


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: Pooling) -> np.ndarray:
    """``hidden (b, s, h)`` float, ``mask (b, s)`` 0/1 -> ``(b, h) float32``.

    ``mean`` averages the unmasked tokens; ``cls`` takes position 0; ``last-token`` takes each
    row's last unmasked position (with left padding that is the final column).
    """
    if hidden.ndim == 2:  # the graph already pooled
        return hidden.astype(np.float32, copy=False)
    hidden = hidden.astype(np.float32, copy=False)
    if pooling == "mean":
        weights = mask.astype(np.float32)
        sums = np.einsum("bsh,bs->bh", hidden, weights)
        counts = np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
        return sums / counts
    if pooling == "cls":
        return np.ascontiguousarray(hidden[:, 0])
    if pooling == "last-token":
        seq = mask.shape[1]
        # index of the last 1 in each row, whatever the padding side
        last = seq - 1 - np.argmax(mask[:, ::-1] != 0, axis=1)
        return np.ascontiguousarray(hidden[np.arange(hidden.shape[0]), last])
    raise ValueError(f"pooling must be 'mean', 'cls' or 'last-token', not {pooling!r}")
