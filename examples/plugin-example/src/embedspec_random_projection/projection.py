"""A Gaussian random projection (Johnson–Lindenstrauss) as an embedspec Compressor."""

from __future__ import annotations

from typing import Any

import numpy as np
from embedspec.base import BaseCompressor, as_matrix, l2_normalize
from embedspec.registry import ComponentConfig
from pydantic import Field


class RandomProjectionConfig(ComponentConfig):
    """Project to `dim` dimensions with a seeded Gaussian matrix."""

    dim: int = Field(gt=0, description="Output dimension.")
    seed: int = Field(0, description="Seed of the projection matrix.")
    normalize: bool = Field(True, description="L2-normalize the projected vectors.")


class RandomProjection(BaseCompressor):
    """``(n, d) -> (n, dim)`` with ``R ~ N(0, 1/dim)``; the matrix depends only on (d, dim, seed)."""

    Config = RandomProjectionConfig  # the parameters, declared once: the constructor takes them by keyword
    requires_fit = True

    def output_dim(self, input_dim: int) -> int:
        return self.dim

    def fit(self, X: Any) -> RandomProjection:
        d = as_matrix(X).shape[1]
        rng = np.random.default_rng(self.seed)
        self.components_ = (rng.standard_normal((d, self.dim)) / np.sqrt(self.dim)).astype(np.float32)
        return self

    def transform(self, X: Any) -> np.ndarray:
        self.check_fitted()
        out = as_matrix(X, dim=self.components_.shape[0]) @ self.components_
        return l2_normalize(out) if self.normalize else out
