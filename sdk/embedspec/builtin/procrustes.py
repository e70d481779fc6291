"""``procrustes``: orthogonal Procrustes alignment learned from paired anchors.

Given anchors ``X_source (n, ds)`` and ``X_target (n, dt)`` where row ``i`` of both is the same
item (a word and its translation, a sentence and its translation), ``fit`` finds the map ``W``
with orthonormal columns or rows minimizing ``||X_source W - X_target||``: with the SVD
``X_source^T X_target = U S V^T`` (thin), ``W = U V^T`` of shape ``(ds, dt)``. When ``ds == dt``
``W`` is a rotation (or reflection): distances and angles are kept exactly. When the dimensions
differ, ``W`` is the semi-orthogonal solution: for ``ds > dt`` it projects onto the ``dt``-dimensional
subspace best matching the target, for ``ds < dt`` it embeds the source isometrically into the
target space (equivalent to zero-padding the source and rotating).

``center`` subtracts the anchor means first (and adds the target mean back); ``normalize``
L2-normalizes anchors and inputs before the map and the outputs after it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..base import BaseAligner, as_matrix, l2_normalize
from ..errors import DimensionMismatchError
from ..registry import ComponentConfig, PathField


class ProcrustesAlignerConfig(ComponentConfig):
    """Spec block of the ``procrustes`` aligner."""

    center: bool = Field(False, description="subtract the anchors' means before fitting")
    normalize: bool = Field(True, description="L2-normalize anchors, inputs and outputs")
    state: str | None = PathField(None, description="directory written by save() holding the learned map")


class ProcrustesAligner(BaseAligner):
    """``(n, ds) -> (n, dt) float32`` through the learned semi-orthogonal map ``W_ (ds, dt)``."""

    Config = ProcrustesAlignerConfig


    def fit(self, X_source: Any, X_target: Any) -> ProcrustesAligner:
        Xs = as_matrix(X_source, name="source anchors")
        Xt = as_matrix(X_target, name="target anchors")
        if Xs.shape[0] != Xt.shape[0]:
            raise ValueError(
                f"procrustes needs paired anchors: {Xs.shape[0]} source rows but {Xt.shape[0]} target rows"
            )
        if Xs.shape[0] == 0:
            raise ValueError("procrustes fit needs at least one pair of anchors")
        if self.normalize:
            Xs, Xt = l2_normalize(Xs), l2_normalize(Xt)
        Xs64, Xt64 = Xs.astype(np.float64), Xt.astype(np.float64)
        mu_s = Xs64.mean(axis=0) if self.center else np.zeros(Xs.shape[1])
        mu_t = Xt64.mean(axis=0) if self.center else np.zeros(Xt.shape[1])
        U, _, Vt = np.linalg.svd((Xs64 - mu_s).T @ (Xt64 - mu_t), full_matrices=False)
        self.W_ = (U @ Vt).astype(np.float32)
        self.input_dim_ = int(Xs.shape[1])
        self.source_mean_ = mu_s.astype(np.float32)
        self.target_mean_ = mu_t.astype(np.float32)
        return self

    def transform(self, X: Any) -> np.ndarray:
        self.check_fitted()
        X = as_matrix(X, name="vectors")
        if X.shape[1] != self.W_.shape[0]:
            raise DimensionMismatchError(
                f"vectors have dimension {X.shape[1]}, the aligner was fitted on source dimension {self.W_.shape[0]}"
            )
        if self.normalize:
            X = l2_normalize(X)
        out = (X - self.source_mean_) @ self.W_ + self.target_mean_
        return l2_normalize(out) if self.normalize else out.astype(np.float32)

    def output_dim(self, input_dim: int) -> int:
        return int(self.W_.shape[1]) if hasattr(self, "W_") else input_dim
