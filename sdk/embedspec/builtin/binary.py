"""``binary``: one sign bit per dimension, packed with ``np.packbits``, searched by Hamming distance.

A vector becomes the bits ``x_j > t_j`` (``t`` = 0, or the training mean per dimension when
``center`` is set), packed 8 per byte: ``(n, ceil(d / 8)) uint8``. Queries are binarized the same
way and scored by ``d - 2 * hamming``, which is the dot product of the two ``+-1`` vectors (higher
is better, whatever the metric). Binary codes lose a lot of precision, so ``rescore`` (default on)
asks the index to keep the float originals and re-rank the ``oversampling * k`` best candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..base import Quantizer, as_matrix
from ..errors import DimensionMismatchError, NotFittedError
from ..protocols import Metric
from ..registry import ComponentConfig, PathField
from .similarity import check_metric

#: Elements of the ``(queries, rows, words)`` XOR block, bounds the popcount working memory.
_XOR_BLOCK = 1 << 22
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class BinaryQuantizerConfig(ComponentConfig):
    """Spec block of the ``binary`` compressor."""

    rescore: bool = Field(True, description="re-rank candidates with the float originals (the index keeps them)")
    oversampling: float = Field(4.0, ge=1.0, le=1000.0, description="candidates = oversampling * k when rescoring")
    center: bool = Field(False, description="threshold each dimension at its training mean instead of 0")
    state: str | None = PathField(None, description="directory written by save() (the learned thresholds)")


def popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per element of an unsigned integer array (``np.bitwise_count`` or a byte table)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words)
    as_bytes = words.view(np.uint8).reshape(*words.shape, words.dtype.itemsize)
    return _BYTE_POPCOUNT[as_bytes].sum(axis=-1, dtype=np.uint32)


def hamming(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(m, n) int32`` Hamming distances between packed bit rows ``a (m, B)`` and ``b (n, B)``."""
    n_bytes = a.shape[1]
    pad = (-n_bytes) % 8
    a64 = np.ascontiguousarray(np.pad(a, ((0, 0), (0, pad)))).view(np.uint64)
    b64 = np.ascontiguousarray(np.pad(b, ((0, 0), (0, pad)))).view(np.uint64)
    words = a64.shape[1]
    out = np.empty((a.shape[0], b.shape[0]), dtype=np.int32)
    rows = max(1, _XOR_BLOCK // max(1, a.shape[0] * words))
    for r0 in range(0, b.shape[0], rows):
        xor = a64[:, None, :] ^ b64[None, r0 : r0 + rows, :]
        out[:, r0 : r0 + rows] = popcount(xor).sum(axis=-1, dtype=np.int32)
    return out


class BinaryQuantizer(Quantizer):
    """``(n, d) float32 -> (n, ceil(d/8)) uint8`` packed sign bits; Hamming similarity."""

    native_kind = "binary"

    Config = BinaryQuantizerConfig


    def fit(self, X: Any) -> BinaryQuantizer:
        X = as_matrix(X, name="training vectors")
        if X.shape[0] == 0:
            raise ValueError("binary fit needs at least one training vector")
        self.threshold_ = X.mean(axis=0) if self.center else np.zeros(X.shape[1], dtype=np.float32)
        return self

    def _threshold(self, d: int, what: str) -> np.ndarray | float:
        threshold = getattr(self, "threshold_", None)
        if threshold is None:
            if self.center:
                raise NotFittedError("BinaryQuantizer(center=True) needs fit(...) or load(dir) to learn its thresholds")
            return 0.0
        if threshold.shape[0] != d:
            raise DimensionMismatchError(
                f"{what} have dimension {d}, the binary quantizer was fitted on {threshold.shape[0]}"
            )
        return threshold

    def transform(self, X: Any) -> np.ndarray:
        X = as_matrix(X, name="vectors")
        return np.packbits(X > self._threshold(X.shape[1], "vectors"), axis=1)

    def inverse_transform(self, codes: np.ndarray, dim: int | None = None) -> np.ndarray:
        """``(n, dim) float32`` unit vectors of ``+-1/sqrt(dim)`` (``dim`` defaults to the fitted one)."""
        dim = dim or getattr(self, "threshold_", np.zeros(codes.shape[1] * 8)).shape[0]
        bits = np.unpackbits(np.asarray(codes, dtype=np.uint8), axis=1, count=dim)
        return ((bits.astype(np.float32) * 2.0 - 1.0) / np.sqrt(dim)).astype(np.float32)

    def similarity(self, queries: np.ndarray, codes: np.ndarray, metric: Metric) -> np.ndarray:
        """``(m, n) float32`` scores ``d - 2 * hamming`` (the dot product of the +-1 vectors)."""
        check_metric(metric)
        queries = as_matrix(queries, name="queries")
        q_bits = self.transform(queries)
        if q_bits.shape[1] != codes.shape[1]:
            raise DimensionMismatchError(f"queries pack into {q_bits.shape[1]} bytes, the codes have {codes.shape[1]}")
        return (queries.shape[1] - 2 * hamming(q_bits, np.asarray(codes, dtype=np.uint8))).astype(np.float32)

    def output_dim(self, input_dim: int) -> int:
        if getattr(self, "threshold_", None) is not None:
            self._threshold(input_dim, "input vectors")  # checks the fitted dimension
        return input_dim

    def bytes_per_vector(self, input_dim: int) -> int:
        return (input_dim + 7) // 8
