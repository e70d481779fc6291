"""``int8``: scalar quantization with per-dimension ranges learned by ``fit``.

Dimension ``j`` is clipped to ``[lo_j, hi_j]`` and mapped to 256 levels stored as ``int8``:
``code = round((x - lo) / step) - 128`` with ``step = (hi - lo) / 255``, and
``x_hat = lo + (code + 128) * step``. Inside the range the reconstruction error is at most
``step / 2`` per dimension. The range covers the central ``quantile`` fraction of the training
values (1.0 = min/max), so rare outliers do not waste levels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..base import Quantizer, as_matrix, l2_normalize
from ..errors import DimensionMismatchError
from ..protocols import Metric
from ..registry import ComponentConfig, PathField
from .similarity import ROW_BLOCK, pairwise_scores, prepare_queries

LEVELS = 255


class Int8QuantizerConfig(ComponentConfig):
    """Spec block of the ``int8`` compressor."""

    quantile: float = Field(0.99, gt=0.0, le=1.0, description="central fraction of values the ranges cover")
    rescore: bool = Field(False, description="re-rank candidates with the float originals (the index keeps them)")
    oversampling: float = Field(2.0, ge=1.0, le=1000.0, description="candidates = oversampling * k when rescoring")
    state: str | None = PathField(None, description="directory written by save() holding the learned ranges")


class Int8Quantizer(Quantizer):
    """``(n, d) float32 -> (n, d) int8`` codes; asymmetric scoring of float queries against codes."""

    requires_fit = True
    native_kind = "scalar"

    Config = Int8QuantizerConfig


    def fit(self, X: Any) -> Int8Quantizer:
        X = as_matrix(X, name="training vectors")
        if X.shape[0] == 0:
            raise ValueError("int8 fit needs at least one training vector")
        tail = (1.0 - self.quantile) / 2.0
        lo, hi = np.quantile(X, [tail, 1.0 - tail], axis=0) if tail > 0 else (X.min(0), X.max(0))
        self.lo_ = lo.astype(np.float32)
        self.step_ = (np.maximum(hi - lo, 1e-12) / LEVELS).astype(np.float32)
        return self

    def _check_dim(self, d: int, what: str) -> None:
        self.check_fitted()
        if d != self.lo_.shape[0]:
            raise DimensionMismatchError(
                f"{what} have dimension {d}, the int8 quantizer was fitted on {self.lo_.shape[0]}"
            )

    def transform(self, X: Any) -> np.ndarray:
        X = as_matrix(X, name="vectors")
        self._check_dim(X.shape[1], "vectors")
        levels = np.rint((X - self.lo_) / self.step_)
        return (np.clip(levels, 0, LEVELS) - 128).astype(np.int8)

    def inverse_transform(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes)
        self._check_dim(codes.shape[1], "codes")
        return (self.lo_ + (codes.astype(np.float32) + 128.0) * self.step_).astype(np.float32)

    def similarity(self, queries: np.ndarray, codes: np.ndarray, metric: Metric) -> np.ndarray:
        """``(m, n)`` scores of float queries against dequantized codes, one row block at a time."""
        queries = prepare_queries(queries, metric, self._check_dim)
        out = np.empty((queries.shape[0], codes.shape[0]), dtype=np.float32)
        for r0 in range(0, codes.shape[0], ROW_BLOCK):
            rows = self.inverse_transform(codes[r0 : r0 + ROW_BLOCK])
            if metric == "cosine":
                rows = l2_normalize(rows)
            out[:, r0 : r0 + rows.shape[0]] = pairwise_scores(queries, rows, metric)
        return out

    def output_dim(self, input_dim: int) -> int:
        if self.is_fitted:
            self._check_dim(input_dim, "input vectors")
        return input_dim

    def bytes_per_vector(self, input_dim: int) -> int:
        return input_dim
