"""``matryoshka``: keep the first ``dim`` dimensions of Matryoshka-trained embeddings, renormalize."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from ..base import BaseCompressor, as_matrix, l2_normalize
from ..config_rules import MAX_DIM
from ..errors import DimensionMismatchError
from ..registry import ComponentConfig


class MatryoshkaConfig(ComponentConfig):
    """Spec block of the ``matryoshka`` compressor."""

    dim: int = Field(..., ge=1, le=MAX_DIM, description="number of leading dimensions kept")
    normalize: bool = Field(True, description="L2-normalize the truncated vectors")


class MatryoshkaCompressor(BaseCompressor):
    """Truncation ``(n, d) -> (n, dim) float32``; meaningful for models trained with Matryoshka loss."""

    Config = MatryoshkaConfig


    def output_dim(self, input_dim: int) -> int:
        if self.dim > input_dim:
            raise DimensionMismatchError(
                f"matryoshka keeps dim={self.dim} dimensions, but its input has only {input_dim}"
            )
        return self.dim

    def transform(self, X: Any) -> np.ndarray:
        X = as_matrix(X, name="vectors")
        self.output_dim(X.shape[1])
        out = np.ascontiguousarray(X[:, : self.dim])
        return l2_normalize(out) if self.normalize else out
